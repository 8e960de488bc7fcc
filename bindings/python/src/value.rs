//! Python values as CBOR ([`ciborium::Value`]): conversion both ways, validation of values
//! that arrive from the wire, and the total order used by the `"strict"` resolver.
//!
//! Supported Python types: `None`, `bool`, `int` (within CBOR's range, -2**64 .. 2**64-1),
//! `float`, `str`, `bytes`, `list` and `dict` (keys of the scalar types). Anything else is a
//! `TypeError`.

use std::cmp::Ordering;

use ciborium::value::Integer;
use ciborium::Value;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};

/// The deepest nesting of lists and dicts accepted (protects the Rust stack).
pub const MAX_DEPTH: usize = 128;

/// Converts a Python object into a stored value.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    from_py_depth(obj, 0)
}

fn from_py_depth(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "value nested deeper than {MAX_DEPTH} levels"
        )));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        let big: i128 = obj
            .extract()
            .map_err(|_| PyOverflowError::new_err("int out of the CBOR range -2**64 .. 2**64-1"))?;
        let int = Integer::try_from(big)
            .map_err(|_| PyOverflowError::new_err("int out of the CBOR range -2**64 .. 2**64-1"))?;
        return Ok(Value::Integer(int));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Text(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        let mut out = Vec::with_capacity(list.len());
        for item in list.iter() {
            out.push(from_py_depth(&item, depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut out = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let key = from_py_depth(&k, depth + 1)?;
            out.push((key, from_py_depth(&v, depth + 1)?));
        }
        return Ok(Value::Map(out));
    }
    Err(PyTypeError::new_err(format!(
        "unsupported value type {}: use None, bool, int, float, str, bytes, list or dict",
        obj.get_type().name()?
    )))
}

/// Converts a stored value back into the Python object it came from.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Integer(i) => i128::from(*i).into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Map(entries) => {
            let dict = PyDict::new(py);
            for (k, v) in entries {
                dict.set_item(to_py(py, k)?, to_py(py, v)?)?;
            }
            dict.into_any()
        }
        _ => return Err(PyValueError::new_err("unsupported CBOR value (tag)")),
    })
}

/// Checks that a value decoded from the wire converts to Python: no CBOR tags, map keys of
/// scalar types only, bounded nesting.
pub fn check(value: &Value) -> Result<(), String> {
    check_depth(value, 0)
}

