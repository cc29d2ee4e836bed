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
//! `retry` and `purge` hold `<spool>/admin.lock` while they run, so two
//! admins never interleave. They need not wait for the daemon: they change
//! only `dead/` and move whole entries into `pending/` by one rename, which
//! the daemon takes as it finds it. Read-only commands take no lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{SpoolError, io_error};

/// A lock held until this value is dropped (or the process ends).
#[derive(Debug)]
pub struct Held {
    _file: File,
}

fn open(path: &Path) -> Result<File, SpoolError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_error("open", path))
}

/// Takes the spool for this `serve` process, or says who has it.
pub fn serve(root: &Path) -> Result<Held, SpoolError> {
    let path = root.join("serve.lock");
    let mut file = open(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.take(32).read_to_string(&mut text);
            return Err(SpoolError::Busy {
                path: root.to_owned(),
                holder: text.trim().parse().ok(),
            });
        }
        Err(TryLockError::Error(source)) => return Err(io_error("lock", &path)(source)),
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
    let path = root.join("admin.lock");
    let file = File::open(&path).or_else(|_| open(&path))?;
    file.lock().map_err(io_error("lock", &path))?;
    Ok(Held { _file: file })
}
