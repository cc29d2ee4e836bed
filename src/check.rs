//! `influence-gen-bridge check`: proves, one line per check, that the
//! configuration works against the real Odoo and N8N before `serve` is
//! trusted with traffic.
//!
//! Each check yields `ok`, `warn` or `FAIL` with a sentence an admin can act
//! on. Checks that depend on an earlier one (field checks need a login) are
//! reported as skipped rather than failing noisily. No line ever prints a
//! secret: only key names, logins, database names and URLs without
//! credentials (the config refuses URLs that carry any).

use std::fmt;
use std::time::Duration;

use crate::config::Config;
use crate::odoo::records::{ATTACHMENT_MODEL, IMAGE_FIELDS, REQUEST_FIELDS, REQUEST_STATUSES};
use crate::odoo::{AccessOperation, Api, FieldInfo, OdooClient, OdooError, SearchOptions};
use crate::parameters::{API_KEY_PARAMETER, EffectiveN8n, WEBHOOK_URL_PARAMETER};

mod api_key;
mod companion;
mod initiation;
mod n8n_probe;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
    Skipped,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct CheckLine {
    pub verdict: Verdict,
    pub name: &'static str,
    pub detail: String,
}

impl fmt::Display for CheckLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
            Verdict::Skipped => "skip",
        };
        write!(f, "{tag} {}: {}", self.name, self.detail)
    }
}

/// The whole report, in the order the checks ran.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: Vec<CheckLine>,
}

impl Report {
    fn push(&mut self, verdict: Verdict, name: &'static str, detail: impl Into<String>) {
        self.lines.push(CheckLine {
            verdict,
            name,
            detail: detail.into(),
        });
    }

    /// True when no check failed (warnings and skips do not fail the run).
    pub fn passed(&self) -> bool {
        !self.lines.iter().any(|line| line.verdict == Verdict::Fail)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        let failed = self
            .lines
            .iter()
            .filter(|l| l.verdict == Verdict::Fail)
            .count();
        if self.passed() {
            write!(f, "all checks passed")
        } else {
            write!(f, "{failed} check(s) failed")
        }
    }
}

