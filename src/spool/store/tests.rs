//! The on-disk store: durability layout, limits, moves, and damage.

use super::*;
use crate::callback::{CallbackResult, Claims, ImagePayload, Outcome};

const ROOMY: Limits = Limits {
    max_bytes: 1 << 30,
    max_entries: 1000,
};

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
    let (loaded, image) = store.load(&meta.id).unwrap();
    assert_eq!(loaded.request_ref, "7");
    assert_eq!(image.as_deref(), Some(&b"IMAGE"[..]));
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(store.usage().entries, 1);
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
    assert_eq!(store.usage().entries, 2);
    assert!(store.usage().bytes > 5);
}

#[test]
fn limits_refuse_without_leaving_anything_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        false,
        Limits {
            max_bytes: 1 << 20,
            max_entries: 1,
        },
    )
    .unwrap();
    put(&store, None);
    let (meta, _) = Meta::for_result(&result(None), "rid");
    assert!(matches!(
        store.put(&meta, None),
        Err(SpoolError::Full { .. })
    ));
    assert_eq!(store.ids(State::Pending).unwrap().len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        false,
        Limits {
            max_bytes: 100,
            max_entries: 10,
        },
    )
    .unwrap();
    let (meta, image) = Meta::for_result(&result(Some(&[0u8; 200])), "rid");
    let error = store.put(&meta, image.as_deref()).unwrap_err();
    assert!(error.to_string().contains("spool.max_bytes"), "{error}");
    assert!(store.ids(State::Pending).unwrap().is_empty());
    assert_eq!(store.usage(), Usage::default());
}

#[test]
fn an_unwritable_spool_fails_and_leaves_nothing_in_pending() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), false, ROOMY).unwrap();
    // Something where the entry must be staged makes the write fail, for
    // both layouts (a file for an entry without image, a directory with one).
    let (meta, _) = Meta::for_result(&result(None), "rid");
    fs::create_dir(dir.path().join("tmp").join(format!("{}.json", meta.id))).unwrap();
    assert!(matches!(store.put(&meta, None), Err(SpoolError::Io { .. })));
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
fn entries_without_an_image_are_single_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, ROOMY).unwrap();
    let plain = put(&store, None);
    let with_image = put(&store, Some(b"IMG"));
    assert!(
        dir.path()
            .join("pending")
            .join(format!("{}.json", plain.id))
            .is_file()
    );
    assert!(
        dir.path()
            .join("pending")
            .join(with_image.id.as_str())
            .join("meta.json")
            .is_file()
    );
    assert_eq!(
        store.ids(State::Pending).unwrap(),
        vec![plain.id.clone(), with_image.id.clone()]
    );
    let mut updated = plain.clone();
    updated.attempts = 4;
    store.update(State::Pending, &updated).unwrap();
    assert_eq!(store.meta(State::Pending, &plain.id).unwrap().attempts, 4);
    updated.dead = Some(super::super::entry::DeadLetter {
        reason: "r".into(),
        at_ms: 1,
    });
    store.transfer(State::Pending, &updated).unwrap();
    assert!(
        dir.path()
            .join("dead")
            .join(format!("{}.json", plain.id))
            .is_file()
    );
    store.remove(State::Dead, &plain.id).unwrap();
    store.remove(State::Pending, &with_image.id).unwrap();
    assert!(
        fs::read_dir(dir.path().join("pending"))
            .unwrap()
            .next()
            .is_none(),
        "nothing left behind"
    );
    assert!(
        fs::read_dir(dir.path().join("dead"))
            .unwrap()
            .next()
            .is_none()
    );
    assert_eq!(store.usage(), Usage::default());
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
        fs::write(
            dir.path()
                .join("pending")
                .join("00000000000000000001-00000000.json.new"),
            b"{",
        )
        .unwrap();
    }
    let store = Store::open(dir.path(), false, ROOMY).unwrap();
    assert!(
        fs::read_dir(dir.path().join("pending"))
            .unwrap()
            .next()
            .is_none()
    );
    assert_eq!(store.usage(), Usage::default());
}

#[test]
fn entries_move_to_dead_and_back_and_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, ROOMY).unwrap();
    let mut meta = put(&store, Some(b"IMG"));
    meta.attempts = 3;
    meta.dead = Some(super::super::entry::DeadLetter {
        reason: "unknown request".into(),
        at_ms: 1,
    });
    store.transfer(State::Pending, &meta).unwrap();
    assert!(store.ids(State::Pending).unwrap().is_empty());
    let dead = store.meta(State::Dead, &meta.id).unwrap();
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.dead.unwrap().reason, "unknown request");
    let (_, image) = store.load_in(State::Dead, &meta.id).unwrap();
    assert_eq!(image.as_deref(), Some(&b"IMG"[..]));

    meta.dead = None;
    store.transfer(State::Dead, &meta).unwrap();
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
        store.load(&meta.id),
        Err(SpoolError::Corrupt { .. })
    ));
    fs::write(entry.join("meta.json"), b"not json").unwrap();
    assert!(matches!(
        store.meta(State::Pending, &meta.id),
        Err(SpoolError::Corrupt { .. })
    ));
    let missing = EntryId::new();
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
    let replacing = dir
        .path()
        .join("pending")
        .join(meta.id.as_str())
        .join("meta.json.new");
    fs::write(&replacing, b"{").unwrap();
    let replacing_file = dir
        .path()
        .join("pending")
        .join("00000000000000000008-00000000.json.new");
    fs::write(&replacing_file, b"{").unwrap();
    daemon.mark_in_flight(&meta.id, 1).unwrap();
    let snapshot = || tree(dir.path());
    let before = snapshot();

    let inspected = Store::inspect(dir.path()).unwrap();
    assert_eq!(
        inspected.ids(State::Pending).unwrap(),
        vec![meta.id.clone()]
    );
    inspected.meta(State::Pending, &meta.id).unwrap();
    inspected.refresh_usage().unwrap();
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
fn a_quarantined_entry_keeps_its_files_and_leaves_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true, ROOMY).unwrap();
    let meta = put(&store, None);
    let path = dir.path().join("pending").join(format!("{}.json", meta.id));
    fs::write(&path, b"{\"version\":1}").unwrap();
    store.refresh_usage().unwrap();
    store.quarantine(&meta.id, "damaged").unwrap();
    let dead = dir.path().join("dead").join(format!("{}.json", meta.id));
    assert_eq!(fs::read(&dead).unwrap(), b"{\"version\":1}");
    assert_eq!(store.quarantine_reason(&meta.id).unwrap().reason, "damaged");
    assert_eq!(store.usage().dead, 1);
    store.remove(State::Dead, &meta.id).unwrap();
    assert!(store.quarantine_reason(&meta.id).is_none());
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
    let Err(SpoolError::Corrupt { reason, .. }) = store.load(&meta.id) else {
        panic!("the damage is not seen");
    };
    store.quarantine(&meta.id, &reason).unwrap();
    let dead = store.meta(State::Dead, &meta.id).unwrap();
    assert!(dead.dead.unwrap().reason.contains("wrong size"));
    assert!(store.quarantine_reason(&meta.id).is_none());
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
