//! The `spool` commands an admin runs, beside a running daemon or not:
//! list, show, retry and purge entries directly in the spool directory.
//!
//! `list` and `show` open the spool with [`Store::inspect`]: they create,
//! lock, clean and write nothing. `retry` and `purge` open it with
//! [`Store::administer`] (one such command at a time): they change only
//! dead letters, and `retry` moves a whole entry into `pending/` by one
//! rename, which the daemon takes at its next poll of `pending/`.
//! Pending entries and `tmp/` belong to the daemon and are never touched.
//! The commands read only `[spool]` of the configuration, never a secret.
//! Nothing printed is secret: tokens are never spooled, and image URLs are
//! shown without their query string (it may carry a signature). An entry
//! whose metadata cannot be read (damaged, or of another format version) is
//! listed as such with the reason; it can be purged, not retried.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use sha2::{Digest, Sha256};

use super::entry::{EntryId, Meta, StoredImage, StoredOutcome, now_ms, time_of};
use super::store::{SpoolError, State, Store};

/// `influence-gen-bridge spool …`
#[derive(Debug, Subcommand)]
pub enum SpoolCommand {
    /// List pending entries and dead letters, oldest first, with age, attempts and last error.
    List,
    /// Show one entry's metadata (its payload only with --payload; secrets are never stored).
    Show {
        /// The entry's id, as `spool list` prints it.
        id: String,
        /// Also show the payload: the failure message, the image URL (without its query) or
        /// the inline image's size and SHA-256.
        #[arg(long)]
        payload: bool,
    },
    /// Move dead letters back to pending, with a fresh attempt count (after fixing the cause).
    Retry(Selection),
    /// Delete dead letters for good.
    Purge(PurgeSelection),
}

/// Which dead letters to retry.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Selection {
    /// The entry's id.
    pub id: Option<String>,
    /// Every dead letter.
    #[arg(long)]
    pub all_dead: bool,
}

/// Which dead letters to purge.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PurgeSelection {
    /// The entry's id.
    pub id: Option<String>,
    /// Every dead letter that died longer ago than this, e.g. "30days".
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub dead_older_than: Option<Duration>,
}

impl SpoolCommand {
    /// Runs the command against the spool of `config` and prints the result.
    pub fn run(self, config: &crate::config::SpoolConfig) -> ExitCode {
        let opened = match self {
            Self::List | Self::Show { .. } => Store::inspect(&config.dir),
            Self::Retry(_) | Self::Purge(_) => Store::administer(&config.dir, config.fsync),
        };
        let store = match opened {
            Ok(store) => store,
            Err(error) => {
                eprintln!(
                    "error: cannot open the spool at {}: {error}",
                    config.dir.display()
                );
                return ExitCode::FAILURE;
            }
        };
        // An entry without an image is the file `<id>.json`: its file name is accepted too.
        let parse = |text: &str| {
            EntryId::parse(text.strip_suffix(".json").unwrap_or(text)).ok_or_else(|| {
                SpoolError::NotFound {
                    state: State::Pending,
                    id: format!("{text} (not an entry id)"),
                }
            })
        };
        let result = match self {
            Self::List => list(&store),
            Self::Show { id, payload } => parse(&id).and_then(|id| show(&store, &id, payload)),
            Self::Retry(Selection { id: Some(id), .. }) => {
                parse(&id).and_then(|id| retry(&store, &id))
            }
            Self::Retry(Selection { .. }) => retry_all(&store),
            Self::Purge(PurgeSelection { id: Some(id), .. }) => {
                parse(&id).and_then(|id| purge(&store, &id))
            }
            Self::Purge(PurgeSelection {
                dead_older_than, ..
            }) => purge_older_than(&store, dead_older_than.unwrap_or(Duration::MAX)),
        };
        match result {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    }
}

/// One line of `spool list`, oldest first, pending before dead.
pub fn list(store: &Store) -> Result<String, SpoolError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<29} {:>9} {:>8}  {:<10} {:<8} LAST ERROR",
        "STATE", "ID", "AGE", "ATTEMPTS", "REQUEST", "KIND"
    );
    let mut counts = [0usize; 2];
    for (slot, state) in [State::Pending, State::Dead].into_iter().enumerate() {
        for id in store.ids(state)? {
            let meta = match store.meta(state, &id) {
                Ok(meta) => meta,
                Err(SpoolError::NotFound { .. }) => continue,
                Err(error) => {
                    counts[slot] += 1;
                    let why = damage(store, &id, &error);
                    let _ = writeln!(
                        out,
                        "{:<8} {id:<29} {:>9} {:>8}  {:<10} {:<8} {}",
                        state.label(),
                        age(id.arrived_ms()),
                        "-",
                        "-",
                        "damaged",
                        shorten(&why, 100),
                    );
                    continue;
                }
            };
            counts[slot] += 1;
            let error = meta
                .dead
                .as_ref()
                .map(|d| d.reason.as_str())
                .or(meta.last_error.as_deref())
                .unwrap_or("-");
            let _ = writeln!(
                out,
                "{:<8} {id:<29} {:>9} {:>8}  {:<10} {:<8} {}",
                state.label(),
                age(meta.received_at_ms),
                meta.attempts,
                shorten(&meta.request_ref, 10),
                meta.kind(),
                shorten(error, 100),
            );
        }
    }
    let usage = store.refresh_usage()?;
    let _ = write!(
        out,
        "{} pending, {} dead, {} bytes on disk",
        counts[0], counts[1], usage.bytes
    );
    Ok(out)
}

