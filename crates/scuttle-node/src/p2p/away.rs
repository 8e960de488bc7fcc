//! Time away from the cluster, and what it means for tombstone collection.
//!
//! Members count for collection (`Gossip::set_members`) while they are alive or suspect, and
//! for `member_grace` after they went down: a member back within that time finds every
//! tombstone it could still meet, and whatever it wrote and never sent is judged against
//! them. After that the others collect without it; a node that was away that long (isolated,
//! or stopped) rejoins (`Gossip::rejoin`) so that it forgets values whose deletes were
//! collected meanwhile.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libp2p::PeerId;

/// The file in the data directory that says when this node last saw a live member (unix
/// milliseconds, as text).
pub const LAST_CONTACT_FILE: &str = "last-contact";

/// How often the last contact is written down.
const SAVE_EVERY: Duration = Duration::from_secs(10);

/// Members down within their grace, and this node's own time away.
#[derive(Debug)]
pub struct Away {
    grace: Duration,
    down_since: HashMap<PeerId, Instant>,
    last_contact: Instant,
    /// Whether this isolation already led to a rejoin.
    rejoined: bool,
    file: Option<PathBuf>,
    last_saved: Option<Instant>,
}

impl Away {
    /// `grace`: how long a member that went down still counts; `dir`: the data directory, if
    /// any, where the last contact is kept across restarts.
    pub fn new(grace: Duration, dir: Option<&Path>, now: Instant) -> Self {
        Away {
            grace,
            down_since: HashMap::new(),
            last_contact: now,
            rejoined: false,
            file: dir.map(|d| d.join(LAST_CONTACT_FILE)),
            last_saved: None,
        }
    }

    /// `peer` was declared down (or left) at `now`.
    pub fn member_down(&mut self, peer: PeerId, now: Instant) {
        self.down_since.entry(peer).or_insert(now);
    }

    /// `peer` is alive again.
    pub fn member_up(&mut self, peer: &PeerId) {
        self.down_since.remove(peer);
    }

    /// Members down for less than the grace: they still count.
    pub fn in_grace(&self) -> impl Iterator<Item = &PeerId> {
        self.down_since.keys()
    }

    /// Drops members down for longer than the grace; returns whether any went.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.down_since.len();
        let grace = self.grace;
        self.down_since
            .retain(|_, since| now.saturating_duration_since(*since) < grace);
        self.down_since.len() != before
    }

    /// One tick at `now`; `in_contact`: a live member is known. Returns true once per
    /// isolation longer than the grace: the others have collected without this node, so it
    /// must rejoin.
    pub fn tick(&mut self, now: Instant, in_contact: bool) -> bool {
        if in_contact {
            self.last_contact = now;
            self.rejoined = false;
            self.save(now);
            return false;
        }
        if !self.rejoined && now.saturating_duration_since(self.last_contact) > self.grace {
            self.rejoined = true;
            return true;
        }
        false
    }

    /// Writes the last contact down, at most every few seconds; a failure only costs a
    /// needless rejoin after the next restart.
    fn save(&mut self, now: Instant) {
        let Some(file) = &self.file else { return };
        if self
            .last_saved
            .is_some_and(|t| now.saturating_duration_since(t) < SAVE_EVERY)
        {
            return;
        }
        self.last_saved = Some(now);
        if let Err(e) = std::fs::write(file, crate::now_ms().to_string()) {
            tracing::debug!(error = %e, "cannot record the last contact");
        }
    }
}

/// Whether a node restarting on `dir` was away longer than `grace` (or cannot tell: no
/// record of its last contact) at wall-clock time `now_ms`.
pub fn away_too_long(dir: &Path, grace: Duration, now_ms: u64) -> bool {
    let last = std::fs::read_to_string(dir.join(LAST_CONTACT_FILE))
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    match last {
        Some(last) => u128::from(now_ms.saturating_sub(last)) > grace.as_millis(),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_counts_through_its_grace_then_goes() {
        let t0 = Instant::now();
        let mut away = Away::new(Duration::from_secs(60), None, t0);
        let peer = PeerId::random();
        away.member_down(peer, t0);
        assert!(!away.expire(t0 + Duration::from_secs(59)));
        assert_eq!(away.in_grace().count(), 1);
        assert!(away.expire(t0 + Duration::from_secs(61)));
        assert_eq!(away.in_grace().count(), 0);
        away.member_down(peer, t0);
        away.member_up(&peer);
        assert_eq!(away.in_grace().count(), 0);
    }

    #[test]
    fn isolation_longer_than_the_grace_asks_for_one_rejoin() {
        let t0 = Instant::now();
        let mut away = Away::new(Duration::from_secs(60), None, t0);
        assert!(!away.tick(t0 + Duration::from_secs(30), false));
        assert!(away.tick(t0 + Duration::from_secs(61), false));
        assert!(!away.tick(t0 + Duration::from_secs(90), false), "once");
        assert!(!away.tick(t0 + Duration::from_secs(91), true));
        assert!(
            away.tick(t0 + Duration::from_secs(152), false),
            "a new isolation"
        );
    }

    #[test]
    fn a_restart_after_the_grace_or_without_a_record_rejoins() {
        let dir = std::env::temp_dir().join(format!("scuttle-away-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let grace = Duration::from_secs(60);
        let _ = std::fs::remove_file(dir.join(LAST_CONTACT_FILE));
        assert!(away_too_long(&dir, grace, 1_000_000), "no record");
        let mut away = Away::new(grace, Some(&dir), Instant::now());
        away.tick(Instant::now(), true);
        let now = crate::now_ms();
        assert!(!away_too_long(&dir, grace, now + 59_000));
        assert!(away_too_long(&dir, grace, now + 61_000));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
