//! A resolver that logs every decision it makes, so a target can check that every change of
//! the state went through it.

use std::cell::RefCell;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::rc::Rc;

use arbitrary::Arbitrary;
use scuttle_core::{Entry, LastWriterWins, LastWriterWinsClock, Resolver, StrictlyOrderedValues};
use scuttle_core::{Update, Version};

/// How the recording resolver decides.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Policy {
    /// [`LastWriterWins`].
    Lww,
    /// [`LastWriterWinsClock`].
    LwwClock,
    /// [`StrictlyOrderedValues`].
    Strict,
    /// A coin flip per update, seeded: not a total order (replicas may stay apart), which the
    /// invariants checked here must survive all the same.
    Coin(u8),
    /// [`LastWriterWins`], but failing for one update in sixteen (seeded), as a C callback or
    /// a Python resolver can: the core must then refuse the whole message or write.
    Flaky(u8),
}

/// One decision the resolver made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether it was for a local write (`accept_local`).
    pub local: bool,
    /// The update decided on.
    pub update: Update<String, String>,
    /// Its answer: `Some(accepted)`, or `None` when it failed.
    pub accepted: Option<bool>,
}

/// The failure of a [`Policy::Flaky`] resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

/// A resolver following a [`Policy`] that appends every decision to a shared log.
#[derive(Debug, Clone)]
pub struct Recording {
    policy: Policy,
    log: Rc<RefCell<Vec<Decision>>>,
}

impl Recording {
    /// A resolver and the log it writes to.
    pub fn new(policy: Policy) -> (Self, Rc<RefCell<Vec<Decision>>>) {
        let log = Rc::new(RefCell::new(Vec::new()));
        (
            Recording {
                policy,
                log: log.clone(),
            },
            log,
        )
    }

    fn decide(
        &self,
        current: Option<&Entry<String>>,
        update: &Update<String, String>,
    ) -> Result<bool, Refused> {
        match self.policy {
            Policy::Lww => lift(LastWriterWins.accept(current, update)),
            Policy::LwwClock => lift(LastWriterWinsClock.accept(current, update)),
            Policy::Strict => lift(StrictlyOrderedValues.accept(current, update)),
            Policy::Coin(seed) => Ok(mix(seed, update) & 1 == 0),
            Policy::Flaky(seed) if mix(seed, update).is_multiple_of(16) => Err(Refused),
            Policy::Flaky(_) => lift(LastWriterWins.accept(current, update)),
        }
    }

    fn record(
        &self,
        local: bool,
        update: &Update<String, String>,
        answer: Result<bool, Refused>,
    ) -> Result<bool, Refused> {
        self.log.borrow_mut().push(Decision {
            local,
            update: update.clone(),
            accepted: answer.ok(),
        });
        answer
    }
}

fn lift(r: Result<bool, std::convert::Infallible>) -> Result<bool, Refused> {
    match r {
        Ok(b) => Ok(b),
        Err(never) => match never {},
    }
}

fn mix(seed: u8, update: &Update<String, String>) -> u64 {
    let mut h = DefaultHasher::new();
    (seed, &update.key, &update.value, update.source_id.as_str()).hash(&mut h);
    let v: Version = update.version;
    v.hash(&mut h);
    h.finish()
}

impl Resolver<String, String> for Recording {
    type Error = Refused;

    fn accept(
        &self,
        current: Option<&Entry<String>>,
        update: &Update<String, String>,
    ) -> Result<bool, Refused> {
        let answer = self.decide(current, update);
        self.record(false, update, answer)
    }

    fn accept_local(
        &self,
        current: Option<&Entry<String>>,
        update: &Update<String, String>,
    ) -> Result<bool, Refused> {
        let answer = self.decide(current, update);
        self.record(true, update, answer)
    }
}
