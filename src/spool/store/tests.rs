//! The on-disk store: durability layout, limits, moves, and damage.

use super::*;
use crate::callback::{CallbackResult, Claims, ImagePayload, Outcome};
use crate::spool::entry::DeadLetter;

const ROOMY: u64 = 1 << 30;

fn result(image: Option<&'static [u8]>) -> CallbackResult {
    let outcome = match image {
        Some(bytes) => Outcome::Success {
            image: ImagePayload::Inline(Bytes::from_static(bytes)),
            claims: Claims::default(),
        },
        None => Outcome::Failure {
            message: "m".into(),
            details: None,
        },
    };
    CallbackResult {
        request_ref: "7".into(),
        outcome,
    }
}

fn put(store: &Store, image: Option<&'static [u8]>) -> Meta {
    let (meta, bytes) = Meta::for_result(&result(image), "rid");
    store.put(&meta, bytes.as_deref()).unwrap();
    meta
}

#[test]
fn put_then_load_round_trips_and_leaves_tmp_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, ROOMY).unwrap();
    let meta = put(&store, Some(b"IMAGE"));
    assert_eq!(store.ids(State::Pending).unwrap(), vec![meta.id.clone()]);
    let (loaded, image) = store.load(State::Pending, &meta.id).unwrap();
    assert_eq!(loaded.result.request_ref, "7");
    assert_eq!(image.as_deref(), Some(&b"IMAGE"[..]));
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(store.usage().pending, 1);
}

#[test]
fn debris_in_tmp_is_cleaned_at_open_and_counted_usage_is_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), false, ROOMY).unwrap();
        put(&store, None);
        put(&store, Some(b"12345"));
    }
    fs::create_dir(dir.path().join("tmp/00000000000000000001-00000000")).unwrap();
    fs::write(
        dir.path()
            .join("tmp/00000000000000000001-00000000/meta.json"),
        b"{half",
    )
    .unwrap();
    let store = Store::open(dir.path(), false, ROOMY).unwrap();
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(store.usage().pending, 2);
    assert!(store.usage().bytes > 5);
}

#[test]
fn max_bytes_refuses_without_leaving_anything_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false, 100).unwrap();
    let (meta, image) = Meta::for_result(&result(Some(&[0u8; 200])), "rid");
    let error = store.put(&meta, image.as_deref()).unwrap_err();
    assert!(matches!(error, SpoolError::Full(_)), "{error:?}");
    assert!(error.to_string().contains("spool.max_bytes"), "{error}");
    assert!(store.ids(State::Pending).unwrap().is_empty());
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(store.usage(), Usage::default());
}

#[test]
fn an_unwritable_spool_fails_and_leaves_nothing_in_pending() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false, ROOMY).unwrap();
    // Something where the entry must be staged makes the write fail.
    let (meta, image) = Meta::for_result(&result(Some(b"IMG")), "rid");
    fs::write(dir.path().join("tmp").join(meta.id.as_str()), b"in the way").unwrap();
    assert!(matches!(
        store.put(&meta, image.as_deref()),
        Err(SpoolError::Io { .. })
    ));
    assert!(store.ids(State::Pending).unwrap().is_empty());
    assert_eq!(store.usage(), Usage::default());
}

#[test]
fn every_entry_is_a_directory_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, ROOMY).unwrap();
    let plain = put(&store, None);
    let with_image = put(&store, Some(b"IMG"));
    let pending = dir.path().join("pending");
    assert!(pending.join(plain.id.as_str()).join("meta.json").is_file());
    assert!(!pending.join(plain.id.as_str()).join("image.bin").exists());
    assert_eq!(
        fs::read(pending.join(with_image.id.as_str()).join("image.bin")).unwrap(),
        b"IMG"
    );
    assert_eq!(
        store.ids(State::Pending).unwrap(),
        vec![plain.id.clone(), with_image.id.clone()]
    );
    let mut updated = plain.clone();
    updated.dead = Some(DeadLetter {
        reason: "r".into(),
        at_ms: 1,
    });
    store.mark_in_flight(&plain.id).unwrap();
    store
        .transfer(State::Pending, Some(&updated), &updated.id)
        .unwrap();
    let dead = dir.path().join("dead").join(plain.id.as_str());
    assert!(dead.join("meta.json").is_file());
    assert!(!dead.join("inflight").exists(), "the marker stays behind");
    store.remove(State::Dead, &plain.id).unwrap();
    store.remove(State::Pending, &with_image.id).unwrap();
    for state in ["pending", "dead", "tmp"] {
        let left: Vec<_> = fs::read_dir(dir.path().join(state)).unwrap().collect();
        assert!(left.is_empty(), "{state}: {left:?}");
    }
    assert_eq!(store.usage(), Usage::default());
}

