//! The keyword arguments of `scuttle.Node.start` / `scuttle.BlockingNode` as
//! [`NodeOptions`]: the options of `scuttle node`, with `path=` for `--data-dir` and
//! `config=` for `--config` (the file is read first; each keyword given overrides its key).

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use scuttle_node::{NodeOptions, Transport};

use crate::errors;

/// Every keyword a node takes, for the message about an unknown one.
const KEYWORDS: &str = "transport, listen, bootstrap, peers, id, mdns, path, cluster, resolver, \
     sorter, mtu, max_message_bytes, interval_ms, fanout, compression, max_connections, \
     member_grace_secs, api, log_level, wire, config";

/// The options the keywords say; a keyword given as None is left at its default. Bad values
/// raise `ConfigError` (a `ValueError`), values of the wrong type `TypeError`.
pub fn node_options(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<NodeOptions> {
    let Some(kwargs) = kwargs else {
        return Ok(NodeOptions::default());
    };
    let mut o = match kwargs.get_item("config")? {
        Some(path) if !path.is_none() => {
            let path: PathBuf = path.extract()?;
            NodeOptions::from_file(&path).map_err(|e| errors::from_node(py, e))?
        }
        _ => NodeOptions::default(),
    };
    for (key, value) in kwargs.iter() {
        if value.is_none() {
            continue;
        }
        let key: String = key.extract()?;
        match key.as_str() {
            "config" => {}
            "transport" => {
                o.transport = value
                    .extract::<String>()?
                    .parse()
                    .map_err(|e| errors::from_node(py, e))?;
            }
            "listen" => o.listen = str_list(&value)?,
            "bootstrap" => o.bootstrap = str_list(&value)?,
            "peers" => o.peers = str_list(&value)?,
            "id" => o.id = Some(value.extract()?),
            "mdns" => o.mdns = value.extract()?,
            "path" => o.data_dir = Some(value.extract()?),
            "cluster" => o.cluster = value.extract()?,
            "resolver" => o.resolver = value.extract()?,
            "sorter" => o.sorter = value.extract()?,
            "mtu" => o.mtu = value.extract()?,
            "max_message_bytes" => o.max_message_bytes = value.extract()?,
            "interval_ms" => o.interval_ms = value.extract()?,
            "fanout" => o.fanout = value.extract()?,
            "max_connections" => o.max_connections = value.extract()?,
            "member_grace_secs" => o.member_grace_secs = value.extract()?,
            "compression" => o.compression = value.extract()?,
            "api" => {
                let text: String = value.extract()?;
                let addr = text.parse().map_err(|e| {
                    errors::config(py, format!("api={text:?} is not HOST:PORT: {e}"))
                })?;
                o.api = Some(addr);
            }
            "log_level" => o.log_level = Some(value.extract()?),
            "wire" => o.wire = value.extract()?,
            other => {
                return Err(errors::config(
                    py,
                    format!("unknown node option {other:?} (expected one of: {KEYWORDS})"),
                ))
            }
        }
    }
    check(&o).map_err(|msg| errors::config(py, msg))?;
    // Checked here so that a bad name fails before anything starts.
    for checked in [
        o.resolver_kind().map(drop),
        o.sorter_kind().map(drop),
        o.wire_format().map(drop),
    ] {
        checked.map_err(|e| errors::from_node(py, e))?;
    }
    Ok(o)
}

/// A list of strings, or one string as a list of one (`listen="127.0.0.1:0"`).
fn str_list(value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(vec![s.to_cow()?.into_owned()]);
    }
    value.extract()
}

/// Options of one transport given to the other are a mistake worth saying (as the CLI says
/// of its flags).
fn check(o: &NodeOptions) -> Result<(), String> {
    match o.transport {
        Transport::Libp2p if o.id.is_some() => Err(
            "id= is for transport=\"tcp\"; a libp2p node's id is the peer id of its identity \
             key (kept in path=)"
                .into(),
        ),
        Transport::Libp2p if !o.peers.is_empty() => {
            Err("peers= is for transport=\"tcp\"; a libp2p node joins with bootstrap=".into())
        }
        Transport::Libp2p if o.wire != "cbor" => {
            Err("wire= json and seed-json are for transport=\"tcp\"".into())
        }
        Transport::Tcp if !o.bootstrap.is_empty() || o.mdns => {
            Err("bootstrap= and mdns= need the libp2p transport; tcp uses peers=".into())
        }
        _ => Ok(()),
    }
}
