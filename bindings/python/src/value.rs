//! Python values as CBOR: the stored value type [`Value`], conversion both ways, validation of
//! values that arrive from the wire, and the total order that makes [`Value`] `Ord` (so the
//! core's own `StrictlyOrderedValues` serves `resolve="strict"`).
//!
//! Supported Python types: `None`, `bool`, `int` (within CBOR's range, -2**64 .. 2**64-1),
//! `float`, `str`, `bytes`, `list` and `dict` (keys of the scalar types). Anything else is a
//! `TypeError`.
//!
//! Why CBOR values and not byte strings: the Python API stores typed values (`g.set("k",
//! [1, b"x"])` gives back a list holding an int and bytes), and CBOR is the core's wire form,
//! so a value costs one encoding, inside the message. `ciborium::Value` is not `Ord` (floats,
//! maps in insertion order), so [`Value`] wraps it with the order of [`cmp`].

use std::cmp::Ordering;

use ciborium::value::Integer;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use serde::{Deserialize, Deserializer, Serialize};

/// A CBOR value as the bindings store it.
type Cbor = ciborium::Value;

/// The deepest nesting of lists and dicts accepted (protects the Rust stack).
pub const MAX_DEPTH: usize = 128;

/// A stored value: a CBOR value that converts to Python, ordered by [`cmp`].
///
/// Serialized as the CBOR value itself. Deserializing refuses what Python could not hold (see
/// [`check`]), so a frame carrying such a value is malformed and changes nothing. Equality is
/// the order's (`1 == 1.0`), which only the resolvers use.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct Value(pub Cbor);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Cbor::deserialize(d)?;
        check(&value).map_err(serde::de::Error::custom)?;
        Ok(Value(value))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        cmp(&self.0, &other.0) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp(&self.0, &other.0)
    }
}

/// Converts a Python object into a stored value.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    from_py_depth(obj, 0).map(Value)
}

fn from_py_depth(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Cbor> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "value nested deeper than {MAX_DEPTH} levels"
        )));
    }
    if obj.is_none() {
        return Ok(Cbor::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Cbor::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        let big: i128 = obj
            .extract()
            .map_err(|_| PyOverflowError::new_err("int out of the CBOR range -2**64 .. 2**64-1"))?;
        let int = Integer::try_from(big)
            .map_err(|_| PyOverflowError::new_err("int out of the CBOR range -2**64 .. 2**64-1"))?;
        return Ok(Cbor::Integer(int));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Cbor::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Cbor::Text(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cbor::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        let mut out = Vec::with_capacity(list.len());
        for item in list.iter() {
            out.push(from_py_depth(&item, depth + 1)?);
        }
        return Ok(Cbor::Array(out));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut out = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let key = from_py_depth(&k, depth + 1)?;
            out.push((key, from_py_depth(&v, depth + 1)?));
        }
        return Ok(Cbor::Map(out));
    }
    Err(PyTypeError::new_err(format!(
        "unsupported value type {}: use None, bool, int, float, str, bytes, list or dict",
        obj.get_type().name()?
    )))
}

/// Converts a stored value back into the Python object it came from.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    cbor_to_py(py, &value.0)
}

fn cbor_to_py<'py>(py: Python<'py>, value: &Cbor) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Cbor::Null => py.None().into_bound(py),
        Cbor::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Cbor::Integer(i) => i128::from(*i).into_pyobject(py)?.into_any(),
        Cbor::Float(f) => PyFloat::new(py, *f).into_any(),
        Cbor::Text(s) => PyString::new(py, s).into_any(),
        Cbor::Bytes(b) => PyBytes::new(py, b).into_any(),
        Cbor::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(cbor_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Cbor::Map(entries) => {
            let dict = PyDict::new(py);
            for (k, v) in entries {
                dict.set_item(cbor_to_py(py, k)?, cbor_to_py(py, v)?)?;
            }
            dict.into_any()
        }
        _ => return Err(PyValueError::new_err("unsupported CBOR value (tag)")),
    })
}

/// Checks that a value decoded from the wire converts to Python: no CBOR tags, map keys of
/// scalar types only, bounded nesting.
pub fn check(value: &Cbor) -> Result<(), String> {
    check_depth(value, 0)
}

fn check_depth(value: &Cbor, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("value nested deeper than {MAX_DEPTH} levels"));
    }
    match value {
        Cbor::Null
        | Cbor::Bool(_)
        | Cbor::Integer(_)
        | Cbor::Float(_)
        | Cbor::Text(_)
        | Cbor::Bytes(_) => Ok(()),
        Cbor::Array(items) => items.iter().try_for_each(|v| check_depth(v, depth + 1)),
        Cbor::Map(entries) => entries.iter().try_for_each(|(k, v)| {
            if matches!(k, Cbor::Array(_) | Cbor::Map(_)) {
                return Err("map key is a list or a map (unhashable in Python)".into());
            }
            check_depth(k, depth + 1)?;
            check_depth(v, depth + 1)
        }),
        _ => Err("unsupported CBOR value (tags are not supported)".into()),
    }
}

