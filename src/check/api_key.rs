//! The checks that depend on the Odoo API in use: which one, and over
//! `/json/2` the API key's owner and expiry. Odoo never says which of a
//! user's keys a request carried, so with several the line names the first
//! to expire. An expired key stops the bridge, hence [`EXPIRY_WARNING`].

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{Config, OdooApi};
use crate::odoo::value::false_as_none;
use crate::odoo::{Api, OdooClient, SearchOptions, ServerVersion};

use super::Verdict::{self, Pass, Warn};
use super::{Report, explain};

/// How long before a key expires the check warns.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

/// The API in use and how it was chosen.
pub(super) fn api_line(config: &Config, version: &ServerVersion, api: Api) -> (Verdict, String) {
    let how = match config.odoo.api {
        OdooApi::Auto => "odoo.api = auto",
        OdooApi::JsonRpc | OdooApi::Json2 => "as odoo.api says",
    };
    let at = match api {
        Api::Json2 => config.odoo.endpoint("/json/2/…"),
        Api::JsonRpc => config.odoo.endpoint("/jsonrpc"),
    };
    let deprecated = version
        .major()
        .is_some_and(|m| m >= crate::odoo::api::FIRST_JSON2_MAJOR);
    if api == Api::JsonRpc && deprecated {
        let odoo = &version.server_version;
        let detail = format!(
            "{api} at {at} ({how}): Odoo {odoo} deprecates it and Odoo 20 removes it; set \
             odoo.api = \"auto\" with an API key in odoo.password (README: Odoo 19: API key)"
        );
        return (Warn, detail);
    }
    (Pass, format!("{api} at {at} ({how})"))
}

/// The advice for a login Odoo refused, by API.
pub(super) fn refused_login_advice(api: Option<Api>) -> &'static str {
    match api {
        Some(Api::Json2) => {
            "/json/2 takes an API key, not a password: make one for this user and put it in \
             odoo.password (README: Odoo 19: API key)"
        }
        _ => "check odoo.login and odoo.password",
    }
}

/// Over `/json/2`: whose key it is, and when it expires.
pub(super) async fn key_lines(odoo: &OdooClient, config: &Config, uid: i64, report: &mut Report) {
    let login = &config.odoo.login;
    let found: Result<Vec<Value>, _> = odoo.read("res.users", &[uid], &["login"]).await;
    if let Ok([user]) = found.as_deref()
        && let Some(owner) = user["login"].as_str()
        && owner != login
    {
        let detail = format!(
            "the key belongs to `{owner}`, not to odoo.login `{login}`: over /json/2 the key alone decides the user"
        );
        report.add("odoo api key", (Warn, detail));
    }
    let fields = ["name", "expiration_date"];
    let options = SearchOptions::default();
    let keys: Result<Vec<Key>, _> = odoo
        .search_read("res.users.apikeys", &json!([]), &fields, &options)
        .await;
    let line = match keys {
        Ok(keys) => expiry_verdict(login, &keys, SystemTime::now()),
        Err(error) => {
            let why = explain(&error);
            let keys = format!("cannot list the keys of `{login}` to see when it expires");
            (Warn, format!("accepted; {keys}: {why}"))
        }
    };
    report.add("odoo api key", line);
}

#[derive(Debug, Deserialize)]
struct Key {
    name: String,
    #[serde(default, deserialize_with = "false_as_none")]
    expiration_date: Option<String>,
}

/// The verdict on the user's keys that are still valid at `now`.
fn expiry_verdict(login: &str, keys: &[Key], now: SystemTime) -> (Verdict, String) {
    // Odoo's `YYYY-MM-DD HH:MM:SS` (UTC).
    let expiry = |key: &Key| humantime::parse_rfc3339_weak(key.expiration_date.as_deref()?).ok();
    let valid: Vec<&Key> = keys
        .iter()
        .filter(|key| expiry(key).is_none_or(|at| at > now))
        .collect();
    let first = valid
        .iter()
        .filter_map(|key| Some((key, expiry(key)?)))
        .min_by_key(|(_, at)| *at);
    let Some((key, at)) = first else {
        let detail = format!("accepted; Odoo lists no expiry for the keys of `{login}`");
        return (Pass, detail);
    };
    let left = at.duration_since(now).unwrap_or_default();
    let within = match left.as_secs() / (24 * 3600) {
        0 => "within a day".to_owned(),
        1 => "in 1 day".to_owned(),
        n => format!("in {n} days"),
    };
    let date = key.expiration_date.as_deref().unwrap_or_default();
    let which = match valid.len() {
        1 => "the key expires".to_owned(),
        n => format!(
            "`{login}` has {n} keys and Odoo does not say which one this is; the first to \
             expire, `{}`, expires",
            key.name
        ),
    };
    let detail = format!("accepted; {which} on {date} UTC ({within})");
    if left >= EXPIRY_WARNING {
        return (Pass, detail);
    }
    let advice =
        "make a new key before then and put it in odoo.password (README: Odoo 19: API key)";
    (Warn, format!("{detail}: {advice}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, expiration: Option<&str>) -> Key {
        Key {
            name: name.into(),
            expiration_date: expiration.map(str::to_owned),
        }
    }

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339_weak(text).unwrap()
    }

    #[test]
    fn one_key_far_from_expiry_is_ok() {
        let (verdict, detail) = expiry_verdict(
            "bridge",
            &[key("k", Some("2027-03-01 00:00:00"))],
            at("2026-12-02 12:00:00"),
        );
        assert_eq!(verdict, Verdict::Pass);
        assert_eq!(
            detail,
            "accepted; the key expires on 2027-03-01 00:00:00 UTC (in 88 days)"
        );
    }

    #[test]
    fn fourteen_days_ahead_it_warns() {
        let now = at("2026-12-02 00:00:00");
        let (verdict, _) = expiry_verdict("bridge", &[key("k", Some("2026-12-16 00:00:01"))], now);
        assert_eq!(verdict, Verdict::Pass);
        let (verdict, detail) =
            expiry_verdict("bridge", &[key("k", Some("2026-12-15 23:59:59"))], now);
        assert_eq!(verdict, Verdict::Warn, "{detail}");
        assert!(detail.contains("in 13 days"), "{detail}");
        assert!(detail.contains("make a new key"), "{detail}");
        let (_, detail) = expiry_verdict("bridge", &[key("k", Some("2026-12-02 05:00:00"))], now);
        assert!(detail.contains("(within a day)"), "{detail}");
    }

    #[test]
    fn expired_keys_are_not_this_one_and_no_expiry_is_said() {
        // Transcript json2/95: a 1-day, a 1-year and an expired key.
        let keys = [
            key("json2 transcripts (session)", Some("2026-12-03 00:00:00")),
            key("json2 transcripts (shell)", Some("2027-12-02 07:28:47")),
            key("json2 transcripts (expired)", Some("2026-12-01 07:28:51")),
        ];
        let (verdict, detail) = expiry_verdict("bridge", &keys, at("2026-12-02 08:00:00"));
        assert_eq!(verdict, Verdict::Warn);
        assert!(detail.contains("has 2 keys"), "{detail}");
        assert!(detail.contains("`json2 transcripts (session)`"), "{detail}");
        let (verdict, detail) =
            expiry_verdict("bridge", &[key("forever", None)], at("2026-12-02 08:00:00"));
        assert_eq!(verdict, Verdict::Pass);
        assert!(detail.contains("no expiry"), "{detail}");
    }
}
