//! The in-memory view of `pending/`: which entries exist, for which request,
//! when each is due, and who waits for an outcome; reconciled with the disk
//! at every poll (the `spool` CLI changes it too).
//!
//! Entries of one request go one at a time in arrival order, different
//! requests concurrently. One request is one Odoo id (by id "42" or by the
//! UUID of request 42), so each reference is first resolved to a
//! [`RequestKey`], and nothing goes while an older entry is unresolved.
//! While Odoo refuses the bridge itself (login, session, not JSON-RPC) the
//! queue holds: one entry probes per backoff step, so a wrong password costs
//! one failed login per step, not one per entry, until [`Queue::resume`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use super::entry::{EntryId, Meta, now_ms};
use super::store::{SpoolError, State, Store};
use crate::callback::CallbackResult;
use crate::pipeline::{Applied, PipelineError};
use crate::retry::Backoff;

/// The end of an entry (applied, or a dead letter), for whoever waits.
#[derive(Debug)]
pub enum Final {
    Applied(Applied),
    Dead(PipelineError),
}

/// Which request an entry is about, as far as ordering goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestKey {
    Id(i64),
    /// The reference as sent: with the companion protocol (Odoo serializes
    /// each request under its row lock), or when it names no request.
    Reference(String),
}

#[derive(Debug)]
struct Slot {
    request_ref: String,
    /// `None` until resolved; `resolving` while the worker asks Odoo, after
    /// `failures` failed attempts in a row.
    key: Option<RequestKey>,
    resolving: bool,
    failures: u32,
    due_ms: u64,
    /// When it arrived (or was retried by an admin), for the age gauge.
    received_ms: u64,
}

/// The queue waits for Odoo to accept the bridge again: nothing goes before
/// `until_ms`, then one probe (`probing`); `rounds` refusals in a row.
#[derive(Debug, Clone, Copy)]
struct Hold {
    until_ms: u64,
    rounds: u32,
    probing: bool,
}

#[derive(Debug, Default)]
struct Index {
    hold: Option<Hold>,
    pending: BTreeMap<EntryId, Slot>,
    /// Requests with an entry being applied right now.
    busy: HashSet<RequestKey>,
}

impl Index {
    /// How many of `room` may go now, and whether that one is a probe.
    fn allowance(&self, room: usize) -> (usize, bool) {
        match self.hold {
            None => (room, false),
            Some(hold) if !hold.probing && now_ms() >= hold.until_ms => (room.min(1), true),
            Some(_) => (0, false),
        }
    }

    fn probing(&mut self, handed_out: bool) {
        if let Some(hold) = self.hold.as_mut().filter(|_| handed_out) {
            hold.probing = true;
        }
    }

    /// The entries that may go when due, in arrival order: the oldest entry
    /// of each request that is not busy, up to the first unresolved one.
    fn heads(&self) -> impl Iterator<Item = (&EntryId, &Slot, &RequestKey)> {
        let mut seen: HashSet<&RequestKey> = HashSet::new();
        self.pending
            .iter()
            .map_while(|(id, slot)| slot.key.as_ref().map(|key| (id, slot, key)))
            .filter(move |(_, _, key)| seen.insert(*key) && !self.busy.contains(*key))
    }
}

/// The spool as the running daemon uses it.
#[derive(Debug)]
pub struct Queue {
    store: Arc<Store>,
    /// How long an entry found in flight after a crash waits (Odoo may
    /// still be executing the interrupted call).
    settle_ms: u64,
    index: Mutex<Index>,
    /// Pending entries that could not be read at the last poll (logged once).
    unreadable: Mutex<HashSet<EntryId>>,
    waiters: Mutex<HashMap<EntryId, oneshot::Sender<Final>>>,
    wake: Notify,
}

/// An entry whose reference the worker resolves (see [`Queue::to_resolve`]).
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub id: EntryId,
    pub request_ref: String,
    pub failures: u32,
}

/// The spool's state for the metrics (bytes of pending and dead entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    pub pending: u64,
    pub dead: u64,
    pub bytes: u64,
    pub oldest_age_ms: Option<u64>,
}