/// Why an entry cannot be read: its quarantine reason when it has one.
fn damage(store: &Store, id: &EntryId, error: &SpoolError) -> String {
    match store.quarantine_reason(id) {
        Some(dead) => dead.reason,
        None => format!("unreadable: {error}"),
    }
}

/// `spool show <id>`: the entry's metadata, and its payload on request.
pub fn show(store: &Store, id: &EntryId, with_payload: bool) -> Result<String, SpoolError> {
    let (state, meta) = match find(store, id)? {
        (state, Ok(meta)) => (state, meta),
        (state, Err(reason)) => return Ok(show_damaged(store, state, id, &reason)),
    };
    let mut out = String::new();
    let _ = writeln!(out, "id:              {}", meta.id);
    let _ = writeln!(out, "state:           {}", state.label());
    let _ = writeln!(out, "request:         {}", meta.request_ref);
    let _ = writeln!(out, "kind:            {}", meta.kind());
    let _ = writeln!(
        out,
        "received:        {} ({} ago)",
        timestamp(meta.received_at_ms),
        age(meta.received_at_ms)
    );
    let _ = writeln!(out, "http request id: {}", meta.http_request_id);
    let _ = writeln!(out, "attempts:        {}", meta.attempts);
    if let Some(at) = meta.last_attempt_at_ms {
        let _ = writeln!(out, "last attempt:    {}", timestamp(at));
    }
    if state == State::Pending {
        let _ = writeln!(
            out,
            "next attempt:    {}",
            timestamp(meta.next_attempt_at_ms)
        );
    }
    if let Some(error) = &meta.last_error {
        let _ = writeln!(out, "last error:      {error}");
    }
    if let Some(dead) = &meta.dead {
        let _ = writeln!(out, "dead since:      {}", timestamp(dead.at_ms));
        let _ = writeln!(out, "dead because:    {}", dead.reason);
    }
    if with_payload {
        payload(store, state, &meta, &mut out)?;
    } else {
        let _ = writeln!(out, "(payload not shown; add --payload)");
    }
    Ok(out.trim_end().to_owned())
}

/// `spool show` of an entry whose metadata cannot be read.
fn show_damaged(store: &Store, state: State, id: &EntryId, reason: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "id:              {id}");
    let _ = writeln!(out, "state:           {}", state.label());
    let _ = writeln!(
        out,
        "received:        {} ({} ago)",
        timestamp(id.arrived_ms()),
        age(id.arrived_ms())
    );
    let _ = writeln!(out, "unreadable:      {reason}");
    if let Some(dead) = store.quarantine_reason(id) {
        let _ = writeln!(out, "dead since:      {}", timestamp(dead.at_ms));
        let _ = writeln!(out, "dead because:    {}", dead.reason);
    }
    let _ = write!(
        out,
        "(its metadata cannot be read: it cannot be retried as it is; repair it by hand, or purge it)"
    );
    out
}

fn payload(store: &Store, state: State, meta: &Meta, out: &mut String) -> Result<(), SpoolError> {
    match &meta.outcome {
        StoredOutcome::Failure { message, details } => {
            let _ = writeln!(out, "failure message: {message}");
            let _ = writeln!(
                out,
                "failure details: {}",
                details.as_deref().unwrap_or("-")
            );
        }
        StoredOutcome::Success { image, claims } => {
            match image {
                StoredImage::Inline { bytes } => {
                    let (_, data) = store.load_in(state, &meta.id)?;
                    let digest = Sha256::digest(data.as_deref().unwrap_or_default());
                    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                    let _ = writeln!(out, "image:           {bytes} bytes inline, sha256 {hex}");
                }
                StoredImage::Url(url) => {
                    let _ = writeln!(out, "image url:       {}", without_query(url));
                }
                StoredImage::Refused(reason) => {
                    let _ = writeln!(out, "image refused:   {reason}");
                }
            }
            let claims = serde_json::to_string(claims).unwrap_or_default();
            let _ = writeln!(out, "claims:          {claims}");
        }
    }
    Ok(())
}