/// No installed base has the single-file layout of earlier builds
/// (`<id>.json`), but one found must never be taken for debris.
#[test]
fn an_entry_in_the_old_layout_stops_serve_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), false, ROOMY).unwrap());
    let (meta, _) = Meta::for_result(&result(None), "rid");
    let old = dir.path().join("dead").join(format!("{}.json", meta.id));
    fs::write(&old, serde_json::to_vec(&meta).unwrap()).unwrap();
    let error = Store::open(dir.path(), false, ROOMY)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("layout of an earlier build") && error.contains("meta.json"),
        "{error}"
    );
    assert!(old.is_file(), "the entry is kept");
    // Moved as the message says, it is an entry again.
    let entry = dir.path().join("dead").join(meta.id.as_str());
    fs::create_dir(&entry).unwrap();
    fs::rename(&old, entry.join("meta.json")).unwrap();
    let store = Store::open(dir.path(), false, ROOMY).unwrap();
    assert_eq!(
        store
            .meta(State::Dead, &meta.id)
            .unwrap()
            .result
            .request_ref,
        "7"
    );
}

#[test]
fn a_removal_cut_short_is_cleared_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), false, ROOMY).unwrap();
        let meta = put(&store, Some(b"IMG"));
        // As if the process died right after unlinking meta.json.
        fs::remove_file(
            dir.path()
                .join("pending")
                .join(meta.id.as_str())
                .join("meta.json"),
        )
        .unwrap();
        // And an entry's directory left without anything.
        fs::create_dir(dir.path().join("dead/00000000000000000001-00000000")).unwrap();
    }
    let store = Store::open(dir.path(), false, ROOMY).unwrap();
    for state in ["pending", "dead"] {
        assert_eq!(fs::read_dir(dir.path().join(state)).unwrap().count(), 0);
    }
    assert_eq!(store.usage(), Usage::default());
}

#[test]
fn entries_move_to_dead_and_back_and_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, ROOMY).unwrap();
    let mut meta = put(&store, Some(b"IMG"));
    meta.attempts = 3;
    meta.dead = Some(DeadLetter {
        reason: "unknown request".into(),
        at_ms: 1,
    });
    store
        .transfer(State::Pending, Some(&meta), &meta.id)
        .unwrap();
    assert!(store.ids(State::Pending).unwrap().is_empty());
    let dead = store.meta(State::Dead, &meta.id).unwrap();
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.dead.unwrap().reason, "unknown request");
    let (_, image) = store.load(State::Dead, &meta.id).unwrap();
    assert_eq!(image.as_deref(), Some(&b"IMG"[..]));

    meta.dead = None;
    store.transfer(State::Dead, Some(&meta), &meta.id).unwrap();
    assert_eq!(store.ids(State::Pending).unwrap(), vec![meta.id.clone()]);
    store.remove(State::Pending, &meta.id).unwrap();
    assert!(store.ids(State::Pending).unwrap().is_empty());
    assert!(matches!(
        store.remove(State::Pending, &meta.id),
        Err(SpoolError::NotFound { .. })
    ));
    assert_eq!(store.usage(), Usage::default());
}

#[test]
fn updates_replace_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, ROOMY).unwrap();
    let mut meta = put(&store, None);
    meta.attempts = 9;
    meta.last_error = Some("Odoo is unreachable".into());
    store.update(State::Pending, &meta).unwrap();
    let read = store.meta(State::Pending, &meta.id).unwrap();
    assert_eq!(read.attempts, 9);
    assert_eq!(read.last_error.as_deref(), Some("Odoo is unreachable"));
}

#[test]
fn damage_is_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false, ROOMY).unwrap();
    let meta = put(&store, Some(b"IMAGE"));
    let entry = dir.path().join("pending").join(meta.id.as_str());
    fs::write(entry.join("image.bin"), b"IMA").unwrap();
    assert!(matches!(
        store.load(State::Pending, &meta.id),
        Err(SpoolError::Corrupt { .. })
    ));
    fs::remove_file(entry.join("image.bin")).unwrap();
    assert!(matches!(
        store.load(State::Pending, &meta.id),
        Err(SpoolError::Corrupt { .. })
    ));
    fs::write(entry.join("meta.json"), b"not json").unwrap();
    assert!(matches!(
        store.meta(State::Pending, &meta.id),
        Err(SpoolError::Corrupt { .. })
    ));
    let missing = EntryId::now();
    assert!(matches!(
        store.meta(State::Pending, &missing),
        Err(SpoolError::NotFound { .. })
    ));
}

