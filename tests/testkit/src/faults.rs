//! Fault injection: rules that make matching calls fail in chosen ways.
//!
//! A [`FaultRule`] has a [`CallMatcher`] (every `Some` field must equal the call's; `None`
//! matches anything), skips the first `after_n` matching calls, then fires on the next `times`
//! matching calls (`usize::MAX` = forever). Rules are checked in the order they were injected;
//! each rule counts every call it matches, and the first rule that fires wins.
//!
//! What each [`Fault`] does to a call:
//!
//! | fault | call applied? | client sees |
//! |---|---|---|
//! | `OdooError{name,message}` | no | HTTP 200 JSON-RPC error with that `data.name` / `message` |
//! | `Http(status)` | no | that HTTP status, HTML body (like a proxy's 502/503/504 page) |
//! | `Stall(d)` | yes, after `d` | the normal answer, `d` late (applied even if the client gave up) |
//! | `AnswerLate(d)` | yes, at once | the normal answer, `d` late: a read that is stale when it arrives |
//! | `CloseConnection` | no | the connection closes without an answer |
//! | `FailAfterApplying{name,message}` | yes | a JSON-RPC error (a reply lost after commit) |
//! | `CloseAfterApplying` | yes | the connection closes without an answer |

use std::time::Duration;

/// Which calls a rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallMatcher {
    /// `common`, `db`, `object`, …
    pub service: Option<String>,
    /// The service method: `login`, `execute_kw`, …
    pub method: Option<String>,
    /// For `execute_kw`: the model.
    pub model: Option<String>,
    /// For `execute_kw`: the model method (`create`, `search_read`, …).
    pub model_method: Option<String>,
    /// Let this many matching calls through before the rule starts firing.
    pub after_n: usize,
}

impl CallMatcher {
    /// Matches every call.
    pub fn any() -> Self {
        Self::default()
    }

    /// Matches `execute_kw` calls of `method` on `model`.
    pub fn model_method(model: &str, method: &str) -> Self {
        CallMatcher {
            service: Some("object".into()),
            model: Some(model.into()),
            model_method: Some(method.into()),
            ..Self::default()
        }
    }

    /// Matches calls of `service.method` (e.g. `common`, `authenticate`).
    pub fn service(service: &str, method: &str) -> Self {
        CallMatcher {
            service: Some(service.into()),
            method: Some(method.into()),
            ..Self::default()
        }
    }

    /// Skips the first `n` matching calls.
    pub fn after(mut self, n: usize) -> Self {
        self.after_n = n;
        self
    }

    /// Whether a call with these coordinates matches (ignoring `after_n`).
    pub fn matches(&self, call: &CallKey) -> bool {
        fn eq(want: &Option<String>, got: &Option<String>) -> bool {
            want.as_ref().is_none_or(|w| got.as_ref() == Some(w))
        }
        eq(&self.service, &call.service)
            && eq(&self.method, &call.method)
            && eq(&self.model, &call.model)
            && eq(&self.model_method, &call.model_method)
    }
}

/// The coordinates of a received call (absent parts are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallKey {
    pub service: Option<String>,
    pub method: Option<String>,
    pub model: Option<String>,
    pub model_method: Option<String>,
}

/// What happens to a matching call (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    OdooError { name: String, message: String },
    Http(u16),
    Stall(Duration),
    AnswerLate(Duration),
    CloseConnection,
    FailAfterApplying { name: String, message: String },
    CloseAfterApplying,
}

impl Fault {
    /// An `OdooError` fault.
    pub fn odoo(name: &str, message: &str) -> Fault {
        Fault::OdooError {
            name: name.into(),
            message: message.into(),
        }
    }
}

/// A fault injection rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub matcher: CallMatcher,
    pub fault: Fault,
    /// How many matching calls fail (`usize::MAX` for all of them).
    pub times: usize,
}

impl FaultRule {
    /// Fires once.
    pub fn once(matcher: CallMatcher, fault: Fault) -> Self {
        FaultRule {
            matcher,
            fault,
            times: 1,
        }
    }

    /// Fires `times` times.
    pub fn times(matcher: CallMatcher, fault: Fault, times: usize) -> Self {
        FaultRule {
            matcher,
            fault,
            times,
        }
    }

    /// Fires on every matching call.
    pub fn always(matcher: CallMatcher, fault: Fault) -> Self {
        Self::times(matcher, fault, usize::MAX)
    }
}

/// The injected rules and their counters.
#[derive(Debug, Default)]
pub struct FaultSet {
    rules: Vec<(FaultRule, usize, usize)>, // (rule, matched so far, fired so far)
}

impl FaultSet {
    /// Adds a rule.
    pub fn push(&mut self, rule: FaultRule) {
        self.rules.push((rule, 0, 0));
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The fault for this call, if a rule fires (updates every matching rule's counters).
    pub fn next_fault(&mut self, call: &CallKey) -> Option<Fault> {
        let mut chosen = None;
        for (rule, seen, fired) in &mut self.rules {
            if !rule.matcher.matches(call) {
                continue;
            }
            *seen += 1;
            if chosen.is_none() && *seen > rule.matcher.after_n && *fired < rule.times {
                *fired += 1;
                chosen = Some(rule.fault.clone());
            }
        }
        self.rules.retain(|(r, _, fired)| *fired < r.times);
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(model: &str, method: &str) -> CallKey {
        CallKey {
            service: Some("object".into()),
            method: Some("execute_kw".into()),
            model: Some(model.into()),
            model_method: Some(method.into()),
        }
    }

    #[test]
    fn after_n_and_times() {
        let mut set = FaultSet::default();
        set.push(FaultRule::times(
            CallMatcher::model_method("m", "create").after(1),
            Fault::Http(502),
            2,
        ));
        assert_eq!(set.next_fault(&key("m", "read")), None);
        assert_eq!(set.next_fault(&key("m", "create")), None);
        assert_eq!(set.next_fault(&key("m", "create")), Some(Fault::Http(502)));
        assert_eq!(set.next_fault(&key("m", "create")), Some(Fault::Http(502)));
        assert_eq!(set.next_fault(&key("m", "create")), None);
    }

    #[test]
    fn first_firing_rule_wins_and_any_matches_all() {
        let mut set = FaultSet::default();
        set.push(FaultRule::once(CallMatcher::any(), Fault::CloseConnection));
        set.push(FaultRule::always(
            CallMatcher::service("common", "login"),
            Fault::odoo("builtins.Exception", "x"),
        ));
        let login = CallKey {
            service: Some("common".into()),
            method: Some("login".into()),
            ..CallKey::default()
        };
        assert_eq!(set.next_fault(&login), Some(Fault::CloseConnection));
        assert!(matches!(
            set.next_fault(&login),
            Some(Fault::OdooError { .. })
        ));
        assert!(matches!(
            set.next_fault(&login),
            Some(Fault::OdooError { .. })
        ));
    }
}