/// `spool retry <id>`: a dead letter goes back to pending with a fresh
/// attempt count. Returns what was done.
pub fn retry(store: &Store, id: &EntryId) -> Result<String, SpoolError> {
    let mut meta = store.meta(State::Dead, id).map_err(|error| match error {
        SpoolError::Corrupt { reason, .. } => SpoolError::Refused(format!(
            "{id} cannot be retried: {reason}; repair its metadata by hand, or purge it"
        )),
        error => error,
    })?;
    meta.dead = None;
    meta.attempts = 0;
    meta.last_error = None;
    meta.next_attempt_at_ms = now_ms();
    // A retried entry counts its age from now, or max_age would bury it again.
    meta.received_at_ms = now_ms();
    store.transfer(State::Dead, &meta)?;
    Ok(format!(
        "{id}: back in pending; the daemon applies it at its next poll"
    ))
}

/// `spool retry --all-dead`: every dead letter that can be retried is; the
/// others are named in the error.
pub fn retry_all(store: &Store) -> Result<String, SpoolError> {
    let mut retried = 0;
    let mut refused = Vec::new();
    for id in store.ids(State::Dead)? {
        match retry(store, &id) {
            Ok(_) => retried += 1,
            Err(SpoolError::NotFound { .. }) => {}
            Err(error) => refused.push(error.to_string()),
        }
    }
    if refused.is_empty() {
        return Ok(format!("{retried} dead letter(s) back in pending"));
    }
    Err(SpoolError::Refused(format!(
        "{retried} dead letter(s) back in pending; {} not:\n  {}",
        refused.len(),
        refused.join("\n  ")
    )))
}

/// `spool purge <id>`: deletes a dead letter.
pub fn purge(store: &Store, id: &EntryId) -> Result<String, SpoolError> {
    match store.remove(State::Dead, id) {
        Err(SpoolError::NotFound { .. }) if store.meta(State::Pending, id).is_ok() => {
            Err(SpoolError::NotFound {
                state: State::Dead,
                id: format!("{id} (it is pending: only dead letters can be purged)"),
            })
        }
        Err(error) => Err(error),
        Ok(()) => Ok(format!("{id}: purged")),
    }
}

/// `spool purge --dead-older-than <duration>`.
pub fn purge_older_than(store: &Store, age_limit: Duration) -> Result<String, SpoolError> {
    let cutoff = now_ms().saturating_sub(u64::try_from(age_limit.as_millis()).unwrap_or(u64::MAX));
    let mut purged = 0;
    for id in store.ids(State::Dead)? {
        let dead_at = match store.meta(State::Dead, &id) {
            Ok(meta) => meta.dead.as_ref().map_or(meta.received_at_ms, |d| d.at_ms),
            Err(SpoolError::NotFound { .. }) => continue,
            Err(SpoolError::Corrupt { .. }) => store
                .quarantine_reason(&id)
                .map_or_else(|| id.arrived_ms(), |dead| dead.at_ms),
            Err(error) => return Err(error),
        };
        if dead_at <= cutoff {
            store.remove(State::Dead, &id)?;
            purged += 1;
        }
    }
    Ok(format!(
        "{purged} dead letter(s) older than {} purged",
        humantime::format_duration(age_limit)
    ))
}

