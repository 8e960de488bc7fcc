//! The CBOR size of the common key and value types, without encoding them.
//!
//! `wire::cbor_len` is asked for the size of every key and value that news considers, and of
//! every write. For strings, byte strings, integers, booleans and sequences of those, this
//! serializer adds up the sizes ciborium would write; for anything else it gives up
//! ([`Unsupported`]) and the caller counts ciborium's real output instead, so the result is
//! always exact. A test checks it against ciborium.

use serde::ser::{self, Impossible, Serialize, Serializer};

use crate::wire::{int_len, uint_len};

/// A type this fast path does not size; the caller falls back to encoding.
#[derive(Debug)]
pub(crate) struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not sized by the fast path")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

/// The size of `value` in CBOR, when the fast path knows its type.
pub(crate) fn fast_len<T: Serialize + ?Sized>(value: &T) -> Option<usize> {
    value.serialize(Len).ok()
}

struct Len;

/// A sequence of known length: its head, then its elements.
pub(crate) struct Seq(usize);

impl ser::SerializeSeq for Seq {
    type Ok = usize;
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.0 += value.serialize(Len)?;
        Ok(())
    }

    fn end(self) -> Result<usize, Unsupported> {
        Ok(self.0)
    }
}

impl Serializer for Len {
    type Ok = usize;
    type Error = Unsupported;
    type SerializeSeq = Seq;
    type SerializeTuple = Impossible<usize, Unsupported>;
    type SerializeTupleStruct = Impossible<usize, Unsupported>;
    type SerializeTupleVariant = Impossible<usize, Unsupported>;
    type SerializeMap = Impossible<usize, Unsupported>;
    type SerializeStruct = Impossible<usize, Unsupported>;
    type SerializeStructVariant = Impossible<usize, Unsupported>;

    fn serialize_bool(self, _: bool) -> Result<usize, Unsupported> {
        Ok(1)
    }
    fn serialize_i8(self, v: i8) -> Result<usize, Unsupported> {
        Ok(int_len(i128::from(v)))
    }
    fn serialize_i16(self, v: i16) -> Result<usize, Unsupported> {
        Ok(int_len(i128::from(v)))
    }
    fn serialize_i32(self, v: i32) -> Result<usize, Unsupported> {
        Ok(int_len(i128::from(v)))
    }
    fn serialize_i64(self, v: i64) -> Result<usize, Unsupported> {
        Ok(int_len(i128::from(v)))
    }
    fn serialize_u8(self, v: u8) -> Result<usize, Unsupported> {
        Ok(uint_len(u64::from(v)))
    }
    fn serialize_u16(self, v: u16) -> Result<usize, Unsupported> {
        Ok(uint_len(u64::from(v)))
    }
    fn serialize_u32(self, v: u32) -> Result<usize, Unsupported> {
        Ok(uint_len(u64::from(v)))
    }
    fn serialize_u64(self, v: u64) -> Result<usize, Unsupported> {
        Ok(uint_len(v))
    }
    fn serialize_f32(self, _: f32) -> Result<usize, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result<usize, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_char(self, v: char) -> Result<usize, Unsupported> {
        Ok(1 + v.len_utf8())
    }
    fn serialize_str(self, v: &str) -> Result<usize, Unsupported> {
        Ok(uint_len(v.len() as u64) + v.len())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<usize, Unsupported> {
        Ok(uint_len(v.len() as u64) + v.len())
    }
    fn serialize_none(self) -> Result<usize, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<usize, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Result<usize, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<usize, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<usize, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<usize, Unsupported> {
        // ciborium gives some newtype names a meaning of its own (tags): let it size them.
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<usize, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq, Unsupported> {
        // Only definite lengths: ciborium writes an indefinite sequence otherwise.
        len.map(|n| Seq(uint_len(n as u64))).ok_or(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::fast_len;

    fn ciborium_len<T: serde::Serialize>(v: &T) -> usize {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).expect("encodes");
        out.len()
    }

    proptest! {
        #[test]
        fn strings_bytes_and_ints_match_ciborium(
            s in ".{0,300}",
            b in prop::collection::vec(any::<u8>(), 0..300),
            u in any::<u64>(),
            i in any::<i64>(),
            c in any::<char>(),
        ) {
            prop_assert_eq!(fast_len(&s), Some(ciborium_len(&s)));
            prop_assert_eq!(fast_len(&b), Some(ciborium_len(&b)));
            prop_assert_eq!(fast_len(&serde_bytes_like(&b)), Some(ciborium_len(&serde_bytes_like(&b))));
            prop_assert_eq!(fast_len(&u), Some(ciborium_len(&u)));
            prop_assert_eq!(fast_len(&i), Some(ciborium_len(&i)));
            prop_assert_eq!(fast_len(&c), Some(ciborium_len(&c)));
            prop_assert_eq!(fast_len(&vec![s.clone(), s.clone()]), Some(ciborium_len(&vec![s.clone(), s])));
        }
    }

    /// A value that serializes as a CBOR byte string.
    struct Bytes<'a>(&'a [u8]);

    impl serde::Serialize for Bytes<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    fn serde_bytes_like(b: &[u8]) -> Bytes<'_> {
        Bytes(b)
    }

    #[test]
    fn other_types_fall_back() {
        assert_eq!(fast_len(&1.5f64), None);
        assert_eq!(fast_len(&Some(1u8)), None);
        assert_eq!(fast_len(&std::collections::BTreeMap::<u8, u8>::new()), None);
    }
}
