//! Who may change the spool, and when: one `serve` process per spool, one
//! changing `spool` command at a time.
//!
//! `serve` holds an exclusive `flock` on `<spool>/serve.lock` for as long as
//! it runs, so a second `serve` on the same directory is refused at start
//! instead of sharing (and cleaning) the first one's files. The kernel drops
//! the lock when the process ends, even by `kill -9`: a lock file left
//! behind never blocks a restart. The file holds the holder's pid, for the
//! message.
//!
//! The changing `spool` commands (`retry`, `purge`) hold `<spool>/admin.lock`
//! while they run, so two admins never interleave. They need not wait for
//! the daemon: they change only `dead/` and move whole entries into
//! `pending/` by one rename, which the daemon takes as it finds it. Read-only
//! commands take no lock and write nothing.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{SpoolError, io_error};

/// The file `serve` locks.
pub const SERVE_LOCK_FILE: &str = "serve.lock";
/// The file the changing `spool` commands lock.
pub const ADMIN_LOCK_FILE: &str = "admin.lock";

/// A lock held until this value is dropped (or the process ends).
#[derive(Debug)]
pub struct Held {
    _file: File,
}

fn open(root: &Path, name: &str) -> Result<File, SpoolError> {
    let path = root.join(name);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_error("open", &path))
}

/// Takes the spool for this `serve` process, or says who has it.
pub fn serve(root: &Path) -> Result<Held, SpoolError> {
    let mut file = open(root, SERVE_LOCK_FILE)?;
    let path = root.join(SERVE_LOCK_FILE);
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.take(32).read_to_string(&mut text);
            return Err(SpoolError::Busy {
                path: root.to_owned(),
                holder: text.trim().parse().ok(),
            });
        }
        Err(std::fs::TryLockError::Error(source)) => {
            return Err(io_error("lock", &path)(source));
        }
    }
    file.set_len(0)
        .and_then(|()| file.write_all(std::process::id().to_string().as_bytes()))
        .map_err(io_error("write", &path))?;
    Ok(Held { _file: file })
}

/// Waits for, then holds, the lock of the changing `spool` commands. The
/// file is only read (flock needs no more), so one created by another user
/// of the spool, such as root, does not stand in the way.
pub fn admin(root: &Path) -> Result<Held, SpoolError> {
    let path = root.join(ADMIN_LOCK_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => open(root, ADMIN_LOCK_FILE)?,
        Err(e) => return Err(io_error("open", &path)(e)),
    };
    file.lock().map_err(io_error("lock", &path))?;
    Ok(Held { _file: file })
}