fn check_depth(value: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("value nested deeper than {MAX_DEPTH} levels"));
    }
    match value {
        Value::Null
        | Value::Bool(_)
        | Value::Integer(_)
        | Value::Float(_)
        | Value::Text(_)
        | Value::Bytes(_) => Ok(()),
        Value::Array(items) => items.iter().try_for_each(|v| check_depth(v, depth + 1)),
        Value::Map(entries) => entries.iter().try_for_each(|(k, v)| {
            if matches!(k, Value::Array(_) | Value::Map(_)) {
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
fn rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Integer(_) | Value::Float(_) => 2,
        Value::Text(_) => 3,
        Value::Bytes(_) => 4,
        Value::Array(_) => 5,
        Value::Map(_) => 6,
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

fn num(value: &Value) -> Num {
    match value {
        Value::Integer(i) => Num::Int(i128::from(*i)),
        Value::Float(f) if f.is_nan() => {
            if f.is_sign_negative() {
                Num::NegNan
            } else {
                Num::PosNan
            }
        }
        Value::Float(f) => Num::Float(*f),
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

/// The total (pre)order over values used by the `"strict"` resolver.
///
/// Across types: `None < bool < int/float < str < bytes < list < dict`. Within a type, the
/// natural order: `False < True`; ints and floats numerically (exactly, so `1 == 1.0`; NaN
/// above every number, or below when its sign bit is set); str by code point; bytes
/// lexicographically; lists lexicographically by element; dicts as their `(key, value)` pairs
/// sorted, compared lexicographically. Values that compare equal are ranked by the update's
/// `(version, source_id)`, so the order on updates stays total.
pub fn cmp(a: &Value, b: &Value) -> Ordering {
    let (ra, rb) = (rank(a), rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Bytes(x), Value::Bytes(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => cmp_seq(x.iter(), y.iter()),
        (Value::Map(x), Value::Map(y)) => {
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

fn sorted_pairs(m: &[(Value, Value)]) -> Vec<(&Value, &Value)> {
    let mut v: Vec<(&Value, &Value)> = m.iter().map(|(k, v)| (k, v)).collect();
    v.sort_by(|p, q| cmp(p.0, q.0).then_with(|| cmp(p.1, q.1)));
    v
}

fn cmp_seq<'a>(
    mut x: impl Iterator<Item = &'a Value>,
    mut y: impl Iterator<Item = &'a Value>,
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

/// Compares two optional values (a delete, `None`, ranks below every value).
pub fn cmp_opt(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => cmp(x, y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> Value {
        Value::Integer(i.into())
    }

    #[test]
    fn numbers_compare_exactly_across_int_and_float() {
        assert_eq!(cmp(&int(1), &Value::Float(1.0)), Ordering::Equal);
        assert_eq!(cmp(&int(1), &Value::Float(1.5)), Ordering::Less);
        assert_eq!(cmp(&int(-1), &Value::Float(-1.5)), Ordering::Greater);
        assert_eq!(
            cmp(&Value::Float(-0.0), &Value::Float(0.0)),
            Ordering::Equal
        );
        let big = (1i64 << 53) + 1;
        assert_eq!(
            cmp(&int(big), &Value::Float((1i64 << 53) as f64)),
            Ordering::Greater
        );
        assert_eq!(
            cmp(&int(i64::MAX), &Value::Float(f64::INFINITY)),
            Ordering::Less
        );
        assert_eq!(cmp(&Value::Float(f64::NAN), &int(5)), Ordering::Greater);
        assert_eq!(cmp(&Value::Float(-f64::NAN), &int(5)), Ordering::Less);
        assert_eq!(cmp(&Value::Float(1e300), &int(i64::MAX)), Ordering::Greater);
    }

    #[test]
    fn types_rank_in_a_fixed_order() {
        let ladder = [
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            int(-3),
            Value::Float(2.5),
            Value::Text("a".into()),
            Value::Text("b".into()),
            Value::Bytes(vec![0]),
            Value::Array(vec![]),
            Value::Array(vec![int(1)]),
            Value::Map(vec![]),
        ];
        for (i, a) in ladder.iter().enumerate() {
            for (j, b) in ladder.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a:?} vs {b:?}");
            }
        }
        assert_eq!(cmp_opt(None, Some(&Value::Null)), Ordering::Less);
    }

    #[test]
    fn maps_compare_as_sorted_pairs() {
        let m1 = Value::Map(vec![(int(2), int(0)), (int(1), int(0))]);
        let m2 = Value::Map(vec![(int(1), int(0)), (int(2), int(0))]);
        assert_eq!(cmp(&m1, &m2), Ordering::Equal);
        let m3 = Value::Map(vec![(int(1), int(1))]);
        assert_eq!(cmp(&m2, &m3), Ordering::Less);
    }

    #[test]
    fn check_refuses_tags_and_unhashable_keys() {
        assert!(check(&Value::Tag(2, Box::new(Value::Bytes(vec![1])))).is_err());
        assert!(check(&Value::Map(vec![(Value::Array(vec![]), int(1))])).is_err());
        assert!(check(&Value::Map(vec![(int(1), Value::Array(vec![]))])).is_ok());
        let mut deep = Value::Null;
        for _ in 0..=MAX_DEPTH + 1 {
            deep = Value::Array(vec![deep]);
        }
        assert!(check(&deep).is_err());
    }
}
