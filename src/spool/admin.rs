//! The `spool` commands an admin runs, beside a running daemon or not.
//! `list` and `show` only read ([`Store::inspect`]); `retry` and `purge`
//! ([`Store::administer`]) change only dead letters, a retried one going
//! back into `pending/` by one rename. They read only `[spool]` of the
//! configuration, and print no secret: tokens are never spooled, image URLs
//! are shown without their query (it may carry a signature). An entry whose
//! metadata cannot be read is listed as damaged; it can be purged, not retried.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::entry::{EntryId, now_ms};
use super::store::{SpoolError, State, Store};
use crate::callback::{ImagePayload, Outcome};

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
    Retry {
        /// The entry's id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<String>,
        /// Every dead letter.
        #[arg(long)]
        all_dead: bool,
    },
    /// Delete dead letters for good.
    Purge {
        /// The entry's id.
        #[arg(
            required_unless_present = "dead_older_than",
            conflicts_with = "dead_older_than"
        )]
        id: Option<String>,
        /// Every dead letter that died longer ago than this, e.g. "30days".
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        dead_older_than: Option<Duration>,
    },
}

impl SpoolCommand {
    /// Runs the command against the spool of `config` and prints the result.
    pub fn run(self, config: &crate::config::SpoolConfig) -> ExitCode {
        let opened = match self {
            Self::List | Self::Show { .. } => Store::inspect(&config.dir),
            _ => Store::administer(&config.dir, config.fsync),
        };
        let dir = config.dir.display();
        let store =
            opened.map_err(|e| SpoolError::Refused(format!("cannot open the spool at {dir}: {e}")));
        let parse = |text: &str| {
            EntryId::parse(text)
                .ok_or_else(|| SpoolError::Refused(format!("{text} is not a spool entry id")))
        };
        let done = store.and_then(|store| match self {
            Self::List => list(&store),
            Self::Show { id, payload } => show(&store, &parse(&id)?, payload),
            Self::Retry { id: Some(id), .. } => retry(&store, &parse(&id)?),
            Self::Retry { .. } => retry_all(&store),
            Self::Purge { id: Some(id), .. } => purge(&store, &parse(&id)?),
            Self::Purge {
                dead_older_than, ..
            } => purge_older_than(&store, dead_older_than.unwrap_or(Duration::MAX)),
        });
        match &done {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("error: {error}"),
        }
        ExitCode::from(u8::from(done.is_err()))
    }
}

/// `spool list`: a line per entry, oldest first, pending before dead.
pub fn list(store: &Store) -> Result<String, SpoolError> {
    let mut out = String::from(
        "STATE    ID                                  AGE ATTEMPTS  REQUEST    KIND     LAST ERROR\n",
    );
    for state in [State::Pending, State::Dead] {
        for id in store.ids(state)? {
            let (since_ms, attempts, request, kind, error) = match store.meta(state, &id) {
                Ok(meta) => {
                    let (since, kind) = (meta.received_at_ms, meta.kind());
                    let request = shorten(&meta.result.request_ref, 10);
                    let error = (meta.dead.map(|dead| dead.reason)).or(meta.last_error);
                    (since, meta.attempts.to_string(), request, kind, error)
                }
                Err(SpoolError::NotFound { .. }) => continue,
                Err(error) => {
                    let why = Some(error.to_string());
                    (id.arrived_ms(), "-".into(), "-".into(), "damaged", why)
                }
            };
            let error = shorten(error.as_deref().unwrap_or("-"), 100);
            let (state, age) = (state.label(), age(since_ms));
            let _ = writeln!(
                out,
                "{state:<8} {id:<29} {age:>9} {attempts:>8}  {request:<10} {kind:<8} {error}"
            );
        }
    }
    let u = store.usage();
    let _ = write!(
        out,
        "{} pending, {} dead, {} bytes on disk",
        u.pending, u.dead, u.bytes
    );
    Ok(out)
}

/// `spool show <id>`: the entry's metadata document, with its state; the
/// payload (failure message, image URL without its query, inline image's
/// size and SHA-256) only on request.
pub fn show(store: &Store, id: &EntryId, with_payload: bool) -> Result<String, SpoolError> {
    let (state, found) = [State::Pending, State::Dead]
        .into_iter()
        .map(|state| (state, store.meta(state, id)))
        .find(|(_, found)| !matches!(found, Err(SpoolError::NotFound { .. })))
        .ok_or_else(|| SpoolError::Refused(format!("no spool entry {id}, pending or dead")))?;
    let state_name = state.label();
    let meta = match found {
        Err(SpoolError::Corrupt { reason, .. }) => {
            return Ok(format!(
                "{id} ({state_name}) is damaged: {reason}\n\
                 (it cannot be retried as it is; repair its metadata by hand, or purge it)"
            ));
        }
        found => found?,
    };
    let mut document = serde_json::to_value(&meta).unwrap_or_default();
    document["state"] = state_name.into();
    let payload = &mut document["outcome"];
    match &meta.result.outcome {
        _ if !with_payload => {
            *payload = json!({ "status": payload["status"], "payload": "not shown; add --payload" })
        }
        Outcome::Success {
            image: ImagePayload::Inline(_),
            ..
        } => {
            let data = store.load(state, id)?.1.unwrap_or_default();
            let hex: String = Sha256::digest(&data)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            payload["image"] = json!({ "inline": format!("{} bytes, sha256 {hex}", data.len()) });
        }
        Outcome::Success {
            image: ImagePayload::Url(url),
            ..
        } => payload["image"] = json!({ "url": without_query(url) }),
        _ => {}
    }
    Ok(serde_json::to_string_pretty(&document).unwrap_or_default())
}