/// The rights the bridge's Odoo user needs, per model.
fn required_rights(_config: &Config) -> [(&str, &'static [AccessOperation]); 3] {
    use AccessOperation::{Create, Read, Write};
    [
        (crate::odoo::records::REQUEST_MODEL, &[Read, Write]),
        (crate::odoo::records::IMAGE_MODEL, &[Read, Create, Write]),
        (ATTACHMENT_MODEL, &[Read, Create, Write]),
    ]
}

/// Runs every check against the services `config` names.
pub async fn run(config: &Config, config_source: &str) -> Report {
    let mut report = Report::default();
    report.push(Verdict::Ok, "config", format!("{config_source} is valid"));
    let n8n = initiation::effective(config).await;
    initiation::callback_token(config, n8n.as_ref(), &mut report);
    let odoo_ready = check_odoo(config, &mut report).await;
    if !odoo_ready {
        for name in [
            "request model",
            "image model",
            "access rights",
            "companion addon",
            "protocol",
        ] {
            report.push(Verdict::Skipped, name, "needs a working Odoo login");
        }
    }
    initiation::parameters(config, n8n.as_ref(), &mut report);
    check_n8n(config, n8n.as_ref(), &mut report).await;
    initiation::ways_in(config, &mut report);
    report
}

/// Connection, login, models and rights. Returns whether the login worked.
async fn check_odoo(config: &Config, report: &mut Report) -> bool {
    let odoo = match OdooClient::new(&config.odoo) {
        Ok(odoo) => odoo,
        Err(e) => {
            report.push(
                Verdict::Fail,
                "odoo",
                format!("cannot set up the client: {e}"),
            );
            return false;
        }
    };
    let version = match odoo.version().await {
        Ok(version) => version,
        Err(e) => {
            report.push(
                Verdict::Fail,
                "odoo reachable",
                format!("{} : {}", config.odoo.url, explain(&e)),
            );
            report.push(Verdict::Skipped, "odoo login", "Odoo is not reachable");
            return false;
        }
    };
    report.push(
        Verdict::Ok,
        "odoo reachable",
        format!(
            "Odoo {} answers at {}",
            version.server_version, config.odoo.url
        ),
    );
    let api = match odoo.api().await {
        Ok(api) => api,
        Err(e) => {
            report.push(Verdict::Fail, "odoo api", explain(&e));
            return false;
        }
    };
    api_key::api_line(config, &version, api, report);
    let uid = match odoo.authenticate().await {
        Ok(uid) => uid,
        Err(e) => {
            let advice = match &e {
                OdooError::LoginRefused { .. } => {
                    format!("{e}; {}", api_key::refused_login_advice(Some(api)))
                }
                _ => explain(&e),
            };
            report.push(Verdict::Fail, "odoo login", advice);
            return false;
        }
    };
    match api {
        Api::Json2 => {
            report.push(
                Verdict::Ok,
                "odoo login",
                format!(
                    "Odoo accepted the API key (uid {uid}) on database `{}`",
                    config.odoo.database
                ),
            );
            api_key::key_lines(&odoo, config, uid, report).await;
        }
        Api::JsonRpc => report.push(
            Verdict::Ok,
            "odoo login",
            format!(
                "logged in as `{}` (uid {uid}) on database `{}`",
                config.odoo.login, config.odoo.database
            ),
        ),
    }
    let mut request_fields: Vec<&str> = REQUEST_FIELDS.to_vec();
    // Callbacks may name a request by its UUID (the lookup accepts both).
    request_fields.push(crate::odoo::records::UUID_FIELD);
    check_model(
        &odoo,
        report,
        "request model",
        crate::odoo::records::REQUEST_MODEL,
        &request_fields,
    )
    .await;
    check_model(
        &odoo,
        report,
        "image model",
        crate::odoo::records::IMAGE_MODEL,
        IMAGE_FIELDS,
    )
    .await;
    check_rights(&odoo, report, config).await;
    companion::check(&odoo, config, report).await;
    true
}

async fn check_model(
    odoo: &OdooClient,
    report: &mut Report,
    name: &'static str,
    model: &str,
    needed: &[&str],
) {
    let fields = match odoo.fields_get(model).await {
        Ok(fields) => fields,
        Err(e) => {
            report.push(Verdict::Fail, name, format!("{model}: {}", explain(&e)));
            return;
        }
    };
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|f| !fields.contains_key(*f))
        .collect();
    if !missing.is_empty() {
        report.push(
            Verdict::Fail,
            name,
            format!(
                "{model} lacks the field(s) {}; install or upgrade the addon that defines them",
                missing.join(", ")
            ),
        );
        return;
    }
    if let Some(problem) = status_selection_problem(fields.get("status")) {
        report.push(Verdict::Fail, name, format!("{model}.status {problem}"));
        return;
    }
    report.push(
        Verdict::Ok,
        name,
        format!("{model} has all {} fields the bridge uses", needed.len()),
    );
}

/// The request model's `status` must offer every value the bridge writes.
fn status_selection_problem(status: Option<&FieldInfo>) -> Option<String> {
    let selection = status?.selection.as_ref()?;
    let missing: Vec<&str> = REQUEST_STATUSES
        .iter()
        .copied()
        .filter(|value| !selection.iter().any(|(v, _)| v == value))
        .collect();
    (!missing.is_empty()).then(|| format!("lacks the selection value(s) {}", missing.join(", ")))
}

