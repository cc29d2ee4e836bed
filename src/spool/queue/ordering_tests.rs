//! Ordering of the index: arrival order per resolved request, across
//! reference styles.

use super::*;
use crate::callback::{CallbackResult, Outcome};

const ROOMY: u64 = 1 << 30;

fn failure(reference: &str) -> CallbackResult {
    CallbackResult {
        request_ref: reference.into(),
        outcome: Outcome::Failure {
            message: "m".into(),
            details: None,
        },
    }
}

async fn queue_with(references: &[&str]) -> (tempfile::TempDir, Queue, Vec<EntryId>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), false, ROOMY).unwrap());
    let queue = Queue::new(store, std::time::Duration::ZERO).unwrap();
    let mut ids = Vec::new();
    for reference in references {
        ids.push(queue.submit(&failure(reference), "rid").await.unwrap().0);
    }
    (dir, queue, ids)
}

/// Digits are ids; anything else needs Odoo.
fn offline(reference: &str) -> Option<RequestKey> {
    reference.parse().ok().map(RequestKey::Id)
}

#[tokio::test]
async fn nothing_overtakes_an_older_entry_whose_request_is_not_known_yet() {
    let (_dir, queue, ids) = queue_with(&["uuid-a", "42", "43"]).await;
    let unresolved = queue.to_resolve(4, offline);
    assert_eq!(unresolved.len(), 1);
    assert_eq!(unresolved[0].request_ref, "uuid-a");
    assert!(queue.take_ready(4).is_empty(), "an entry overtook uuid-a");
    assert_eq!(
        queue.next_due_ms(),
        None,
        "nothing can go: the worker must not spin"
    );
    // uuid-a is request 42: the entry by id "42" waits for it, 43 does not.
    queue.resolved(&ids[0], Ok(RequestKey::Id(42)));
    let ready = queue.take_ready(4);
    let taken: Vec<_> = ready.iter().map(|r| r.request_ref.as_str()).collect();
    assert_eq!(taken, ["uuid-a", "43"]);
    queue.finish(
        &ready[0],
        Final::Dead(PipelineError::UnknownRequest("x".into())),
    );
    let ready = queue.take_ready(4);
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].id, ids[1]);
}

#[tokio::test]
async fn resolutions_in_flight_are_bounded_and_retried_later() {
    let (_dir, queue, ids) = queue_with(&["u1", "u2", "u3"]).await;
    assert_eq!(queue.to_resolve(2, offline).len(), 2);
    assert!(queue.to_resolve(2, offline).is_empty(), "two are in flight");
    let later = now_ms() + 60_000;
    queue.resolved(&ids[0], Err(later));
    let again = queue.to_resolve(2, offline);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].request_ref, "u3", "u1 waits for its retry");
    assert_eq!(
        queue.next_due_ms(),
        Some(later),
        "the next event is u1's retry"
    );
    queue.resolved(&ids[1], Ok(RequestKey::Id(1)));
    queue.resolved(&ids[2], Ok(RequestKey::Reference("u3".into())));
    assert!(queue.take_ready(4).is_empty(), "u2 and u3 wait behind u1");
    assert_eq!(queue.next_due_ms(), Some(later));
}
