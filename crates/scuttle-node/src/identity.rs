//! The node's libp2p identity key, kept in the data dir so that a restarted node keeps its
//! peer id (and so its node id: the source id of its writes).

use std::path::{Path, PathBuf};

use libp2p::identity::Keypair;

use crate::error::NodeError;

/// The key file's name inside the data dir.
pub const KEY_FILE: &str = "identity.key";

/// The path of the identity key in `data_dir`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// Loads the Ed25519 key of `data_dir`, or makes one and saves it there (protobuf encoding,
/// mode 0600 on Unix). Without a data dir, a fresh key that lives as long as the process.
pub fn load_or_create(data_dir: Option<&Path>) -> Result<Keypair, NodeError> {
    let Some(dir) = data_dir else {
        return Ok(Keypair::generate_ed25519());
    };
    let path = key_path(dir);
    let fail = |reason: String| NodeError::Identity {
        path: path.clone(),
        reason,
    };
    match std::fs::read(&path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes).map_err(|e| {
            fail(format!(
                "not a libp2p private key ({e}); remove it for a new identity"
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create the data dir: {e}")))?;
            let key = Keypair::generate_ed25519();
            let bytes = key
                .to_protobuf_encoding()
                .map_err(|e| fail(format!("cannot encode: {e}")))?;
            write_private(&path, &bytes).map_err(|e| fail(format!("cannot write: {e}")))?;
            Ok(key)
        }
        Err(e) => Err(fail(format!("cannot read: {e}"))),
    }
}

/// Writes `bytes` to a new file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(Some(dir.path())).unwrap();
        let second = load_or_create(Some(dir.path())).unwrap();
        assert_eq!(first.public().to_peer_id(), second.public().to_peer_id());
        let third = load_or_create(None).unwrap();
        assert_ne!(first.public().to_peer_id(), third.public().to_peer_id());
    }

    #[test]
    fn a_broken_key_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(key_path(dir.path()), b"garbage").unwrap();
        let e = load_or_create(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("identity.key"), "{e}");
        assert_eq!(std::fs::read(key_path(dir.path())).unwrap(), b"garbage");
    }
}
