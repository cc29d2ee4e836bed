//! What this process knows about the sends it made, for the watchdog's
//! reason when a request stays `processing` without a result.
//!
//! Odoo records only the status; what happened on the wire (N8N answered
//! 202, the call timed out, N8N refused it but Odoo could not be told) lives
//! here, in memory. It is lost on restart and unknown to other processes, so
//! the watchdog says so when it finds nothing. Bounded: at most
//! [`MAX_FACTS`] requests, the oldest dropped first, and facts older than
//! the watchdog can still need are pruned at each of its passes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::sweeper::odoo_datetime;

/// At most this many requests are remembered.
const MAX_FACTS: usize = 10_000;

/// The last thing this process did with a request it claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// Marked `processing`; the send has not ended yet.
    Claimed,
    /// N8N took it (a 2xx answer).
    Accepted { http_status: u16 },
    /// N8N may or may not have started it.
    Unknown { error: String },
    /// N8N surely did not start it; recording `initiation_failed` failed.
    NotStarted { error: String },
}

#[derive(Debug, Clone)]
struct Noted {
    at: SystemTime,
    fact: Fact,
}

/// The facts, by request id.
#[derive(Debug, Default)]
pub struct Journal {
    // std Mutex: held for a map operation, never across an await.
    facts: Mutex<HashMap<i64, Noted>>,
}

impl Journal {
    /// Notes `fact` about request `id`, now.
    pub fn note(&self, id: i64, fact: Fact) {
        let mut facts = self.lock();
        if facts.len() >= MAX_FACTS && !facts.contains_key(&id) {
            let oldest = facts.iter().min_by_key(|(_, n)| n.at).map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                facts.remove(&oldest);
            }
        }
        let at = SystemTime::now();
        facts.insert(id, Noted { at, fact });
    }

    /// Forgets request `id` (its initiation ended for good).
    pub fn forget(&self, id: i64) {
        self.lock().remove(&id);
    }

    /// Drops facts noted more than `age` ago.
    pub fn prune(&self, age: Duration) {
        let now = SystemTime::now();
        self.lock()
            .retain(|_, noted| now.duration_since(noted.at).unwrap_or_default() <= age);
    }

    /// The last fact about `id`, if any.
    #[cfg(test)]
    pub fn get(&self, id: i64) -> Option<Fact> {
        self.lock().get(&id).map(|noted| noted.fact.clone())
    }

    /// The `error_details` of a request given up on: no result within
    /// `timeout` of its last change at `since` (Odoo's `write_date`), and
    /// what this process knows of its send.
    pub fn explain(&self, id: i64, timeout: Duration, since: Option<&str>) -> String {
        let timeout = humantime::format_duration(timeout);
        let since = since.map_or_else(String::new, |since| format!(" (since {since} UTC)"));
        let noted = self.lock().get(&id).cloned();
        let known = match noted {
            Some(Noted { at, fact }) => {
                let at = odoo_datetime(at);
                match fact {
                    Fact::Accepted { http_status } => format!(
                        "N8N accepted it at {at} UTC (HTTP {http_status}) but its result never arrived"
                    ),
                    Fact::Unknown { error } => format!(
                        "the outcome of sending it to N8N at {at} UTC is unknown ({error}): \
                         N8N may or may not have started it, and no result arrived"
                    ),
                    Fact::NotStarted { error } => format!(
                        "N8N did not start it ({error}, at {at} UTC), and Odoo could not be told then"
                    ),
                    Fact::Claimed => format!(
                        "the bridge marked it processing at {at} UTC and stopped before the send ended"
                    ),
                }
            }
            None => "this bridge process has no record of its send: another process sent it, the \
                     bridge restarted since, or it stopped between marking it processing and sending it"
                .to_owned(),
        };
        format!(
            "No result within {timeout} of becoming processing{since} (initiation.result_timeout): {known}. \
             A result that still arrives completes the request."
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Noted>> {
        self.facts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn each_fact_explains_itself() {
        let journal = Journal::default();
        journal.note(1, Fact::Accepted { http_status: 202 });
        journal.note(
            2,
            Fact::Unknown {
                error: "N8N did not answer within 10s (n8n.timeout)".into(),
            },
        );
        journal.note(
            3,
            Fact::NotStarted {
                error: "N8N answered HTTP 503".into(),
            },
        );
        let one = journal.explain(1, HOUR, Some("2026-12-01 10:00:00"));
        assert!(
            one.starts_with(
                "No result within 1h of becoming processing (since 2026-12-01 10:00:00 UTC)"
            ),
            "{one}"
        );
        assert!(one.contains("N8N accepted it at "), "{one}");
        assert!(one.contains("(HTTP 202)"), "{one}");
        let two = journal.explain(2, HOUR, None);
        assert!(
            two.contains("is unknown (N8N did not answer within 10s"),
            "{two}"
        );
        assert!(two.contains("may or may not have started it"), "{two}");
        let three = journal.explain(3, HOUR, None);
        assert!(
            three.contains("N8N did not start it (N8N answered HTTP 503"),
            "{three}"
        );
        let four = journal.explain(4, HOUR, None);
        assert!(four.contains("has no record of its send"), "{four}");
    }

    #[test]
    fn the_journal_is_bounded() {
        let journal = Journal::default();
        for id in 0..(MAX_FACTS as i64 + 5) {
            journal.note(id, Fact::Claimed);
        }
        assert_eq!(journal.lock().len(), MAX_FACTS);
        journal.forget(MAX_FACTS as i64);
        assert_eq!(journal.get(MAX_FACTS as i64), None);
        journal.prune(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        journal.prune(Duration::ZERO);
        assert!(journal.lock().is_empty());
    }
}