/// Rank of a value's type in the cross-type order: None < bool < numbers < str < bytes < list
/// < dict.
fn rank(value: &Cbor) -> u8 {
    match value {
        Cbor::Null => 0,
        Cbor::Bool(_) => 1,
        Cbor::Integer(_) | Cbor::Float(_) => 2,
        Cbor::Text(_) => 3,
        Cbor::Bytes(_) => 4,
        Cbor::Array(_) => 5,
        Cbor::Map(_) => 6,
        _ => 7,
    }
}

/// A float as a point on the number line: NaNs with the sign bit clear sort above every
/// number, with it set below every number (all NaNs of one sign are equal).
#[derive(Clone, Copy)]
enum Num {
    NegNan,
    Int(i128),
    Float(f64),
    PosNan,
}

fn num(value: &Cbor) -> Num {
    match value {
        Cbor::Integer(i) => Num::Int(i128::from(*i)),
        Cbor::Float(f) if f.is_nan() => {
            if f.is_sign_negative() {
                Num::NegNan
            } else {
                Num::PosNan
            }
        }
        Cbor::Float(f) => Num::Float(*f),
        _ => Num::Int(0),
    }
}

/// Exact comparison of an integer with a finite or infinite (not NaN) float.
fn cmp_int_float(i: i128, f: f64) -> Ordering {
    // 2**127 is exactly representable; every i128 lies in [-2**127, 2**127).
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if f >= LIMIT {
        return Ordering::Less;
    }
    if f < -LIMIT {
        return Ordering::Greater;
    }
    let t = f.trunc();
    // In range and integral, so the cast is exact.
    let ti = t as i128;
    i.cmp(&ti).then_with(|| {
        let frac = f - t;
        if frac > 0.0 {
            Ordering::Less
        } else if frac < 0.0 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    })
}

fn cmp_num(a: Num, b: Num) -> Ordering {
    use Num::*;
    match (a, b) {
        (NegNan, NegNan) | (PosNan, PosNan) => Ordering::Equal,
        (NegNan, _) | (_, PosNan) => Ordering::Less,
        (_, NegNan) | (PosNan, _) => Ordering::Greater,
        (Int(x), Int(y)) => x.cmp(&y),
        (Float(x), Float(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Int(x), Float(y)) => cmp_int_float(x, y),
        (Float(x), Int(y)) => cmp_int_float(y, x).reverse(),
    }
}

/// The total (pre)order over values behind [`Value`]'s `Ord`, which the core's
/// `StrictlyOrderedValues` (`resolve="strict"`) uses.
///
/// Across types: `None < bool < int/float < str < bytes < list < dict`. Within a type, the
/// natural order: `False < True`; ints and floats numerically (exactly, so `1 == 1.0`; NaN
/// above every number, or below when its sign bit is set); str by code point; bytes
/// lexicographically; lists lexicographically by element; dicts as their `(key, value)` pairs
/// sorted, compared lexicographically. Values that compare equal are ranked by the update's
/// `(version, source_id)`, so the order on updates stays total.
pub fn cmp(a: &Cbor, b: &Cbor) -> Ordering {
    let (ra, rb) = (rank(a), rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Cbor::Bool(x), Cbor::Bool(y)) => x.cmp(y),
        (Cbor::Text(x), Cbor::Text(y)) => x.cmp(y),
        (Cbor::Bytes(x), Cbor::Bytes(y)) => x.cmp(y),
        (Cbor::Array(x), Cbor::Array(y)) => cmp_seq(x.iter(), y.iter()),
        (Cbor::Map(x), Cbor::Map(y)) => {
            let (sx, sy) = (sorted_pairs(x), sorted_pairs(y));
            for (p, q) in sx.iter().zip(sy.iter()) {
                let o = cmp(p.0, q.0).then_with(|| cmp(p.1, q.1));
                if o != Ordering::Equal {
                    return o;
                }
            }
            sx.len().cmp(&sy.len())
        }
        _ if ra == 2 => cmp_num(num(a), num(b)),
        _ => Ordering::Equal,
    }
}

fn sorted_pairs(m: &[(Cbor, Cbor)]) -> Vec<(&Cbor, &Cbor)> {
    let mut v: Vec<(&Cbor, &Cbor)> = m.iter().map(|(k, v)| (k, v)).collect();
    v.sort_by(|p, q| cmp(p.0, q.0).then_with(|| cmp(p.1, q.1)));
    v
}

