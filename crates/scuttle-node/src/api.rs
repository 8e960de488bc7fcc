//! The operator API: HTTP/JSON on axum (tokio's own HTTP framework, on hyper).
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /v1/keys/{key}` | 200 and the entry; 404 when the key is not set or deleted |
//! | `PUT /v1/keys/{key}` | the body (UTF-8) is the value; 200 `{key, version}`; 409 when refused |
//! | `DELETE /v1/keys/{key}` | 200 `{key, version}` (a tombstone) |
//! | `GET /v1/state` | `{version, entries: [...]}`: every live key, sorted |
//! | `GET /v1/members` | every member this node knows of, with its liveness |
//! | `GET /v1/status` | id, transport, cluster, listen addresses, counts |
//! | `GET /metrics` | Prometheus text |
//!
//! Errors are `{"error": "..."}`. Keys may contain `/`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::NodeError;
use crate::handle::NodeHandle;
use crate::metrics::Metrics;

#[derive(Clone)]
struct Api {
    node: NodeHandle,
    metrics: Arc<Metrics>,
}

/// The API's routes over `node`.
pub fn router(node: NodeHandle, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(
            "/v1/keys/{*key}",
            get(get_key).put(put_key).delete(delete_key),
        )
        .route("/v1/state", get(state))
        .route("/v1/members", get(members))
        .route("/v1/status", get(status))
        .route("/metrics", get(metrics_text))
        .with_state(Api { node, metrics })
}

/// Binds `addr` and serves the API on a task; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    node: NodeHandle,
    metrics: Arc<Metrics>,
) -> Result<(SocketAddr, JoinHandle<()>), NodeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| NodeError::Options(format!("cannot serve the API on {addr}: {e}")))?;
    let bound = listener.local_addr()?;
    let app = router(node, metrics);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "API server stopped");
        }
    });
    tracing::info!(addr = %bound, "API listening");
    Ok((bound, task))
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

fn failed(e: NodeError) -> Response {
    match e {
        NodeError::Refused(why) => error(StatusCode::CONFLICT, format!("refused: {why}")),
        other => error(StatusCode::SERVICE_UNAVAILABLE, other),
    }
}

async fn get_key(State(api): State<Api>, Path(key): Path<String>) -> Response {
    match api.node.get(key).await {
        Ok(Some(entry)) if entry.value.is_some() => Json(entry).into_response(),
        Ok(Some(entry)) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "key deleted", "entry": entry })),
        )
            .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "key not set"),
        Err(e) => failed(e),
    }
}

async fn put_key(State(api): State<Api>, Path(key): Path<String>, body: String) -> Response {
    match api.node.set(key.clone(), body).await {
        Ok(version) => Json(json!({ "key": key, "version": version })).into_response(),
        Err(e) => failed(e),
    }
}

async fn delete_key(State(api): State<Api>, Path(key): Path<String>) -> Response {
    match api.node.delete(key.clone()).await {
        Ok(version) => Json(json!({ "key": key, "version": version })).into_response(),
        Err(e) => failed(e),
    }
}

async fn state(State(api): State<Api>) -> Response {
    let status = match api.node.status().await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    match api.node.state().await {
        Ok(entries) => {
            let live: Vec<_> = entries.into_iter().filter(|e| e.value.is_some()).collect();
            Json(json!({ "version": status.version, "entries": live })).into_response()
        }
        Err(e) => failed(e),
    }
}

async fn members(State(api): State<Api>) -> Response {
    match api.node.members().await {
        Ok(members) => Json(members).into_response(),
        Err(e) => failed(e),
    }
}

async fn status(State(api): State<Api>) -> Response {
    match api.node.status().await {
        Ok(status) => Json(status).into_response(),
        Err(e) => failed(e),
    }
}

async fn metrics_text(State(api): State<Api>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        api.metrics.render(),
    )
        .into_response()
}