/// An entry to apply now.
#[derive(Debug, Clone)]
pub struct Ready {
    pub id: EntryId,
    pub request_ref: String,
    pub key: RequestKey,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Queue {
    /// A queue over `store`; entries in flight when the last process
    /// stopped wait `settle` first.
    pub fn new(store: Arc<Store>, settle: Duration) -> Result<Self, SpoolError> {
        let queue = Self {
            store,
            settle_ms: u64::try_from(settle.as_millis()).unwrap_or(u64::MAX),
            index: Mutex::default(),
            unreadable: Mutex::default(),
            waiters: Mutex::default(),
            wake: Notify::new(),
        };
        queue.reconcile()?;
        Ok(queue)
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Runs blocking spool I/O off the async workers.
    pub async fn io<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, SpoolError> + Send + 'static,
    ) -> Result<T, SpoolError> {
        let store = Arc::clone(&self.store);
        let done = tokio::task::spawn_blocking(move || work(&store)).await;
        done.unwrap_or_else(|e| Err(SpoolError::Refused(format!("spool I/O failed: {e}"))))
    }

    /// Writes `result` durably, then queues it; the receiver yields its
    /// [`Final`] outcome, if it comes.
    pub async fn submit(
        &self,
        result: &CallbackResult,
        http_request_id: &str,
    ) -> Result<(EntryId, oneshot::Receiver<Final>), SpoolError> {
        let (meta, image) = Meta::for_result(result, http_request_id);
        let slot = self.slot(&meta, meta.next_attempt_at_ms);
        let id = meta.id.clone();
        self.io(move |store| store.put(&meta, image.as_deref()))
            .await?;
        let (sender, receiver) = oneshot::channel();
        lock(&self.waiters).insert(id.clone(), sender);
        lock(&self.index).pending.insert(id.clone(), slot);
        self.wake.notify_one();
        Ok((id, receiver))
    }

    fn slot(&self, meta: &Meta, due_ms: u64) -> Slot {
        Slot {
            request_ref: meta.result.request_ref.clone(),
            key: None,
            resolving: false,
            failures: 0,
            due_ms,
            received_ms: meta.received_at_ms,
        }
    }

    /// The waiter of `id` stopped waiting.
    pub fn abandon(&self, id: &EntryId) {
        lock(&self.waiters).remove(id);
    }

    /// Odoo refused the bridge: holds the queue for the next step of
    /// `backoff` (unless it holds already, not probing) and returns it.
    pub fn hold(&self, backoff: &Backoff) -> Option<u64> {
        let mut index = lock(&self.index);
        let rounds = match index.hold {
            Some(hold) if !hold.probing => return None,
            Some(hold) => hold.rounds.saturating_add(1),
            None => 1,
        };
        let delay = u64::try_from(backoff.delay(rounds).as_millis()).unwrap_or(u64::MAX);
        index.hold = Some(Hold {
            until_ms: now_ms().saturating_add(delay),
            rounds,
            probing: false,
        });
        Some(delay)
    }

    /// Lifts the hold (if any): entries go again at once.
    pub fn resume(&self) {
        if lock(&self.index).hold.take().is_some() {
            self.wake.notify_one();
        }
    }

    /// Resolves what `offline` can (an id needs no Odoo call) and hands out
    /// due unresolved entries to resolve, up to `max_in_flight` at once.
    pub fn to_resolve(
        &self,
        max_in_flight: usize,
        offline: impl Fn(&str) -> Option<RequestKey>,
    ) -> Vec<Unresolved> {
        let now = now_ms();
        let mut index = lock(&self.index);
        let in_flight = index.pending.values().filter(|slot| slot.resolving).count();
        let (mut room, probe) = index.allowance(max_in_flight.saturating_sub(in_flight));
        let mut found = Vec::new();
        for (id, slot) in index.pending.iter_mut() {
            if slot.key.is_some() || slot.resolving {
                continue;
            }
            if let Some(key) = offline(&slot.request_ref) {
                slot.key = Some(key);
            } else if room > 0 && slot.due_ms <= now {
                room -= 1;
                slot.resolving = true;
                found.push(Unresolved {
                    id: id.clone(),
                    request_ref: slot.request_ref.clone(),
                    failures: slot.failures,
                });
            }
        }
        index.probing(probe && !found.is_empty());
        found
    }

    /// The entry's key, or when to try resolving it again.
    pub fn resolved(&self, id: &EntryId, key: Result<RequestKey, u64>) {
        if let Some(slot) = lock(&self.index).pending.get_mut(id) {
            slot.resolving = false;
            match key {
                Ok(key) => (slot.key, slot.failures) = (Some(key), 0),
                Err(due_ms) => (slot.due_ms, slot.failures) = (due_ms, slot.failures + 1),
            }
        }
        self.wake.notify_one();
    }

    /// Due entries to apply, up to `max_in_flight` at once, one per request
    /// (busy until [`Queue::finish`], [`Queue::reschedule`], [`Queue::forget`]).
    pub fn take_ready(&self, max_in_flight: usize) -> Vec<Ready> {
        let now = now_ms();
        let mut index = lock(&self.index);
        let (room, probe) = index.allowance(max_in_flight.saturating_sub(index.busy.len()));
        let due = index.heads().filter(|(_, slot, _)| slot.due_ms <= now);
        let ready: Vec<Ready> = (due.take(room))
            .map(|(id, slot, key)| Ready {
                id: id.clone(),
                request_ref: slot.request_ref.clone(),
                key: key.clone(),
            })
            .collect();
        index.probing(probe && !ready.is_empty());
        index
            .busy
            .extend(ready.iter().map(|entry| entry.key.clone()));
        ready
    }

    /// When the next entry becomes due, to be applied or resolved.
    pub fn next_due_ms(&self) -> Option<u64> {
        let index = lock(&self.index);
        let to_apply = index.heads().map(|(_, slot, _)| slot.due_ms).min();
        let first_unresolved = index.pending.values().find(|slot| slot.key.is_none());
        let to_resolve = first_unresolved
            .filter(|slot| !slot.resolving)
            .map(|slot| slot.due_ms);
        let next = to_apply.into_iter().chain(to_resolve).min();
        match index.hold {
            None => next,
            // The probe's outcome wakes the worker.
            Some(hold) if hold.probing => None,
            Some(hold) => next.map(|due| due.max(hold.until_ms)),
        }
    }

    /// Whether a result for a request known by one of `refs` is pending (the
    /// initiation watchdog leaves such a request alone).
    pub fn holds_result_for(&self, refs: &[&str]) -> bool {
        let index = lock(&self.index);
        (index.pending.values()).any(|slot| refs.contains(&slot.request_ref.as_str()))
    }

    /// The entry left the spool (applied or dead): tells its waiter.
    pub fn finish(&self, ready: &Ready, outcome: Final) {
        let waiter = lock(&self.waiters).remove(&ready.id);
        self.forget(ready);
        if let Some(waiter) = waiter {
            let _ = waiter.send(outcome);
        }
        self.wake.notify_one();
    }

    /// The entry stays pending until `due_ms`.
    pub fn reschedule(&self, ready: &Ready, due_ms: u64) {
        let mut index = lock(&self.index);
        if let Some(slot) = index.pending.get_mut(&ready.id) {
            slot.due_ms = due_ms;
        }
        index.busy.remove(&ready.key);
        drop(index);
        self.wake.notify_one();
    }

    /// The entry vanished from disk, or was quarantined.
    pub fn forget(&self, ready: &Ready) {
        let mut index = lock(&self.index);
        index.pending.remove(&ready.id);
        index.busy.remove(&ready.key);
        drop(index);
        lock(&self.waiters).remove(&ready.id);
    }

    /// Returns when there is new work (or news) for the worker.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Brings the index in line with `pending/` (blocking). An entry that
    /// cannot be applied as it is on disk goes to the dead letters when
    /// first seen; one that cannot be read (I/O) is logged once, tried again.
    pub fn reconcile(&self) -> Result<(), SpoolError> {
        // Entries indexed now were on disk before the listing below; those
        // submitted meanwhile are not `known` and are left alone.
        let known: HashSet<EntryId> = lock(&self.index).pending.keys().cloned().collect();
        let on_disk = self.store.scan()?;
        let (mut added, mut unreadable) = (Vec::new(), HashSet::new());
        let mut logged = lock(&self.unreadable);
        for id in on_disk.iter().filter(|id| !known.contains(*id)) {
            let error = match self.store.meta(State::Pending, id) {
                Ok(meta) => {
                    let mut due_ms = meta.next_attempt_at_ms;
                    if let Some(since) = self.store.in_flight_since(id) {
                        tracing::info!(entry = %id, "resuming an entry that was being applied when the bridge stopped");
                        due_ms = due_ms.max(since.saturating_add(self.settle_ms));
                    }
                    added.push((id.clone(), self.slot(&meta, due_ms)));
                    continue;
                }
                // Being moved by another process right now; next poll.
                Err(SpoolError::NotFound { .. }) => continue,
                Err(SpoolError::Corrupt { reason, .. }) => {
                    let Err(error) = self.store.quarantine(id, &reason) else {
                        continue;
                    };
                    error
                }
                Err(error) => error,
            };
            if !logged.contains(id) {
                tracing::error!(entry = %id, %error, "cannot read a spool entry, or move it to the dead letters; tried again at every poll");
            }
            unreadable.insert(id.clone());
        }
        *logged = unreadable;
        let on_disk: HashSet<EntryId> = on_disk.into_iter().collect();
        let mut guard = lock(&self.index);
        let index = &mut *guard;
        index.pending.retain(|id, slot| {
            let busy = slot.key.as_ref().is_some_and(|k| index.busy.contains(k));
            on_disk.contains(id) || !known.contains(id) || busy
        });
        for (id, slot) in added {
            index.pending.entry(id).or_insert(slot);
        }
        Ok(())
    }

    /// What the spool holds, as of the last change or poll.
    pub fn gauges(&self) -> Gauges {
        let usage = self.store.usage();
        let index = lock(&self.index);
        let oldest = index.pending.values().map(|slot| slot.received_ms).min();
        Gauges {
            pending: usage.pending,
            dead: usage.dead,
            bytes: usage.bytes,
            oldest_age_ms: oldest.map(|ms| now_ms().saturating_sub(ms)),
        }
    }

    /// Saves an entry's metadata after an attempt, which is over.
    pub async fn save(&self, meta: &Meta) -> Result<(), SpoolError> {
        let meta = meta.clone();
        self.io(move |store| store.update(State::Pending, &meta))
            .await
    }
}

#[cfg(test)]
mod ordering_tests;
#[cfg(test)]
mod tests;
