//! Flow control: which news goes first when `mtu` cuts an exchange short.
//!
//! A sorter only sets priorities. Whatever order it returns, the core sends each source's
//! updates in ascending version and never skips one: the i-th slot the sorter gives to a source
//! carries that source's i-th oldest outstanding update.

use crate::error::SortError;
use crate::policy::SorterKind;
use crate::types::{NodeId, UpdateRef};

/// One update a peer lacks, with how much news its source has outstanding for that peer.
#[derive(Debug)]
pub struct Candidate<'a, K, V> {
    /// The update.
    pub update: UpdateRef<'a, K, V>,
    /// How many updates from `update.source_id` the peer lacks in all (the "depth").
    pub outstanding: usize,
}

impl<K, V> Clone for Candidate<'_, K, V> {
    fn clone(&self) -> Self {
        Candidate {
            update: self.update,
            outstanding: self.outstanding,
        }
    }
}

impl<K, V> Candidate<'_, K, V> {
    /// The update's source.
    pub fn source_id(&self) -> &NodeId {
        self.update.source_id
    }
}

/// Orders the news of one exchange; the core fills the message from the front.
///
/// A sorter may fail (a Python exception, a C callback error): the message being answered is
/// then refused and nothing changes.
pub trait Sorter<K, V> {
    /// Sorts `news` in place, most urgent first.
    fn sort(&self, news: &mut [Candidate<'_, K, V>]) -> Result<(), SortError>;

    /// `Some` when this sorter orders exactly like a built-in one: the core then follows that
    /// order lazily instead of sorting every candidate (same result, less work). Leave the
    /// default (`None`) in your own sorters.
    fn kind(&self) -> Option<SorterKind> {
        None
    }
}

impl<K, V> Sorter<K, V> for Box<dyn Sorter<K, V> + Send> {
    fn sort(&self, news: &mut [Candidate<'_, K, V>]) -> Result<(), SortError> {
        (**self).sort(news)
    }

    fn kind(&self) -> Option<SorterKind> {
        (**self).kind()
    }
}

/// Any `Fn(&mut [Candidate])` is an infallible sorter.
impl<K, V, F> Sorter<K, V> for F
where
    F: Fn(&mut [Candidate<'_, K, V>]),
{
    fn sort(&self, news: &mut [Candidate<'_, K, V>]) -> Result<(), SortError> {
        self(news);
        Ok(())
    }
}

/// A boxed sorter, for bindings that pick the policy at run time.
pub type DynSorter<K, V> = Box<dyn Sorter<K, V> + Send>;

/// scuttle-breadth (the seed's default `sort`): ascending version, ties by source id, so every
/// source makes progress in each exchange.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScuttleBreadth;

impl<K, V> Sorter<K, V> for ScuttleBreadth {
    fn kind(&self) -> Option<SorterKind> {
        Some(SorterKind::Breadth)
    }

    fn sort(&self, news: &mut [Candidate<'_, K, V>]) -> Result<(), SortError> {
        news.sort_by(|a, b| {
            (a.update.version, a.update.source_id).cmp(&(b.update.version, b.update.source_id))
        });
        Ok(())
    }
}

/// scuttle-depth (the paper's best ordering): sources with the most outstanding news first,
/// ties by source id; within a source, ascending version.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScuttleDepth;

impl<K, V> Sorter<K, V> for ScuttleDepth {
    fn kind(&self) -> Option<SorterKind> {
        Some(SorterKind::Depth)
    }

    fn sort(&self, news: &mut [Candidate<'_, K, V>]) -> Result<(), SortError> {
        news.sort_by(|a, b| {
            b.outstanding
                .cmp(&a.outstanding)
                .then_with(|| a.update.source_id.cmp(b.update.source_id))
                .then_with(|| a.update.version.cmp(&b.update.version))
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Update;

    fn up(source: &str, version: u64) -> Update<u32, u32> {
        Update {
            key: 0,
            value: Some(0),
            source_id: NodeId::from(source),
            version,
            timestamp: 0,
            signature: None,
        }
    }

    fn order<S: Sorter<u32, u32>>(
        sorter: S,
        ups: &[(Update<u32, u32>, usize)],
    ) -> Vec<(String, u64)> {
        let mut c: Vec<_> = ups
            .iter()
            .map(|(u, o)| Candidate {
                update: u.as_ref(),
                outstanding: *o,
            })
            .collect();
        sorter.sort(&mut c).expect("built-in sorters never fail");
        c.iter()
            .map(|c| (c.update.source_id.to_string(), c.update.version))
            .collect()
    }

    #[test]
    fn breadth_is_version_then_source() {
        let ups = [
            (up("b", 2), 1),
            (up("a", 3), 2),
            (up("a", 2), 2),
            (up("c", 1), 1),
        ];
        let got = order(ScuttleBreadth, &ups);
        let want = [("c", 1), ("a", 2), ("b", 2), ("a", 3)];
        assert_eq!(got, want.map(|(s, v)| (s.to_string(), v)));
    }

    #[test]
    fn depth_puts_deepest_source_first() {
        let ups = [
            (up("b", 1), 1),
            (up("a", 3), 2),
            (up("a", 2), 2),
            (up("c", 9), 3),
            (up("c", 8), 3),
            (up("c", 7), 3),
        ];
        let got = order(ScuttleDepth, &ups);
        let want = [("c", 7), ("c", 8), ("c", 9), ("a", 2), ("a", 3), ("b", 1)];
        assert_eq!(got, want.map(|(s, v)| (s.to_string(), v)));
    }
}
