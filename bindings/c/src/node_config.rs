//! `ScuttleNodeConfig`: how C describes a networked node, turned into the
//! [`scuttle_node::NodeOptions`] that `scuttle node` takes (one struct for both, so the C node
//! is the CLI's node).

use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::ptr;

use scuttle_node::{NodeOptions, Transport};

use crate::error::{ffi_call, Failure, ScuttleStatus};

/// Which transport a networked node speaks (`ScuttleNodeConfig.transport`).
pub type ScuttleTransportKind = u32;

/// Not set: libp2p, unless `ScuttleNodeConfig.toml` names a transport.
pub const SCUTTLE_TRANSPORT_DEFAULT: ScuttleTransportKind = 0;
/// rust-libp2p: TCP and QUIC, noise encryption, yamux; SWIM membership; peers found through
/// `bootstrap` addresses and the cluster. Nodes are named by the peer id of their key.
pub const SCUTTLE_TRANSPORT_LIBP2P: ScuttleTransportKind = 1;
/// Plain TCP (`scuttle-tokio`): no encryption, no membership, only the `peers` given. Nodes
/// are named by `id`.
pub const SCUTTLE_TRANSPORT_TCP: ScuttleTransportKind = 2;

/// The layout version of `ScuttleNodeConfig` this library reads; `scuttle_node_config_default()`
/// writes it into `ScuttleNodeConfig.version`. Fields are only ever added at the end; any
/// other version is refused with `SCUTTLE_STATUS_INVALID_CONFIG`.
pub const SCUTTLE_NODE_CONFIG_VERSION: u32 = 1;

/// The configuration of a networked node (`scuttle_node_start()`): the options of
/// `scuttle node`. Fill it with `scuttle_node_config_default()`, then set what you need.
///
/// Every field left NULL / 0 takes its default, or the value `toml` gives it; a field that is
/// set wins over the same key in `toml`. Strings are NUL-terminated UTF-8 and borrowed for the
/// duration of `scuttle_node_start()` only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ScuttleNodeConfig {
    /// `SCUTTLE_NODE_CONFIG_VERSION`, written by `scuttle_node_config_default()`; leave it.
    pub version: u32,
    /// A `SCUTTLE_TRANSPORT_*` constant. Default libp2p.
    pub transport: ScuttleTransportKind,
    /// TCP transport: this node's id. NULL: `node-PORT` after its listen port. libp2p nodes
    /// are named by the peer id of their key, so an id with libp2p is refused.
    pub id: *const c_char,
    /// Addresses to listen on, `listen_len` strings. libp2p: multiaddrs, or `HOST:PORT` for
    /// TCP and QUIC on it; TCP: one `HOST:PORT`. Port 0 picks a free port (read the result
    /// with `scuttle_node_listen_addrs()`). Default `127.0.0.1:7400`.
    pub listen: *const *const c_char,
    /// Number of strings in `listen`.
    pub listen_len: usize,
    /// libp2p: addresses to join the cluster through (multiaddrs or `HOST:PORT`).
    pub bootstrap: *const *const c_char,
    /// Number of strings in `bootstrap`.
    pub bootstrap_len: usize,
    /// TCP: peers to keep a connection to (`HOST:PORT`).
    pub peers: *const *const c_char,
    /// Number of strings in `peers`.
    pub peers_len: usize,
    /// Where the node keeps its files (the libp2p identity key, its data). NULL: nothing is
    /// kept, and a libp2p node makes a new identity at every start.
    pub data_dir: *const c_char,
    /// The cluster's name; libp2p nodes of another cluster are refused. NULL: `default`.
    pub cluster: *const c_char,
    /// Milliseconds between gossip rounds (and membership probes). 0: 1000.
    pub interval_ms: u64,
    /// Serve the HTTP/JSON API and `/metrics` on this `HOST:PORT`. NULL: no API.
    pub api: *const c_char,
    /// Every other option of `scuttle node`, as the TOML text of its config file
    /// (`resolver = "strict"`, `fanout = 2`, `compression = true`, `mdns = true`, ...; the
    /// table "Options" of docs/operations.md). Unknown keys are refused. NULL: none.
    pub toml: *const c_char,
}

impl Default for ScuttleNodeConfig {
    fn default() -> Self {
        ScuttleNodeConfig {
            version: SCUTTLE_NODE_CONFIG_VERSION,
            transport: SCUTTLE_TRANSPORT_DEFAULT,
            id: ptr::null(),
            listen: ptr::null(),
            listen_len: 0,
            bootstrap: ptr::null(),
            bootstrap_len: 0,
            peers: ptr::null(),
            peers_len: 0,
            data_dir: ptr::null(),
            cluster: ptr::null(),
            interval_ms: 0,
            api: ptr::null(),
            toml: ptr::null(),
        }
    }
}

/// Fills `*out` with the default node configuration: every field unset, `version` set.
///
/// \param out Where to write the configuration.
/// \return `SCUTTLE_STATUS_OK`, or `SCUTTLE_STATUS_INVALID_ARGUMENT` if `out` is NULL.
///
/// # Safety
/// `out` must be NULL or point to writable memory for one `ScuttleNodeConfig`.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_config_default(out: *mut ScuttleNodeConfig) -> ScuttleStatus {
    ffi_call(|| {
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        // SAFETY: checked non-NULL; the caller guarantees it is writable.
        unsafe { out.write(ScuttleNodeConfig::default()) };
        Ok(())
    })
}

