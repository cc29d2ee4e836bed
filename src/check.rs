//! `influence-gen-bridge check`: proves, one line per check, that the
//! configuration works against the real Odoo and N8N. Each line is `ok`,
//! `warn`, `FAIL` or `skip` (an earlier check failed) with a sentence an
//! admin can act on, and never a secret.

use std::fmt;

use serde_json::json;

use crate::config::{Config, ProtocolMode};
use crate::odoo::protocol::{self, COMPANION_NAME, Detection, Protocol};
use crate::odoo::records::{
    ATTACHMENT_MODEL, IMAGE_FIELDS, IMAGE_MODEL, REQUEST_FIELDS, REQUEST_MODEL, REQUEST_STATUSES,
};
use crate::odoo::{AccessOperation, Api, OdooClient, OdooError, SearchOptions, ServerErrorKind};

mod api_key;
mod initiation;

/// The verdict of one check; `Display` is its tag in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    Skip,
}

use Verdict::{Fail, Pass, Skip, Warn};

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self {
            Pass => "ok  ",
            Warn => "warn",
            Fail => "FAIL",
            Skip => "skip",
        };
        f.write_str(tag)
    }
}

/// The lines of the report (name, verdict, detail), in the order the checks ran.
#[derive(Debug, Default)]
pub struct Report(Vec<(&'static str, Verdict, String)>);

impl Report {
    fn add(&mut self, name: &'static str, (verdict, detail): (Verdict, String)) {
        self.0.push((name, verdict, detail));
    }

    /// True when no check failed (warnings and skips do not fail the run).
    pub fn passed(&self) -> bool {
        self.failed() == 0
    }

    fn failed(&self) -> usize {
        self.0
            .iter()
            .filter(|(_, verdict, _)| *verdict == Fail)
            .count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, verdict, detail) in &self.0 {
            writeln!(f, "{verdict} {name}: {detail}")?;
        }
        match self.failed() {
            0 => write!(f, "all checks passed"),
            failed => write!(f, "{failed} check(s) failed"),
        }
    }
}

/// Runs every check against the services `config` names.
pub async fn run(config: &Config, config_source: &str) -> Report {
    let mut report = Report::default();
    report.add("config", (Pass, format!("{config_source} is valid")));
    let n8n = initiation::effective(config).await;
    initiation::callback_token(config, n8n.as_ref(), &mut report);
    check_odoo(config, &mut report).await;
    initiation::n8n_lines(config, n8n.as_ref(), &mut report).await;
    report
}

/// Connection, login, models and rights; what needs a login is skipped
/// without one.
async fn check_odoo(config: &Config, report: &mut Report) {
    let Err((name, detail)) = odoo_lines(config, report).await else {
        return;
    };
    report.add(name, (Fail, detail));
    if name == "odoo reachable" {
        report.add("odoo login", (Skip, "Odoo is not reachable".to_owned()));
    }
    let needs_login = [
        "request model",
        "image model",
        "access rights",
        "companion addon",
        "protocol",
    ];
    for name in needs_login {
        report.add(name, (Skip, "needs a working Odoo login".to_owned()));
    }
}

/// The Odoo lines up to the first failure, which is the error.
async fn odoo_lines(config: &Config, report: &mut Report) -> Result<(), (&'static str, String)> {
    let odoo = OdooClient::new(&config.odoo)
        .map_err(|e| ("odoo", format!("cannot set up the client: {e}")))?;
    let url = &config.odoo.url;
    let version = odoo.version().await;
    let version = version.map_err(|e| ("odoo reachable", format!("{url} : {}", explain(&e))))?;
    let answers = format!("Odoo {} answers at {url}", version.server_version);
    report.add("odoo reachable", (Pass, answers));
    let api = odoo.api().await.map_err(|e| ("odoo api", explain(&e)))?;
    report.add("odoo api", api_key::api_line(config, &version, api));
    let (login, database) = (&config.odoo.login, &config.odoo.database);
    let uid = odoo.authenticate().await.map_err(|e| match e {
        OdooError::LoginRefused { .. } => {
            let advice = api_key::refused_login_advice(Some(api));
            ("odoo login", format!("{e}; {advice}"))
        }
        e => ("odoo login", explain(&e)),
    })?;
    let who = match api {
        Api::Json2 => "Odoo accepted the API key".to_owned(),
        Api::JsonRpc => format!("logged in as `{login}`"),
    };
    let detail = format!("{who} (uid {uid}) on database `{database}`");
    report.add("odoo login", (Pass, detail));
    if api == Api::Json2 {
        api_key::key_lines(&odoo, config, uid, report).await;
    }
    let request_fields = [REQUEST_FIELDS, &[crate::odoo::records::UUID_FIELD]].concat();
    let request = check_model(&odoo, REQUEST_MODEL, &request_fields).await;
    report.add("request model", request);
    let image = check_model(&odoo, IMAGE_MODEL, IMAGE_FIELDS).await;
    report.add("image model", image);
    report.add("access rights", check_rights(&odoo, login).await);
    check_companion(&odoo, config, report).await;
    Ok(())
}

/// `model` has the `needed` fields, and its `status` (if any) every value
/// the bridge writes.
async fn check_model(odoo: &OdooClient, model: &str, needed: &[&str]) -> (Verdict, String) {
    let fields = match odoo.fields_get(model).await {
        Ok(fields) => fields,
        Err(e) => return (Fail, format!("{model}: {}", explain(&e))),
    };
    if let Some(missing) = lacking(needed, |f| fields.contains_key(f)) {
        let advice = "install or upgrade the addon that defines them";
        let detail = format!("{model} lacks the field(s) {missing}; {advice}");
        return (Fail, detail);
    }
    let selection = fields.get("status").and_then(|s| s.selection.as_ref());
    let offered = |value: &str| selection.is_none_or(|s| s.iter().any(|(v, _)| v == value));
    if let Some(missing) = lacking(REQUEST_STATUSES, offered) {
        let detail = format!("{model}.status lacks the selection value(s) {missing}");
        return (Fail, detail);
    }
    let detail = format!("{model} has all {} fields the bridge uses", needed.len());
    (Pass, detail)
}

/// The `wanted` items that are not `there`, if any, as a list.
fn lacking(wanted: &[&str], there: impl Fn(&str) -> bool) -> Option<String> {
    let missing: Vec<&str> = wanted.iter().copied().filter(|w| !there(w)).collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// The rights the bridge's Odoo user has, by access list and record rule.
async fn check_rights(odoo: &OdooClient, login: &str) -> (Verdict, String) {
    use AccessOperation::{Create, Read, Write};
    let needed: [(&str, &[AccessOperation]); 3] = [
        (REQUEST_MODEL, &[Read, Write]),
        (IMAGE_MODEL, &[Read, Create, Write]),
        (ATTACHMENT_MODEL, &[Read, Create, Write]),
    ];
    let (mut missing, mut unverified) = (Vec::new(), Vec::new());
    for (model, operations) in needed {
        for operation in operations {
            let right = format!("{} on {model}", operation.as_str());
            match odoo.check_access_rights(model, *operation).await {
                Ok(true) => {}
                Ok(false) => missing.push(right),
                Err(e) => missing.push(format!("{right} (could not check: {})", explain(&e))),
            }
        }
        // A record rule can still forbid writing: probe one record (an
        // attachment's rights follow its record, the image).
        if model == ATTACHMENT_MODEL {
            continue;
        }
        let write = format!("write on {model}");
        match record_rule_allows_write(odoo, model).await {
            Ok(Some(true)) => {}
            Ok(Some(false)) => missing.push(format!("{write} (a record rule forbids it)")),
            Ok(None) => unverified.push(model),
            Err(e) => missing.push(format!("{write} (could not check: {})", explain(&e))),
        }
    }
    if !missing.is_empty() {
        let advice = "grant them (README: the bridge's Odoo user)";
        return (
            Fail,
            format!("`{login}` may not: {}; {advice}", missing.join(", ")),
        );
    }
    if !unverified.is_empty() {
        let models = unverified.join(", ");
        let detail = format!(
            "`{login}` has the access rights; record rules could not be checked on {models} (no record yet)"
        );
        return (Warn, detail);
    }
    let detail = format!("`{login}` may do everything the bridge needs");
    (Pass, detail)
}

/// `has_access([id], "write")` on one record of `model`; `None` when the
/// model has no record to probe.
async fn record_rule_allows_write(
    odoo: &OdooClient,
    model: &str,
) -> Result<Option<bool>, OdooError> {
    let options = SearchOptions {
        limit: Some(1),
        ..SearchOptions::default()
    };
    let Some(&id) = odoo.search(model, &json!([]), &options).await?.first() else {
        return Ok(None);
    };
    let args = json!([[id], "write"]);
    let allowed: Option<bool> = odoo
        .execute_kw(model, "has_access", &args, &json!({}))
        .await?;
    Ok(Some(allowed.unwrap_or(false)))
}

const ADDON_PATH: &str = "examples/odoo/influence_gen_bridge";
/// The group whose members may call the addon.
const BRIDGE_GROUP: &str = "influence_gen_base_models.group_influence_gen_bridge";

/// The two lines `companion addon` and `protocol`: is the companion addon
/// installed and callable, and which protocol `serve` will speak, with what
/// the generic one gives up.
async fn check_companion(odoo: &OdooClient, config: &Config, report: &mut Report) {
    let (mode, login) = (config.odoo.protocol, &config.odoo.login);
    // Fails when the addon is wanted, warns when it is optional.
    let problem = |required: bool| if required { Fail } else { Warn };
    let detection = match protocol::detect(odoo, REQUEST_MODEL).await {
        Ok(detection) => detection,
        Err(error) => {
            let detail = match error.server_kind() {
                Some(ServerErrorKind::AccessError) => format!(
                    "installed, but `{login}` may not call it: add the user to the group {BRIDGE_GROUP}"
                ),
                _ => "cannot ask for it".to_owned(),
            };
            let detail = format!("{detail} ({})", explain(&error));
            let verdict = problem(mode != ProtocolMode::Generic);
            report.add("companion addon", (verdict, detail));
            let skipped = "the companion addon check failed".to_owned();
            return report.add("protocol", (Skip, skipped));
        }
    };
    let advice = format!("install {ADDON_PATH} (it depends on influence_gen_base_models)");
    let addon = match (&detection, mode) {
        (Detection::Companion(info), _) => {
            let module_version = info.module_version.as_deref().unwrap_or("?");
            let installed = format!("{COMPANION_NAME} {module_version} installed");
            match info.unusable_because() {
                None => (
                    Pass,
                    format!(
                        "{installed} (protocol version {}), callable by `{login}`",
                        info.version
                    ),
                ),
                Some(why) => (
                    problem(mode == ProtocolMode::Companion),
                    format!("{installed} but not usable by this bridge: {why}"),
                ),
            }
        }
        (Detection::Absent, ProtocolMode::Companion) => (
            Fail,
            format!("not installed, and odoo.protocol = \"companion\" requires it: {advice}"),
        ),
        (Detection::Absent, ProtocolMode::Auto) => (
            Warn,
            format!("not installed: {advice} for one Odoo call per result and several bridges"),
        ),
        (Detection::Absent, ProtocolMode::Generic) => (
            Pass,
            "not installed (odoo.protocol = \"generic\" does not use it)".to_owned(),
        ),
    };
    report.add("companion addon", addon);
    let mode_name = mode;
    let line = match protocol::choose(mode, &detection) {
        Ok(Protocol::Companion { version }) => (
            Pass,
            format!(
                "companion, version {version} (odoo.protocol = \"{mode_name}\"): one Odoo call per \
                 result, claim and finished initiation, each one transaction under a row lock; any \
                 number of bridges may share the database"
            ),
        ),
        Ok(Protocol::Generic) => (
            if mode == ProtocolMode::Generic {
                Pass
            } else {
                Warn
            },
            format!(
                "generic (odoo.protocol = \"{mode_name}\"), which gives up: exactly-once across bridges \
                 (run ONE bridge per database); up to 7 Odoo calls per result; after a call of \
                 unknown outcome (timeout, lost connection, 502/503/504) no create is repeated for \
                 odoo.unknown_outcome_wait = {}, which must exceed Odoo's limit_time_real",
                humantime::format_duration(config.odoo.unknown_outcome_wait)
            ),
        ),
        Err(error) => (
            Fail,
            format!("{error}: nothing can be applied until it is fixed"),
        ),
    };
    report.add("protocol", line);
}

/// An Odoo error as advice for the admin.
fn explain(error: &OdooError) -> String {
    let advice = match error {
        OdooError::Unreachable(_) => "is Odoo running and odoo.url right?",
        OdooError::Timeout => {
            return format!("{error} (odoo.timeout); is Odoo overloaded or the URL wrong?");
        }
        OdooError::Protocol { .. }
        | OdooError::InvalidResponse(_)
        | OdooError::NotJsonRpc { .. } => "does odoo.url point at Odoo itself?",
        OdooError::LoginRefused { .. } => api_key::refused_login_advice(None),
        OdooError::HttpStatus { status: 404, .. } => {
            "odoo.api = \"json2\" needs Odoo 19 or later (odoo.api = \"auto\" finds the API)"
        }
        _ => {
            let text = error.to_string();
            return text.lines().next().unwrap_or_default().to_owned();
        }
    };
    format!("{error}; {advice}")
}