/// `spool retry <id>`: a dead letter goes back to pending with a fresh
/// attempt count and age (or `spool.max_age` would bury it again).
pub fn retry(store: &Store, id: &EntryId) -> Result<String, SpoolError> {
    let mut meta = store.meta(State::Dead, id).map_err(|error| match error {
        SpoolError::Corrupt { reason, .. } => SpoolError::Refused(format!(
            "{id} cannot be retried: {reason}; repair its metadata by hand, or purge it"
        )),
        error => error,
    })?;
    (meta.dead, meta.attempts, meta.last_error) = (None, 0, None);
    (meta.received_at_ms, meta.next_attempt_at_ms) = (now_ms(), now_ms());
    store.transfer(State::Dead, Some(&meta), id)?;
    Ok(format!(
        "{id}: back in pending; the daemon applies it at its next poll"
    ))
}

/// `spool retry --all-dead`: every dead letter that can be retried is; the
/// others are named in the error.
pub fn retry_all(store: &Store) -> Result<String, SpoolError> {
    let (mut retried, mut refused) = (0, Vec::new());
    for id in store.ids(State::Dead)? {
        match retry(store, &id) {
            Ok(_) => retried += 1,
            Err(SpoolError::NotFound { .. }) => {}
            Err(error) => refused.push(error.to_string()),
        }
    }
    let done = format!("{retried} dead letter(s) back in pending");
    if refused.is_empty() {
        return Ok(done);
    }
    let (count, list) = (refused.len(), refused.join("\n  "));
    Err(SpoolError::Refused(format!(
        "{done}; {count} not:\n  {list}"
    )))
}

/// `spool purge <id>`: deletes a dead letter (a pending entry is "not found").
pub fn purge(store: &Store, id: &EntryId) -> Result<String, SpoolError> {
    store
        .remove(State::Dead, id)
        .map(|()| format!("{id}: purged"))
}

/// `spool purge --dead-older-than <duration>`; an unreadable dead letter
/// counts from its arrival.
pub fn purge_older_than(store: &Store, age_limit: Duration) -> Result<String, SpoolError> {
    let cutoff = now_ms().saturating_sub(u64::try_from(age_limit.as_millis()).unwrap_or(u64::MAX));
    let mut purged = 0;
    for id in store.ids(State::Dead)? {
        let dead_at = match store.meta(State::Dead, &id) {
            Ok(meta) => meta.dead.map_or(meta.received_at_ms, |d| d.at_ms),
            Err(SpoolError::NotFound { .. }) => continue,
            Err(SpoolError::Corrupt { .. }) => id.arrived_ms(),
            Err(error) => return Err(error),
        };
        if dead_at <= cutoff {
            store.remove(State::Dead, &id)?;
            purged += 1;
        }
    }
    let limit = humantime::format_duration(age_limit);
    Ok(format!("{purged} dead letter(s) older than {limit} purged"))
}

fn age(since_ms: u64) -> String {
    let seconds = now_ms().saturating_sub(since_ms) / 1000;
    humantime::format_duration(Duration::from_secs(seconds))
        .to_string()
        .replace(' ', "")
}

fn shorten(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

fn without_query(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(not a URL)".to_owned();
    };
    let had_query = parsed.query().is_some();
    parsed.set_query(None);
    parsed.set_fragment(None);
    format!("{parsed}{}", if had_query { "?…" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::{CallbackResult, Claims};
    use crate::spool::entry::{DeadLetter, Meta};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false, 1 << 30).unwrap();
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
        store
            .transfer(State::Pending, Some(&meta), &meta.id)
            .unwrap();
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
        assert!(shown.contains("\"attempts\": 2"), "{shown}");
        assert!(shown.contains("\"state\": \"dead\""), "{shown}");
        assert!(shown.contains("not shown; add --payload"), "{shown}");
        assert!(!shown.contains("img.example.com"), "{shown}");
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
        assert!(error.contains("no dead spool entry"), "{error}");

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
        let file = dir
            .path()
            .join("dead")
            .join(meta.id.as_str())
            .join("meta.json");
        std::fs::write(&file, br#"{"version":7}"#).unwrap();
        let listing = list(&store).unwrap();
        assert!(listing.contains("0 pending, 1 dead"), "{listing}");
        assert!(listing.contains("spool format version 7"), "{listing}");
        let shown = show(&store, &meta.id, true).unwrap();
        assert!(shown.contains("(dead) is damaged"), "{shown}");
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