async fn check_rights(odoo: &OdooClient, report: &mut Report, config: &Config) {
    let mut missing = Vec::new();
    let mut unverified = Vec::new();
    for (model, operations) in required_rights(config) {
        for operation in operations {
            match odoo.check_access_rights(model, *operation).await {
                Ok(true) => {}
                Ok(false) => missing.push(format!("{} on {model}", operation.as_str())),
                Err(e) => missing.push(format!(
                    "{} on {model} (could not check: {})",
                    operation.as_str(),
                    explain(&e)
                )),
            }
        }
        // check_access_rights sees only the access lists; a record rule can
        // still forbid writing. Probe one existing record with has_access.
        // (An attachment's rights follow the record it belongs to, here the
        // image model, so ir.attachment itself is not probed.)
        if operations.contains(&AccessOperation::Write) && model != ATTACHMENT_MODEL {
            match record_rule_allows_write(odoo, model).await {
                Ok(Some(true)) => {}
                Ok(Some(false)) => {
                    missing.push(format!("write on {model} (a record rule forbids it)"))
                }
                Ok(None) => unverified.push(model),
                Err(e) => missing.push(format!(
                    "write on {model} (could not check record rules: {})",
                    explain(&e)
                )),
            }
        }
    }
    if !missing.is_empty() {
        report.push(
            Verdict::Fail,
            "access rights",
            format!(
                "`{}` may not: {}; grant them (README: the bridge's Odoo user)",
                config.odoo.login,
                missing.join(", ")
            ),
        );
    } else if !unverified.is_empty() {
        report.push(
            Verdict::Warn,
            "access rights",
            format!(
                "`{}` has the access rights; record rules could not be checked on {} (no record yet)",
                config.odoo.login,
                unverified.join(", ")
            ),
        );
    } else {
        report.push(
            Verdict::Ok,
            "access rights",
            format!("`{}` may do everything the bridge needs", config.odoo.login),
        );
    }
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
    let Some(id) = odoo
        .search(model, &serde_json::json!([]), &options)
        .await?
        .first()
        .copied()
    else {
        return Ok(None);
    };
    let allowed: Option<bool> = odoo
        .execute_kw(
            model,
            "has_access",
            &serde_json::json!([[id], "write"]),
            &serde_json::json!({}),
        )
        .await?;
    Ok(Some(allowed.unwrap_or(false)))
}

/// The webhook and API key in force: the TOML's, else Odoo's system parameters.
async fn check_n8n(config: &Config, n8n: Option<&EffectiveN8n>, report: &mut Report) {
    match n8n.and_then(|n8n| n8n.webhook_url.as_ref()) {
        Some(url) => {
            let origin = url.origin("n8n.webhook_url", WEBHOOK_URL_PARAMETER);
            let timeout = config.n8n.timeout.min(Duration::from_secs(10));
            match n8n_probe::probe(&url.value, timeout).await {
                Ok(detail) => report.push(Verdict::Ok, "n8n webhook", format!("{detail} (from {origin})")),
                Err(reason) => report.push(Verdict::Fail, "n8n webhook", format!("{reason} (from {origin})")),
            }
        }
        None => report.push(
            Verdict::Fail,
            "n8n webhook",
            format!(
                "n8n.webhook_url is not set (nor the Odoo system parameter {WEBHOOK_URL_PARAMETER}): \
                 requests cannot be sent to N8N"
            ),
        ),
    }
    match n8n.and_then(|n8n| n8n.api_key.as_ref()) {
        Some(key) => report.push(
            Verdict::Ok,
            "n8n api key",
            format!(
                "configured ({})",
                key.origin("n8n.api_key", API_KEY_PARAMETER)
            ),
        ),
        None => report.push(
            Verdict::Fail,
            "n8n api key",
            format!(
                "n8n.api_key is not set (nor the Odoo system parameter {API_KEY_PARAMETER}): \
                 N8N's header auth will refuse the bridge"
            ),
        ),
    }
}

/// An Odoo error as advice for the admin.
fn explain(error: &OdooError) -> String {
    match error {
        OdooError::Unreachable(_) => format!("{error}; is Odoo running and odoo.url right?"),
        OdooError::Timeout => {
            format!("{error} (odoo.timeout); is Odoo overloaded or the URL wrong?")
        }
        OdooError::Protocol { .. } => format!("{error}; does odoo.url point at Odoo itself?"),
        OdooError::InvalidResponse(_) | OdooError::NotJsonRpc { .. } => {
            format!("{error}; does odoo.url point at Odoo itself?")
        }
        OdooError::LoginRefused { .. } => {
            format!("{error}; {}", api_key::refused_login_advice(None))
        }
        OdooError::HttpStatus { status: 404, .. } => format!(
            "{error}; odoo.api = \"json2\" needs Odoo 19 or later (odoo.api = \"auto\" finds the API)"
        ),
        _ => first_line(&error.to_string()).to_owned(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
