//! Group commit for a directory's fsync.
//!
//! Every new spool entry appears in `pending/` by a rename that must be made
//! durable with an fsync of `pending/`. One fsync covers every rename done
//! before it started, so concurrent writers share them: a writer that
//! arrives while an fsync is running waits for the next one, which the
//! first of the waiters starts; under load, one fsync makes many entries
//! durable instead of one each.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out: one per caller, after its rename.
    issued: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// An fsync is running.
    running: bool,
}

/// The group-committed fsync of one directory.
#[derive(Debug)]
pub struct GroupSync {
    dir: PathBuf,
    state: Mutex<State>,
    done: Condvar,
}

impl GroupSync {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            state: Mutex::default(),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once an fsync of the directory that started after this call
    /// has completed (blocking: call from the blocking pool).
    pub fn sync(&self) -> io::Result<()> {
        let mut state = self.lock();
        state.issued += 1;
        let ticket = state.issued;
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if state.running {
                state = self.done.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Covers every ticket issued so far: their renames are done.
            let covered = state.issued;
            state.running = true;
            drop(state);
            let result = File::open(&self.dir).and_then(|dir| dir.sync_all());
            state = self.lock();
            state.running = false;
            if result.is_ok() {
                state.durable = state.durable.max(covered);
            }
            self.done.notify_all();
            result?;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn every_caller_returns_after_a_covering_sync() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(GroupSync::new(dir.path()));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let sync = Arc::clone(&sync);
                std::thread::spawn(move || sync.sync())
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
        let state = sync.lock();
        assert_eq!(state.durable, 16);
        assert!(!state.running);
    }

    #[test]
    fn a_failing_fsync_is_reported_to_its_caller() {
        let sync = GroupSync::new(Path::new("/nonexistent/spool/pending"));
        assert!(sync.sync().is_err());
        assert_eq!(sync.lock().durable, 0);
    }
}

#[cfg(test)]
mod bench {
    use std::fs;
    use std::io::Write;
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    /// What `Store::put` does for a small entry, the fsync of `pending/`
    /// grouped or one per entry.
    fn put(root: &Path, n: usize, grouped: Option<&GroupSync>) {
        let staging = root.join("tmp").join(n.to_string());
        fs::create_dir(&staging).unwrap();
        let mut file = fs::File::create(staging.join("meta.json")).unwrap();
        file.write_all(&[b'x'; 400]).unwrap();
        file.sync_all().unwrap();
        File::open(&staging).unwrap().sync_all().unwrap();
        fs::rename(&staging, root.join("pending").join(n.to_string())).unwrap();
        match grouped {
            Some(sync) => sync.sync().unwrap(),
            None => File::open(root.join("pending"))
                .unwrap()
                .sync_all()
                .unwrap(),
        }
    }

    fn run(threads: usize, per_thread: usize, grouped: bool) -> f64 {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let root = Arc::new(dir.path().to_owned());
        fs::create_dir(root.join("tmp")).unwrap();
        fs::create_dir(root.join("pending")).unwrap();
        let sync = Arc::new(GroupSync::new(&root.join("pending")));
        let start = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (root, sync) = (Arc::clone(&root), Arc::clone(&sync));
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        put(&root, t * per_thread + i, grouped.then_some(&*sync));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        (threads * per_thread) as f64 / start.elapsed().as_secs_f64()
    }

    #[test]
    #[ignore = "benchmark: cargo test --lib group_sync::bench -- --ignored --nocapture"]
    fn group_commit_against_one_fsync_each() {
        for threads in [1, 8, 32] {
            for round in 0..2 {
                let each = run(threads, 200, false);
                let grouped = run(threads, 200, true);
                println!(
                    "{threads} writers (round {round}): {each:.0}/s one fsync each, {grouped:.0}/s grouped"
                );
            }
        }
    }
}
