//! The queue over a real store: in-flight markers, quarantine of what cannot
//! be read, and gauges that count what is on disk.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::callback::{CallbackResult, Claims, ImagePayload, Outcome};
use bytes::Bytes;

const ROOMY: u64 = 1 << 30;
const SETTLE: Duration = Duration::from_secs(60);

fn success(image: &'static [u8]) -> CallbackResult {
    CallbackResult {
        request_ref: "7".into(),
        outcome: Outcome::Success {
            image: ImagePayload::Inline(Bytes::from_static(image)),
            claims: Claims::default(),
        },
    }
}

fn failure() -> CallbackResult {
    CallbackResult {
        request_ref: "8".into(),
        outcome: Outcome::Failure {
            message: "m".into(),
            details: None,
        },
    }
}

fn open(dir: &Path) -> Queue {
    let store = Store::open(dir, true, ROOMY).unwrap();
    Queue::new(Arc::new(store), SETTLE).unwrap()
}

/// Issue 15, item 3: marking an attempt in flight must never replace the
/// entry's metadata (the only copy of an accepted callback) by an unsynced
/// file; after a crash the marker still makes the entry wait.
#[tokio::test]
async fn the_in_flight_marker_never_replaces_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (id, meta_path) = {
        let queue = open(dir.path());
        let (id, _) = queue.submit(&success(b"IMG"), "rid").await.unwrap();
        let meta_path = dir
            .path()
            .join("pending")
            .join(id.as_str())
            .join("meta.json");
        let before = fs::metadata(&meta_path).unwrap();
        let bytes = fs::read(&meta_path).unwrap();
        queue.store().mark_in_flight(&id).unwrap();
        let after = fs::metadata(&meta_path).unwrap();
        assert_eq!(
            (before.ino(), before.len()),
            (after.ino(), after.len()),
            "the metadata file was replaced"
        );
        assert_eq!(fs::read(&meta_path).unwrap(), bytes);
        (id, meta_path)
        // Dropped here without the attempt's end: as if the process died.
    };
    assert!(meta_path.is_file());
    let queue = open(dir.path());
    let due = queue.next_due_ms().expect("the entry is pending");
    assert!(
        due >= now_ms() + SETTLE.as_millis() as u64 - 5_000,
        "an entry in flight at the crash waits for Odoo to settle"
    );
    // The attempt's end clears the marker.
    let meta = queue.store().meta(State::Pending, &id).unwrap();
    queue.save(&meta).await.unwrap();
    assert_eq!(queue.store().in_flight_since(&id), None);
}

#[tokio::test]
async fn a_torn_in_flight_marker_still_counts_from_its_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let (id, _) = queue.submit(&failure(), "rid").await.unwrap();
    fs::write(dir.path().join(format!("pending/{id}/inflight")), b"").unwrap();
    let since = queue.store().in_flight_since(&id).unwrap();
    assert!(now_ms().abs_diff(since) < 5_000);
}

/// Issue 15, item 7: damaged and other-version entries go to dead/ once
/// with the reason, and the gauges count what is really there.
#[tokio::test]
async fn unreadable_entries_are_quarantined_and_the_gauges_count_them_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let (good, _) = queue.submit(&failure(), "rid").await.unwrap();
    // Damage written behind the daemon's back: an empty metadata file (a
    // power cut) and a document of a future format version.
    let empty = EntryId::now();
    fs::create_dir(dir.path().join(format!("pending/{empty}"))).unwrap();
    fs::write(dir.path().join(format!("pending/{empty}/meta.json")), b"").unwrap();
    let future = EntryId::now();
    let future_dir = dir.path().join("pending").join(future.as_str());
    fs::create_dir(&future_dir).unwrap();
    fs::write(future_dir.join("meta.json"), br#"{"version":3,"id":"x"}"#).unwrap();
    fs::write(future_dir.join("image.bin"), b"IMG").unwrap();

    queue.reconcile().unwrap();
    assert_eq!(queue.store().ids(State::Pending).unwrap(), vec![good]);
    assert_eq!(
        queue.store().ids(State::Dead).unwrap(),
        vec![empty.clone(), future.clone()]
    );
    // Kept as found: reading it again says why.
    let kept = dir.path().join("dead").join(future.as_str());
    assert_eq!(fs::read(kept.join("image.bin")).unwrap(), b"IMG");
    assert_eq!(
        fs::read(kept.join("meta.json")).unwrap(),
        br#"{"version":3,"id":"x"}"#,
    );
    for (id, why) in [(&future, "spool format version 3"), (&empty, "empty")] {
        let error = queue.store().meta(State::Dead, id).unwrap_err().to_string();
        assert!(error.contains(why), "{error}");
    }
    // Once: nothing is left to find at the next poll.
    queue.reconcile().unwrap();
    assert_eq!(queue.store().ids(State::Dead).unwrap().len(), 2);

    let gauges = queue.gauges();
    assert_eq!((gauges.pending, gauges.dead), (1, 2));
    assert!(gauges.oldest_age_ms.is_some());
}

#[tokio::test]
async fn the_oldest_age_is_that_of_the_oldest_pending_entry() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), false, ROOMY).unwrap();
        let (mut meta, _) = Meta::for_result(&failure(), "rid");
        meta.received_at_ms = now_ms() - 3_600_000;
        store.put(&meta, None).unwrap();
    }
    let queue = open(dir.path());
    queue.submit(&failure(), "rid").await.unwrap();
    let gauges = queue.gauges();
    assert_eq!(gauges.pending, 2);
    let age = gauges.oldest_age_ms.unwrap();
    assert!((3_600_000..3_700_000).contains(&age), "{age}");
}
