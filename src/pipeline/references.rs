//! The Odoo ids that UUID references resolved to, remembered so a result
//! and its redeliveries cost one `search` for the UUID, not one each.
//!
//! A request's UUID never changes (the example addon makes it read-only and
//! unique), so a remembered id stays right; if the request is deleted the
//! read under the lock finds nothing and the result is an unknown request
//! all the same. Only found ids are remembered, never "no such request",
//! because a request may be created after a result naming it arrived. The
//! memory is bounded: past [`MAX_REMEMBERED`] entries it starts over.

use std::collections::HashMap;
use std::sync::Mutex;

/// References remembered at most; then the memory is emptied.
const MAX_REMEMBERED: usize = 10_000;

/// UUID reference → Odoo id.
#[derive(Debug, Default)]
pub struct References {
    // std Mutex: held for a lookup or an insert, never across an await.
    ids: Mutex<HashMap<String, i64>>,
}

impl References {
    /// The id `reference` resolved to before, if any.
    pub fn get(&self, reference: &str) -> Option<i64> {
        self.lock().get(reference).copied()
    }

    /// Remembers that `reference` names request `id`.
    pub fn remember(&self, reference: &str, id: i64) {
        let mut ids = self.lock();
        if ids.len() >= MAX_REMEMBERED && !ids.contains_key(reference) {
            ids.clear();
        }
        ids.insert(reference.to_owned(), id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_full_then_starts_over() {
        let references = References::default();
        references.remember("a", 1);
        assert_eq!(references.get("a"), Some(1));
        assert_eq!(references.get("b"), None);
        for n in 0..MAX_REMEMBERED as i64 {
            references.remember(&format!("r{n}"), n);
        }
        assert!(references.lock().len() <= MAX_REMEMBERED);
        assert_eq!(references.get("a"), None, "the memory started over");
    }
}
