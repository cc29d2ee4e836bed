//! One async lock per Odoo request, shared by everything that changes one:
//! deliveries of a result apply one after the other, and the initiation and a
//! result never work on one request at once (a fast callback waits until its
//! initiation is recorded). Within this process only. The map holds `Weak`
//! locks, pruned as it grows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

const PRUNE_THRESHOLD: usize = 1024;

/// Per-request locks keyed by Odoo id; clones share the locks.
#[derive(Debug, Default, Clone)]
pub struct RequestLocks {
    // std Mutex: never held across an await.
    locks: Arc<Mutex<HashMap<i64, Weak<tokio::sync::Mutex<()>>>>>,
}

/// A held lock. Read the request after taking it: an earlier read may be
/// older than the last holder's writes.
pub type RequestGuard = OwnedMutexGuard<()>;

impl RequestLocks {
    pub async fn lock(&self, id: i64) -> RequestGuard {
        self.lock_for(id).lock_owned().await
    }

    fn lock_for(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(lock) = locks.get(&id).and_then(Weak::upgrade) {
            return lock;
        }
        if locks.len() >= PRUNE_THRESHOLD {
            locks.retain(|_, lock| lock.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(id, Arc::downgrade(&lock));
        lock
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_second_holder_waits() {
        let locks = Arc::new(RequestLocks::default());
        let first = locks.lock(7).await;
        let contender = {
            let locks = Arc::clone(&locks);
            tokio::spawn(async move { drop(locks.lock(7).await) })
        };
        tokio::task::yield_now().await;
        assert!(!contender.is_finished());
        drop(first);
        contender.await.unwrap();
    }

    #[tokio::test]
    async fn different_requests_do_not_wait_for_each_other() {
        let locks = RequestLocks::default();
        let _a = locks.lock(1).await;
        let b = tokio::time::timeout(std::time::Duration::from_secs(5), locks.lock(2)).await;
        assert!(b.is_ok());
    }

    #[tokio::test]
    async fn clones_share_the_locks() {
        let locks = RequestLocks::default();
        let held = locks.lock(3).await;
        let other = locks.clone();
        let waiting = tokio::spawn(async move { drop(other.lock(3).await) });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(held);
        waiting.await.unwrap();
    }

    #[tokio::test]
    async fn released_locks_are_pruned() {
        let locks = RequestLocks::default();
        for id in 0..(PRUNE_THRESHOLD as i64 + 10) {
            drop(locks.lock(id).await);
        }
        assert!(locks.len() < 20, "dead locks were kept: {}", locks.len());
    }
}
