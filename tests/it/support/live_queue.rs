//! The queue of `queued` requests of a live Odoo is shared by every live
//! test in this process: a test that claims from it (a sweeping bridge,
//! `bridge_claim_queued`) would take another test's requests. Such tests
//! hold this lock for their whole run.

use tokio::sync::{Mutex, MutexGuard};

static QUEUE: Mutex<()> = Mutex::const_new(());

/// Waits until no other live test works on the queue.
pub async fn exclusive() -> MutexGuard<'static, ()> {
    QUEUE.lock().await
}