/// Where entry `id` is, and its metadata or why it cannot be read.
fn find(store: &Store, id: &EntryId) -> Result<(State, Result<Meta, String>), SpoolError> {
    for state in [State::Pending, State::Dead] {
        match store.meta(state, id) {
            Ok(meta) => return Ok((state, Ok(meta))),
            Err(SpoolError::Corrupt { reason, .. }) => return Ok((state, Err(reason))),
            Err(SpoolError::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Err(SpoolError::NotFound {
        state: State::Dead,
        id: format!("{id} (nor a pending one)"),
    })
}

fn age(since_ms: u64) -> String {
    let seconds = now_ms().saturating_sub(since_ms) / 1000;
    humantime::format_duration(Duration::from_secs(seconds))
        .to_string()
        .replace(' ', "")
}

fn timestamp(ms: u64) -> String {
    humantime::format_rfc3339_seconds(time_of(ms)).to_string()
}

fn shorten(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

fn without_query(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let had_query = parsed.query().is_some();
            parsed.set_query(None);
            parsed.set_fragment(None);
            if had_query {
                format!("{parsed}?…")
            } else {
                parsed.to_string()
            }
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::{CallbackResult, Claims, ImagePayload, Outcome};
    use crate::spool::entry::DeadLetter;
    use crate::spool::store::Limits;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            false,
            Limits {
                max_bytes: 1 << 30,
                max_entries: 100,
            },
        )
        .unwrap();
        (dir, store)
    }

    fn dead_entry(store: &Store, url: &str) -> Meta {
        let result = CallbackResult {
            request_ref: "42".into(),
            outcome: Outcome::Success {
                image: ImagePayload::Url(url.into()),
                claims: Claims::default(),
            },
        };
        let (mut meta, _) = Meta::for_result(&result, "rid-1");
        store.put(&meta, None).unwrap();
        meta.attempts = 2;
        meta.dead = Some(DeadLetter {
            reason: "unknown request \"42\"".into(),
            at_ms: now_ms(),
        });
        store.transfer(State::Pending, &meta).unwrap();
        meta
    }

    #[test]
    fn list_and_show_describe_entries_without_secrets() {
        let (_dir, store) = store();
        let meta = dead_entry(
            &store,
            "https://img.example.com/a.png?X-Amz-Signature=topsecret",
        );
        let listing = list(&store).unwrap();
        assert!(listing.contains("dead"), "{listing}");
        assert!(listing.contains("unknown request"), "{listing}");
        assert!(
            listing.ends_with("0 pending, 1 dead") || listing.contains("0 pending, 1 dead"),
            "{listing}"
        );
        let shown = show(&store, &meta.id, false).unwrap();
        assert!(shown.contains("attempts:        2"), "{shown}");
        assert!(shown.contains("payload not shown"), "{shown}");
        let shown = show(&store, &meta.id, true).unwrap();
        assert!(shown.contains("https://img.example.com/a.png?…"), "{shown}");
        assert!(!shown.contains("topsecret"), "{shown}");
    }

    #[test]
    fn retry_revives_and_purge_deletes_only_dead_letters() {
        let (_dir, store) = store();
        let meta = dead_entry(&store, "https://x.example/y.png");
        retry(&store, &meta.id).unwrap();
        let revived = store.meta(State::Pending, &meta.id).unwrap();
        assert_eq!(revived.attempts, 0);
        assert!(revived.dead.is_none());
        let error = purge(&store, &meta.id).unwrap_err().to_string();
        assert!(error.contains("only dead letters"), "{error}");

        let second = dead_entry(&store, "https://x.example/z.png");
        assert_eq!(
            retry_all(&store).unwrap(),
            "1 dead letter(s) back in pending"
        );
        assert!(store.ids(State::Dead).unwrap().is_empty());
        let _ = second;
    }

    #[test]
    fn a_damaged_dead_letter_is_listed_shown_and_purged_but_not_retried() {
        let (dir, store) = store();
        let meta = dead_entry(&store, "https://x.example/y.png");
        let file = dir.path().join("dead").join(format!("{}.json", meta.id));
        std::fs::write(&file, br#"{"version":7}"#).unwrap();
        let listing = list(&store).unwrap();
        assert!(listing.contains("0 pending, 1 dead"), "{listing}");
        assert!(listing.contains("spool format version 7"), "{listing}");
        let shown = show(&store, &meta.id, true).unwrap();
        assert!(shown.contains("state:           dead"), "{shown}");
        assert!(shown.contains("unreadable:"), "{shown}");
        let refused = retry(&store, &meta.id).unwrap_err().to_string();
        assert!(refused.contains("cannot be retried"), "{refused}");
        let refused = retry_all(&store).unwrap_err().to_string();
        assert!(
            refused.starts_with("0 dead letter(s) back in pending; 1 not"),
            "{refused}"
        );
        assert!(file.exists());
        assert!(
            purge_older_than(&store, Duration::ZERO)
                .unwrap()
                .starts_with("1 dead")
        );
        assert!(!file.exists());
    }

    #[test]
    fn purge_by_age_keeps_recent_dead_letters() {
        let (_dir, store) = store();
        let meta = dead_entry(&store, "https://x.example/y.png");
        assert!(
            purge_older_than(&store, Duration::from_secs(3600))
                .unwrap()
                .starts_with("0 dead")
        );
        assert!(
            purge_older_than(&store, Duration::ZERO)
                .unwrap()
                .starts_with("1 dead")
        );
        assert!(matches!(
            store.meta(State::Dead, &meta.id),
            Err(SpoolError::NotFound { .. })
        ));
    }
}