fn cmp_seq<'a>(
    mut x: impl Iterator<Item = &'a Cbor>,
    mut y: impl Iterator<Item = &'a Cbor>,
) -> Ordering {
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let o = cmp(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> Cbor {
        Cbor::Integer(i.into())
    }

    #[test]
    fn numbers_compare_exactly_across_int_and_float() {
        assert_eq!(cmp(&int(1), &Cbor::Float(1.0)), Ordering::Equal);
        assert_eq!(cmp(&int(1), &Cbor::Float(1.5)), Ordering::Less);
        assert_eq!(cmp(&int(-1), &Cbor::Float(-1.5)), Ordering::Greater);
        assert_eq!(cmp(&Cbor::Float(-0.0), &Cbor::Float(0.0)), Ordering::Equal);
        let big = (1i64 << 53) + 1;
        assert_eq!(
            cmp(&int(big), &Cbor::Float((1i64 << 53) as f64)),
            Ordering::Greater
        );
        assert_eq!(
            cmp(&int(i64::MAX), &Cbor::Float(f64::INFINITY)),
            Ordering::Less
        );
        assert_eq!(cmp(&Cbor::Float(f64::NAN), &int(5)), Ordering::Greater);
        assert_eq!(cmp(&Cbor::Float(-f64::NAN), &int(5)), Ordering::Less);
        assert_eq!(cmp(&Cbor::Float(1e300), &int(i64::MAX)), Ordering::Greater);
    }

    #[test]
    fn types_rank_in_a_fixed_order() {
        let ladder = [
            Cbor::Null,
            Cbor::Bool(false),
            Cbor::Bool(true),
            int(-3),
            Cbor::Float(2.5),
            Cbor::Text("a".into()),
            Cbor::Text("b".into()),
            Cbor::Bytes(vec![0]),
            Cbor::Array(vec![]),
            Cbor::Array(vec![int(1)]),
            Cbor::Map(vec![]),
        ];
        for (i, a) in ladder.iter().enumerate() {
            for (j, b) in ladder.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a:?} vs {b:?}");
            }
        }
        // A delete (no value) ranks below every value, as `Option` orders them.
        assert!(None < Some(Value(Cbor::Null)));
    }

    #[test]
    fn maps_compare_as_sorted_pairs() {
        let m1 = Cbor::Map(vec![(int(2), int(0)), (int(1), int(0))]);
        let m2 = Cbor::Map(vec![(int(1), int(0)), (int(2), int(0))]);
        assert_eq!(cmp(&m1, &m2), Ordering::Equal);
        let m3 = Cbor::Map(vec![(int(1), int(1))]);
        assert_eq!(cmp(&m2, &m3), Ordering::Less);
    }

    #[test]
    fn strict_resolver_of_the_core_uses_this_order() {
        use scuttle_core::{Entry, NodeId, Resolver, StrictlyOrderedValues, Update};
        let current = Entry {
            value: Some(Value(int(1))),
            version: 1,
            source_id: NodeId::from("a"),
            timestamp: 0,
            signature: None,
        };
        let write = |v: Cbor| Update {
            key: "k".to_string(),
            value: Some(Value(v)),
            source_id: NodeId::from("a"),
            version: 2,
            timestamp: 0,
            signature: None,
        };
        let accept = |v: Cbor| {
            let Ok(b) = StrictlyOrderedValues.accept_local(Some(&current), &write(v));
            b
        };
        assert!(!accept(Cbor::Float(1.0)), "1.0 equals 1");
        assert!(accept(Cbor::Float(1.5)));
        assert!(accept(Cbor::Text(String::new())), "str ranks above numbers");
        assert!(!accept(Cbor::Bool(true)), "bool ranks below numbers");
    }

    #[test]
    fn deserializing_refuses_what_python_cannot_hold() {
        let mut tagged = Vec::new();
        ciborium::into_writer(
            &Cbor::Tag(1000, Box::new(Cbor::Bytes(vec![1]))),
            &mut tagged,
        )
        .expect("encodes");
        assert!(ciborium::from_reader::<Value, _>(&tagged[..]).is_err());
        let mut plain = Vec::new();
        ciborium::into_writer(&Cbor::Array(vec![int(1)]), &mut plain).expect("encodes");
        let got: Value = ciborium::from_reader(&plain[..]).expect("decodes");
        assert_eq!(got, Value(Cbor::Array(vec![Cbor::Float(1.0)])));
    }

    #[test]
    fn check_refuses_tags_and_unhashable_keys() {
        assert!(check(&Cbor::Tag(2, Box::new(Cbor::Bytes(vec![1])))).is_err());
        assert!(check(&Cbor::Map(vec![(Cbor::Array(vec![]), int(1))])).is_err());
        assert!(check(&Cbor::Map(vec![(int(1), Cbor::Array(vec![]))])).is_ok());
        let mut deep = Cbor::Null;
        for _ in 0..=MAX_DEPTH + 1 {
            deep = Cbor::Array(vec![deep]);
        }
        assert!(check(&deep).is_err());
    }
}
