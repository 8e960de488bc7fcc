//! How keys and entries are laid out in the file: compact CBOR (the same serde types as the
//! wire), so a store holds whatever `K` and `V` a node holds.

use serde::de::DeserializeOwned;
use serde::Serialize;

use scuttle_core::{Entry, Millis, NodeId, Version};

use crate::error::StoreFailure;

pub(crate) fn encode<T: Serialize + ?Sized>(t: &T) -> Result<Vec<u8>, StoreFailure> {
    let mut out = Vec::new();
    ciborium::into_writer(t, &mut out).map_err(|e| StoreFailure::Encode(e.to_string()))?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreFailure> {
    ciborium::from_reader(bytes).map_err(|e| StoreFailure::Decode(e.to_string()))
}

pub(crate) fn encode_entry<V: Serialize>(
    value: &Option<V>,
    version: Version,
    source: &NodeId,
    timestamp: Millis,
) -> Result<Vec<u8>, StoreFailure> {
    // Positional (a CBOR array): the key lives in the table's key.
    encode(&(value, version, source.as_str(), timestamp))
}

pub(crate) fn decode_entry<V: DeserializeOwned>(bytes: &[u8]) -> Result<Entry<V>, StoreFailure> {
    let (value, version, source, timestamp): (Option<V>, Version, String, Millis) = decode(bytes)?;
    Ok(Entry {
        value,
        version,
        source_id: NodeId::from(source),
        timestamp,
    })
}
