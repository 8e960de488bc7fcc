//! How keys and entries are laid out in the file: compact CBOR (the same serde types as the
//! wire), so a store holds whatever `K` and `V` a node holds.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use scuttle_core::signing::Signature;
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
    signature: Option<&Signature>,
) -> Result<Vec<u8>, StoreFailure> {
    // Positional (a CBOR array): the key lives in the table's key. A signed entry has its
    // signature fifth; an unsigned one is written as before signatures existed.
    match signature {
        None => encode(&(value, version, source.as_str(), timestamp)),
        Some(signature) => encode(&(value, version, source.as_str(), timestamp, signature)),
    }
}

pub(crate) fn decode_entry<V: DeserializeOwned>(bytes: &[u8]) -> Result<Entry<V>, StoreFailure> {
    let EntryRecord(entry) = decode(bytes)?;
    Ok(entry)
}

/// An entry as the file holds it: `[value, version, source, timestamp, signature?]`.
struct EntryRecord<V>(Entry<V>);

impl<'de, V: DeserializeOwned> Deserialize<'de> for EntryRecord<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Record<V>(PhantomData<V>);
        impl<'de, V: DeserializeOwned> Visitor<'de> for Record<V> {
            type Value = EntryRecord<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an entry [value, version, source, timestamp, signature?]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = |what| de::Error::custom(format_args!("entry without {what}"));
                let value = seq.next_element()?.ok_or_else(|| missing("value"))?;
                let version = seq.next_element()?.ok_or_else(|| missing("version"))?;
                let source: String = seq.next_element()?.ok_or_else(|| missing("source"))?;
                let timestamp = seq.next_element()?.ok_or_else(|| missing("timestamp"))?;
                let signature = seq.next_element()?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("entry with extra fields"));
                }
                Ok(EntryRecord(Entry {
                    value,
                    version,
                    source_id: NodeId::from(source),
                    timestamp,
                    signature,
                }))
            }
        }
        d.deserialize_seq(Record(PhantomData))
    }
}
