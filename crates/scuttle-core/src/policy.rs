//! Built-in policies by name, for bindings, configuration files and command lines.
//!
//! ```
//! use scuttle_core::{ResolverKind, SorterKind};
//! let r: ResolverKind = "lww".parse().unwrap();
//! assert_eq!(r, ResolverKind::LastWriterWins);
//! assert_eq!("depth".parse::<SorterKind>().unwrap().to_string(), "depth");
//! assert!("nope".parse::<SorterKind>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use crate::resolver::{
    self, DynResolver, LastWriterWins, LastWriterWinsClock, StrictlyOrderedValues,
};
use crate::sorter::{DynSorter, ScuttleBreadth, ScuttleDepth};

/// A built-in resolver, by name: `lww`, `lww-clock`, `strict`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResolverKind {
    /// [`LastWriterWins`] (`lww`).
    #[default]
    LastWriterWins,
    /// [`LastWriterWinsClock`] (`lww-clock`).
    LastWriterWinsClock,
    /// [`StrictlyOrderedValues`] (`strict`).
    StrictlyOrderedValues,
}

/// A built-in sorter, by name: `breadth`, `depth`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SorterKind {
    /// [`ScuttleBreadth`] (`breadth`).
    #[default]
    Breadth,
    /// [`ScuttleDepth`] (`depth`).
    Depth,
}

/// A policy name that is not a built-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}` (expected one of: {expected})")]
pub struct UnknownPolicy {
    what: &'static str,
    name: String,
    expected: &'static str,
}

impl ResolverKind {
    /// Every name accepted by `parse`.
    pub const NAMES: &'static [&'static str] = &["lww", "lww-clock", "strict"];

    /// The resolver, boxed with any error type `E`.
    pub fn boxed<K: 'static, V: Ord + 'static, E: 'static>(self) -> DynResolver<K, V, E> {
        match self {
            ResolverKind::LastWriterWins => resolver::boxed(LastWriterWins),
            ResolverKind::LastWriterWinsClock => resolver::boxed(LastWriterWinsClock),
            ResolverKind::StrictlyOrderedValues => resolver::boxed(StrictlyOrderedValues),
        }
    }
}

impl SorterKind {
    /// Every name accepted by `parse`.
    pub const NAMES: &'static [&'static str] = &["breadth", "depth"];

    /// The sorter, boxed.
    pub fn boxed<K, V>(self) -> DynSorter<K, V> {
        match self {
            SorterKind::Breadth => Box::new(ScuttleBreadth),
            SorterKind::Depth => Box::new(ScuttleDepth),
        }
    }
}

impl FromStr for ResolverKind {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, UnknownPolicy> {
        match s {
            "lww" => Ok(ResolverKind::LastWriterWins),
            "lww-clock" => Ok(ResolverKind::LastWriterWinsClock),
            "strict" => Ok(ResolverKind::StrictlyOrderedValues),
            _ => Err(UnknownPolicy {
                what: "resolver",
                name: s.to_owned(),
                expected: "lww, lww-clock, strict",
            }),
        }
    }
}

impl FromStr for SorterKind {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, UnknownPolicy> {
        match s {
            "breadth" => Ok(SorterKind::Breadth),
            "depth" => Ok(SorterKind::Depth),
            _ => Err(UnknownPolicy {
                what: "sorter",
                name: s.to_owned(),
                expected: "breadth, depth",
            }),
        }
    }
}

impl fmt::Display for ResolverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResolverKind::LastWriterWins => "lww",
            ResolverKind::LastWriterWinsClock => "lww-clock",
            ResolverKind::StrictlyOrderedValues => "strict",
        })
    }
}

impl fmt::Display for SorterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SorterKind::Breadth => "breadth",
            SorterKind::Depth => "depth",
        })
    }
}