fn invalid_config(message: impl Into<String>) -> Failure {
    Failure::new(ScuttleStatus::InvalidConfig, message)
}

/// A NUL-terminated UTF-8 string field; NULL is `None`.
///
/// # Safety
/// `text` must be NULL or a NUL-terminated string.
unsafe fn text_field(text: *const c_char, name: &str) -> Result<Option<String>, Failure> {
    if text.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; the caller guarantees it is NUL-terminated.
    let bytes = unsafe { CStr::from_ptr(text) }.to_bytes();
    let text = std::str::from_utf8(bytes)
        .map_err(|e| invalid_config(format!("{name} is not UTF-8: {e}")))?;
    Ok(Some(text.to_owned()))
}

/// An array-of-strings field; `(NULL, 0)` is `None` (not set).
///
/// # Safety
/// `items` must be NULL or point to `len` pointers, each NULL or NUL-terminated.
unsafe fn list_field(
    items: *const *const c_char,
    len: usize,
    name: &str,
) -> Result<Option<Vec<String>>, Failure> {
    if len == 0 {
        return Ok(None);
    }
    if items.is_null() {
        return Err(Failure::invalid(format!(
            "{name} is NULL but {name}_len is {len}"
        )));
    }
    if len > isize::MAX as usize / std::mem::size_of::<*const c_char>() {
        return Err(Failure::invalid(format!("{name}_len {len} is too large")));
    }
    // SAFETY: non-NULL, length checked; the caller guarantees `len` readable pointers.
    let items = unsafe { std::slice::from_raw_parts(items, len) };
    items
        .iter()
        .enumerate()
        .map(|(i, &item)| {
            let item_name = format!("{name}[{i}]");
            // SAFETY: the caller guarantees each pointer is NULL or NUL-terminated.
            unsafe { text_field(item, &item_name) }?
                .ok_or_else(|| Failure::invalid(format!("{item_name} is NULL")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The node options the caller's configuration describes (NULL: the defaults).
///
/// # Safety
/// `config` must be NULL or point to a readable `ScuttleNodeConfig` whose pointers follow the
/// field docs.
pub(crate) unsafe fn node_options(
    config: *const ScuttleNodeConfig,
) -> Result<NodeOptions, Failure> {
    if config.is_null() {
        return Ok(NodeOptions::default());
    }
    // SAFETY: every layout starts with the `u32` version; the caller guarantees it is readable.
    let version = unsafe { config.cast::<u32>().read() };
    if version != SCUTTLE_NODE_CONFIG_VERSION {
        return Err(invalid_config(format!(
            "ScuttleNodeConfig version {version}, but this library reads version \
             {SCUTTLE_NODE_CONFIG_VERSION} (fill the config with scuttle_node_config_default())"
        )));
    }
    // SAFETY: the caller's struct is of this layout.
    let c = unsafe { config.read() };
    // SAFETY (all field reads below): the caller guarantees the pointers follow the docs.
    let toml = unsafe { text_field(c.toml, "toml") }?.unwrap_or_default();
    let mut options = NodeOptions::from_toml(&toml).map_err(|e| invalid_config(e.to_string()))?;
    match c.transport {
        SCUTTLE_TRANSPORT_DEFAULT => {}
        SCUTTLE_TRANSPORT_LIBP2P => options.transport = Transport::Libp2p,
        SCUTTLE_TRANSPORT_TCP => options.transport = Transport::Tcp,
        other => {
            return Err(invalid_config(format!(
                "unknown transport {other} (expected SCUTTLE_TRANSPORT_LIBP2P or \
                 SCUTTLE_TRANSPORT_TCP)"
            )))
        }
    }
    if let Some(id) = unsafe { text_field(c.id, "id") }? {
        options.id = Some(id);
    }
    if let Some(listen) = unsafe { list_field(c.listen, c.listen_len, "listen") }? {
        options.listen = listen;
    }
    if let Some(bootstrap) = unsafe { list_field(c.bootstrap, c.bootstrap_len, "bootstrap") }? {
        options.bootstrap = bootstrap;
    }
    if let Some(peers) = unsafe { list_field(c.peers, c.peers_len, "peers") }? {
        options.peers = peers;
    }
    if let Some(dir) = unsafe { text_field(c.data_dir, "data_dir") }? {
        options.data_dir = Some(PathBuf::from(dir));
    }
    if let Some(cluster) = unsafe { text_field(c.cluster, "cluster") }? {
        options.cluster = cluster;
    }
    if c.interval_ms != 0 {
        options.interval_ms = c.interval_ms;
    }
    if let Some(api) = unsafe { text_field(c.api, "api") }? {
        let addr = api
            .parse()
            .map_err(|e| invalid_config(format!("bad api address `{api}` (HOST:PORT): {e}")))?;
        options.api = Some(addr);
    }
    if options.transport == Transport::Libp2p && options.id.is_some() {
        return Err(invalid_config(
            "id is for the TCP transport: a libp2p node is named by its key's peer id",
        ));
    }
    Ok(options)
}
