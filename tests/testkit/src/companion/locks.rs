//! Row locks of the companion methods: the real addon's `SELECT … FOR UPDATE` on the request
//! (`SKIP LOCKED` for claims).
//!
//! The emulator applies each call at once under its database mutex, so two calls never
//! interleave. What a row lock adds is *holding*: in real Odoo a slow call (a busy worker, a long
//! attachment write) holds its request's row from its start until it commits; a second call
//! about the same request waits, then answers from the committed state ("duplicate"), and claims
//! skip the row. Here a companion call takes its request's lock when it arrives, before any
//! `Stall` fault, and releases it once applied: a stalled call is a slow transaction holding its
//! row.
//!
//! | method | lock |
//! |---|---|
//! | `bridge_apply_result`, `bridge_finish_initiation` | waits until the row is free |
//! | `bridge_claim` | takes the row if free; held by another call, it answers `not_queued` |
//! | `bridge_claim_queued` | takes none; skips the rows other calls hold |

use std::collections::HashMap;
use std::sync::Arc;

use super::{args, find, is_installed};
use crate::catalog::REQUEST;
use crate::dispatch::CallInfo;
use crate::emulator::Shared;
use crate::orm::Env;
use crate::server::lock;
use crate::store::Db;

/// Which call holds which request row.
#[derive(Debug, Default)]
pub struct RowLocks {
    /// Request id → the sequence number of the call holding it.
    held: HashMap<i64, usize>,
    /// The call being applied right now (set around each dispatch).
    applying: Option<usize>,
}

impl RowLocks {
    /// Whether a call other than the one being applied holds request `id`.
    pub fn held_by_another(&self, id: i64) -> bool {
        self.held
            .get(&id)
            .is_some_and(|holder| Some(*holder) != self.applying)
    }

    /// Marks call `call` as the one being applied (`None` once done).
    pub fn set_applying(&mut self, call: Option<usize>) {
        self.applying = call;
    }

    fn try_take(&mut self, id: i64, call: usize) -> bool {
        match self.held.get(&id) {
            Some(holder) => *holder == call,
            None => {
                self.held.insert(id, call);
                true
            }
        }
    }

    fn release(&mut self, call: usize) {
        self.held.retain(|_, holder| *holder != call);
    }
}

/// A held row lock; released when dropped.
#[derive(Debug)]
pub struct RowGuard {
    shared: Arc<Shared>,
    call: usize,
}

impl Drop for RowGuard {
    fn drop(&mut self) {
        lock(&self.shared.db).row_locks.release(self.call);
        self.shared.row_released.notify_waiters();
    }
}

/// The lock a call wants: the request id, and whether it waits for it.
fn wanted(db: &Db, info: &CallInfo) -> Option<(i64, bool)> {
    if info.key.model.as_deref() != Some(REQUEST) || !is_installed(db) {
        return None;
    }
    let method = info.key.model_method.as_deref()?;
    let first = info.args.as_array()?.first()?;
    let env = Env::rpc(info.uid?);
    let referenced = || find(db, &env, first).ok().flatten();
    match method {
        "bridge_apply_result" => referenced().map(|id| (id, true)),
        "bridge_claim" => referenced().map(|id| (id, false)),
        "bridge_finish_initiation" => args::int(first)
            .filter(|id| *id > 0 && db.visible(REQUEST, *id, true))
            .map(|id| (id, true)),
        _ => None,
    }
}

/// Takes the row lock call `call` needs, waiting for it when the method waits; `None` when the
/// call needs none or (a claim) the row is held by another call.
pub async fn acquire(shared: &Arc<Shared>, call: usize, info: &CallInfo) -> Option<RowGuard> {
    let (id, wait) = wanted(&lock(&shared.db), info)?;
    loop {
        let released = shared.row_released.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        if lock(&shared.db).row_locks.try_take(id, call) {
            return Some(RowGuard {
                shared: shared.clone(),
                call,
            });
        }
        if !wait {
            return None;
        }
        released.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_row_is_held_by_another_only_for_other_calls() {
        let mut locks = RowLocks::default();
        assert!(locks.try_take(7, 1));
        assert!(!locks.try_take(7, 2));
        assert!(locks.try_take(7, 1), "re-entrant for its holder");
        locks.set_applying(Some(1));
        assert!(!locks.held_by_another(7));
        locks.set_applying(Some(2));
        assert!(locks.held_by_another(7));
        locks.release(1);
        assert!(!locks.held_by_another(7));
        assert!(locks.try_take(7, 2));
    }
}
