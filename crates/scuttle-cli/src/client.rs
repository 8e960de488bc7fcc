//! `scuttle get|set|del|state|members`: the CLI as a client of a node's HTTP API (`scuttle
//! node --api ADDR`), over a plain blocking HTTP client (ureq, no TLS: the API is meant for
//! loopback or a trusted network).

use std::net::SocketAddr;

use serde_json::Value;

/// Where the API is unless `--api` says (also `SCUTTLE_API`).
pub const DEFAULT_API: &str = "127.0.0.1:7480";

/// Options every client subcommand takes.
#[derive(Clone, Debug, clap::Args)]
pub struct ClientArgs {
    /// The node's API address (`scuttle node --api ADDR`).
    #[arg(long, env = "SCUTTLE_API", default_value = DEFAULT_API)]
    pub api: SocketAddr,
    /// Print the API's JSON answer as it is.
    #[arg(long)]
    pub json: bool,
}

/// A client request.
#[derive(Clone, Debug)]
pub enum Request {
    /// `GET /v1/keys/{key}`.
    Get(String),
    /// `PUT /v1/keys/{key}`.
    Set(String, String),
    /// `DELETE /v1/keys/{key}`.
    Del(String),
    /// `GET /v1/state`.
    State,
    /// `GET /v1/members`.
    Members,
}

/// `key` with the characters a path segment cannot hold percent-encoded (`/` stays: the
/// API's key route takes the rest of the path).
fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Runs one request and prints its answer; an error for a failed request or a non-2xx answer
/// (a missing key included, so scripts can test the exit code).
pub fn run(args: &ClientArgs, request: Request) -> Result<(), Box<dyn std::error::Error>> {
    let base = format!("http://{}", args.api);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    let unreachable = |e: ureq::Error| format!("cannot reach the node's API at {base}: {e}");
    let mut response = match &request {
        Request::Get(k) => agent
            .get(&format!("{base}/v1/keys/{}", encode_key(k)))
            .call(),
        Request::Set(k, v) => agent
            .put(&format!("{base}/v1/keys/{}", encode_key(k)))
            .send(v.as_bytes()),
        Request::Del(k) => agent
            .delete(&format!("{base}/v1/keys/{}", encode_key(k)))
            .call(),
        Request::State => agent.get(&format!("{base}/v1/state")).call(),
        Request::Members => agent.get(&format!("{base}/v1/members")).call(),
    }
    .map_err(unreachable)?;
    let status = response.status();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("bad answer from {base}: {e}"))?;
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::String(body.clone()));
    if args.json {
        println!("{}", json);
    } else {
        println!("{}", human(&request, status.as_u16(), &json));
    }
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the node answered {status}").into())
    }
}

/// The answer as a person reads it (the REPL's wording).
fn human(request: &Request, status: u16, json: &Value) -> String {
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    if !(200..300).contains(&status) {
        if let Some(entry) = json.get("entry") {
            return format!("(deleted by {})", str_of(entry, "source_id"));
        }
        if matches!(request, Request::Get(_)) && status == 404 {
            return "(not set)".into();
        }
        return str_of(json, "error");
    }
    match request {
        Request::Get(_) => str_of(json, "value"),
        Request::Set(..) => format!("ok (version {})", num(json, "version")),
        Request::Del(_) => format!("deleted (version {})", num(json, "version")),
        Request::State => {
            let entries: Vec<scuttle_node::EntryView> = json
                .get("entries")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|e| scuttle_node::EntryView {
                            key: str_of(e, "key"),
                            value: e.get("value").and_then(Value::as_str).map(str::to_string),
                            version: num(e, "version"),
                            source_id: str_of(e, "source_id"),
                            timestamp: num(e, "timestamp"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            crate::node::state_text(num(json, "version"), &entries)
        }
        Request::Members => {
            let members = json.as_array().cloned().unwrap_or_default();
            if members.is_empty() {
                return "no members known".into();
            }
            let lines: Vec<String> = members
                .iter()
                .map(|m| {
                    let connected = m.get("connected").and_then(Value::as_bool) == Some(true);
                    let addrs: Vec<&str> = m
                        .get("addrs")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    format!(
                        "{}  {}{}  {}",
                        str_of(m, "id"),
                        str_of(m, "state"),
                        if connected { ", connected" } else { "" },
                        addrs.join(" ")
                    )
                })
                .collect();
            lines.join("\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_encoded_for_the_path() {
        assert_eq!(encode_key("a/b c%"), "a/b%20c%25");
    }

    #[test]
    fn answers_read_like_the_repl() {
        let get = Request::Get("k".into());
        assert_eq!(human(&get, 200, &json!({"value": "v"})), "v");
        assert_eq!(
            human(&get, 404, &json!({"error": "key not set"})),
            "(not set)"
        );
        assert_eq!(
            human(
                &get,
                404,
                &json!({"error": "key deleted", "entry": {"source_id": "a"}})
            ),
            "(deleted by a)"
        );
        let set = Request::Set("k".into(), "v".into());
        assert_eq!(human(&set, 200, &json!({"version": 4})), "ok (version 4)");
        assert_eq!(
            human(&set, 409, &json!({"error": "refused: no"})),
            "refused: no"
        );
        let state = json!({"version": 2, "entries": [
            {"key": "a", "value": "1", "version": 2, "source_id": "x", "timestamp": 0}
        ]});
        assert_eq!(
            human(&Request::State, 200, &state),
            "1 keys, version 2\n  a = 1  (v2 by x)"
        );
        let members = json!([{"id": "p", "state": "alive", "connected": true, "addrs": ["/ip4/1.2.3.4/tcp/1"]}]);
        assert_eq!(
            human(&Request::Members, 200, &members),
            "p  alive, connected  /ip4/1.2.3.4/tcp/1"
        );
    }
}
