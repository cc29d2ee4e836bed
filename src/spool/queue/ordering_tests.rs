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

#[tokio::test]
async fn a_hold_lets_one_probe_go_per_step_until_resumed() {
    let (_dir, queue, _ids) = queue_with(&["1", "2", "uuid-c"]).await;
    assert!(queue.to_resolve(4, offline).len() == 1);
    let at_once = Backoff::new(std::time::Duration::ZERO, std::time::Duration::ZERO);
    let later = Backoff::new(
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(60),
    );
    queue.hold(&later);
    assert!(queue.take_ready(4).is_empty(), "nothing goes on hold");
    assert!(queue.next_due_ms().unwrap() >= now_ms() + 29_000);
    assert!(
        queue.hold(&later).is_none(),
        "a second refusal changes nothing"
    );
    // The step passed: one probe, and nothing more while it runs.
    queue.resume();
    queue.hold(&at_once);
    let probe = queue.take_ready(4);
    assert_eq!(probe.len(), 1);
    assert!(queue.take_ready(4).is_empty());
    assert_eq!(
        queue.next_due_ms(),
        None,
        "the probe's outcome wakes the worker"
    );
    // Refused again: the next step; then Odoo accepts the bridge.
    assert!(queue.hold(&at_once).is_some());
    queue.reschedule(&probe[0], now_ms());
    assert_eq!(queue.take_ready(4).len(), 1);
    queue.resume();
    assert!(
        queue.hold(&at_once).is_some(),
        "a new hold, not a next step"
    );
}

#[tokio::test]
async fn a_hold_over_unresolved_entries_probes_with_a_resolution() {
    let (_dir, queue, _ids) = queue_with(&["uuid-a", "uuid-b"]).await;
    queue.hold(&Backoff::new(
        std::time::Duration::ZERO,
        std::time::Duration::ZERO,
    ));
    assert!(queue.take_ready(4).is_empty());
    assert_eq!(
        queue.to_resolve(4, offline).len(),
        1,
        "one resolution probes"
    );
    assert!(queue.to_resolve(4, offline).is_empty());
}