#[test]
fn names_that_are_not_ids_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false, ROOMY).unwrap();
    fs::create_dir(dir.path().join("pending/lost+found")).unwrap();
    fs::write(dir.path().join("pending/notes.txt"), b"").unwrap();
    put(&store, None);
    assert_eq!(store.ids(State::Pending).unwrap().len(), 1);
}

#[test]
fn the_probe_writes_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, ROOMY).unwrap();
    store.probe_writable().unwrap();
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
}

/// Issue 15, item 8: one spool serves one `serve` process.
#[test]
fn a_second_serve_on_the_same_spool_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path(), false, ROOMY).unwrap();
    put(&first, None);
    let error = Store::open(dir.path(), false, ROOMY).unwrap_err();
    assert!(matches!(error, SpoolError::Busy { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("in use by another `influence-gen-bridge serve`")
            && text.contains(&format!("(pid {})", std::process::id())),
        "{text}"
    );
    // The refused open changed nothing of the first one's spool.
    assert_eq!(first.ids(State::Pending).unwrap().len(), 1);
    drop(first);
    Store::open(dir.path(), false, ROOMY).unwrap();
}

/// Issue 15, item 8: what `spool list` and `spool show` open leaves the
/// daemon's files alone, and so does a changing command.
#[test]
fn inspecting_and_administering_leave_the_daemons_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Store::open(dir.path(), false, ROOMY).unwrap();
    let meta = put(&daemon, Some(b"IMG"));
    // What a running daemon has under way: an entry being written, metadata
    // being replaced, an attempt in flight.
    let writing = dir.path().join("tmp").join("00000000000000000009-00000000");
    fs::create_dir(&writing).unwrap();
    let replacing = dir.path().join("pending").join(meta.id.as_str());
    fs::write(replacing.join("meta.json.new"), b"{").unwrap();
    daemon.mark_in_flight(&meta.id).unwrap();
    let snapshot = || tree(dir.path());
    let before = snapshot();

    let inspected = Store::inspect(dir.path()).unwrap();
    assert_eq!(
        inspected.ids(State::Pending).unwrap(),
        vec![meta.id.clone()]
    );
    inspected.meta(State::Pending, &meta.id).unwrap();
    inspected.scan().unwrap();
    drop(inspected);
    assert_eq!(snapshot(), before, "inspecting changed the spool");

    let admin = Store::administer(dir.path(), false).unwrap();
    admin.ids(State::Dead).unwrap();
    drop(admin);
    let after: Vec<_> = snapshot()
        .into_iter()
        .filter(|(name, _)| name != "admin.lock")
        .collect();
    assert_eq!(after, before, "administering touched the daemon's files");
}

#[test]
fn inspecting_a_missing_spool_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spool");
    assert!(matches!(Store::inspect(&root), Err(SpoolError::Io { .. })));
    assert!(!root.exists());
}

#[test]
fn a_quarantined_entry_keeps_its_files_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, ROOMY).unwrap();
    let meta = put(&store, None);
    let path = dir.path().join("pending").join(meta.id.as_str());
    fs::write(path.join("meta.json"), b"{\"version\":2}").unwrap();
    store.scan().unwrap();
    store.quarantine(&meta.id, "damaged").unwrap();
    let dead = dir.path().join("dead").join(meta.id.as_str());
    assert_eq!(
        fs::read(dead.join("meta.json")).unwrap(),
        b"{\"version\":2}"
    );
    let Err(SpoolError::Corrupt { reason, .. }) = store.meta(State::Dead, &meta.id) else {
        panic!("the damage is not seen");
    };
    assert!(reason.contains("damaged"), "{reason}");
    assert_eq!(store.usage().dead, 1);
    store.remove(State::Dead, &meta.id).unwrap();
    assert!(
        fs::read_dir(dir.path().join("dead"))
            .unwrap()
            .next()
            .is_none()
    );
    assert_eq!(store.usage(), Usage::default());

    // A readable entry (an image file of the wrong size) keeps the reason
    // in its metadata, like any dead letter.
    let meta = put(&store, Some(b"IMAGE"));
    fs::write(
        dir.path()
            .join("pending")
            .join(meta.id.as_str())
            .join("image.bin"),
        b"IMA",
    )
    .unwrap();
    let Err(SpoolError::Corrupt { reason, .. }) = store.load(State::Pending, &meta.id) else {
        panic!("the damage is not seen");
    };
    store.quarantine(&meta.id, &reason).unwrap();
    let dead = store.document(State::Dead, &meta.id).unwrap();
    assert!(dead.dead.unwrap().reason.contains("wrong size"));
}

/// Every path under `root` with its size, sorted.
fn tree(root: &Path) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let name = path.strip_prefix(root).unwrap().display().to_string();
            found.push((name, if meta.is_dir() { 0 } else { meta.len() }));
        }
    }
    found.sort();
    found
}
