//! Replay protection for signed callbacks: each `webhook-id` is remembered
//! for as long as its signature could still pass the timestamp check.
//!
//! A signed callback is valid while `|now − timestamp| ≤ tolerance`, so an
//! id is kept until `timestamp + tolerance`; after that the timestamp check
//! refuses any copy by itself. Memory is bounded by [`ReplayCache::capacity`]
//! entries of at most 256-byte ids, and only callbacks whose signature
//! verified are ever recorded, so a flood of forgeries cannot fill it.
//!
//! An id goes through two states. While its callback is being handled it is
//! *in flight*: a copy arriving meanwhile is refused. When the callback was
//! answered 2xx it becomes *accepted* and every copy is refused until it
//! expires. When it was answered anything else the id is released, so the
//! sender's retry (N8N retries 3 times, 1 s apart, with the same headers)
//! is handled normally: a refusal after a 503 must not become permanent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Default number of ids kept at once.
pub const DEFAULT_CAPACITY: usize = 100_000;
/// Expired ids are swept at most this often (unix seconds), and whenever the
/// cache is full.
const SWEEP_INTERVAL_SECS: i64 = 30;

/// The ids of recently handled signed callbacks.
#[derive(Debug)]
pub struct ReplayCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    next_sweep: i64,
    generation: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Unix seconds after which the id is forgotten.
    expires: i64,
    accepted: bool,
    generation: u64,
}

/// Why a signed callback was refused as a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("a callback with this webhook-id was already accepted")]
    AlreadyAccepted,
    #[error("a callback with this webhook-id is being handled")]
    InFlight,
    #[error("too many recent webhook-ids are remembered")]
    Full,
}

impl ReplayError {
    /// A short label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::AlreadyAccepted => "replay_accepted",
            Self::InFlight => "replay_in_flight",
            Self::Full => "replay_cache_full",
        }
    }
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ReplayCache {
    /// A cache holding at most `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    /// The most ids held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Ids held now (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks `id` in flight until `expires` (unix seconds), unless a live
    /// entry exists already.
    pub fn reserve(
        self: &Arc<Self>,
        id: &str,
        expires: i64,
        now: i64,
    ) -> Result<Reservation, ReplayError> {
        let mut inner = self.lock();
        if let Some(entry) = inner.entries.get(id).filter(|entry| entry.expires >= now) {
            return Err(if entry.accepted {
                ReplayError::AlreadyAccepted
            } else {
                ReplayError::InFlight
            });
        }
        if now >= inner.next_sweep || inner.entries.len() >= self.capacity {
            inner.entries.retain(|_, entry| entry.expires >= now);
            inner.next_sweep = now + SWEEP_INTERVAL_SECS;
        }
        // Full of live ids: refusing keeps the promise that an accepted id is
        // never forgotten early. Only verified callbacks get here, so this
        // takes `capacity` genuine deliveries within one tolerance window.
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(id) {
            return Err(ReplayError::Full);
        }
        inner.generation += 1;
        let generation = inner.generation;
        inner.entries.insert(
            id.to_owned(),
            Entry {
                expires,
                accepted: false,
                generation,
            },
        );
        Ok(Reservation {
            cache: Arc::clone(self),
            id: id.to_owned(),
            generation,
            settled: false,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map (every
        // update is a single insert or remove), so poisoning is ignored.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn settle(&self, id: &str, generation: u64, accepted: bool) {
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(id) else {
            return;
        };
        if entry.generation != generation {
            return;
        }
        if accepted {
            entry.accepted = true;
        } else {
            inner.entries.remove(id);
        }
    }
}

/// An id in flight. [`Reservation::accept`] keeps it until it expires;
/// dropping it (or [`Reservation::release`]) forgets it.
#[derive(Debug)]
pub struct Reservation {
    cache: Arc<ReplayCache>,
    id: String,
    generation: u64,
    settled: bool,
}

impl Reservation {
    /// The callback was accepted: copies are refused until the id expires.
    pub fn accept(mut self) {
        self.settled = true;
        self.cache.settle(&self.id, self.generation, true);
    }

    /// The callback was not accepted: a retry is handled normally.
    pub fn release(self) {
        // Drop does it.
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.cache.settle(&self.id, self.generation, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn cache(capacity: usize) -> Arc<ReplayCache> {
        Arc::new(ReplayCache::new(capacity))
    }

    #[test]
    fn an_accepted_id_is_refused_until_it_expires() {
        let cache = cache(10);
        cache.reserve("msg_1", NOW + 300, NOW).unwrap().accept();
        assert_eq!(
            cache.reserve("msg_1", NOW + 300, NOW + 10).unwrap_err(),
            ReplayError::AlreadyAccepted
        );
        assert_eq!(
            cache.reserve("msg_1", NOW + 300, NOW + 300).unwrap_err(),
            ReplayError::AlreadyAccepted
        );
        assert!(cache.reserve("msg_1", NOW + 700, NOW + 301).is_ok());
    }

    #[test]
    fn an_id_in_flight_is_refused_and_a_released_one_passes_again() {
        let cache = cache(10);
        let first = cache.reserve("msg_1", NOW + 300, NOW).unwrap();
        assert_eq!(
            cache.reserve("msg_1", NOW + 300, NOW).unwrap_err(),
            ReplayError::InFlight
        );
        first.release();
        let second = cache.reserve("msg_1", NOW + 300, NOW + 1).unwrap();
        drop(second);
        assert!(cache.reserve("msg_1", NOW + 300, NOW + 2).is_ok());
    }

    #[test]
    fn a_stale_reservation_never_touches_a_newer_one() {
        let cache = cache(10);
        let old = cache.reserve("msg_1", NOW, NOW).unwrap();
        // The old entry expired; a new delivery of the same id is reserved.
        let new = cache.reserve("msg_1", NOW + 400, NOW + 100).unwrap();
        drop(old);
        assert_eq!(
            cache.reserve("msg_1", NOW + 400, NOW + 101).unwrap_err(),
            ReplayError::InFlight
        );
        new.accept();
        assert_eq!(
            cache.reserve("msg_1", NOW + 400, NOW + 102).unwrap_err(),
            ReplayError::AlreadyAccepted
        );
    }

    #[test]
    fn memory_is_bounded_and_expired_ids_make_room() {
        let cache = cache(3);
        for id in ["a", "b", "c"] {
            cache.reserve(id, NOW + 10, NOW).unwrap().accept();
        }
        assert_eq!(
            cache.reserve("d", NOW + 10, NOW).unwrap_err(),
            ReplayError::Full
        );
        assert_eq!(cache.len(), 3);
        cache.reserve("d", NOW + 30, NOW + 11).unwrap().accept();
        assert_eq!(cache.len(), 1);
    }
}
