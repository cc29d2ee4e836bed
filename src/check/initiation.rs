//! The checks of what initiation needs: the N8N settings in force (the
//! TOML, else Odoo's system parameters, each line saying where a value came
//! from), whether those parameters are readable, and how requests reach N8N.

use crate::config::Config;
use crate::initiation::fingerprint;
use crate::odoo::OdooClient;
use crate::parameters::{
    API_KEY_PARAMETER, CALLBACK_TOKEN_PARAMETER, EffectiveN8n, OUTBOUND_TOKEN_PARAMETER,
    ParameterState, Source, SystemParameters, WEBHOOK_URL_PARAMETER,
};

use super::{Report, Verdict};

/// The N8N settings in force; Odoo is asked only for what the TOML leaves unset.
pub(super) async fn effective(config: &Config) -> Option<EffectiveN8n> {
    let odoo = OdooClient::new(&config.odoo).ok()?;
    Some(SystemParameters::new(odoo).effective(config).await)
}

pub(super) fn callback_token(config: &Config, n8n: Option<&EffectiveN8n>, report: &mut Report) {
    let name = "callback token";
    let mode = config.auth.mode;
    if mode.uses_signatures() {
        report.push(
            Verdict::Ok,
            "callback signatures",
            format!(
                "auth.mode = {mode}: {} signing secret(s) configured",
                config.auth.signing_secrets.len()
            ),
        );
    }
    match n8n.and_then(|n8n| n8n.callback_token.as_ref()) {
        Some(token) if token.source == Source::Config => {
            report.push(Verdict::Ok, name, "configured (n8n.callback_token)");
        }
        Some(_) => report.push(
            Verdict::Warn,
            name,
            format!(
                "taken from the Odoo system parameter {CALLBACK_TOKEN_PARAMETER}; setting n8n.callback_token \
                 in the configuration is recommended: while Odoo is down at start the token is unknown and \
                 every callback is refused"
            ),
        ),
        // `both` cannot get here: validation requires the token for it.
        None if mode.uses_signatures() => report.push(
            Verdict::Ok,
            name,
            format!("not set; auth.mode = {mode} accepts signed callbacks only"),
        ),
        None => report.push(
            Verdict::Fail,
            name,
            format!(
                "n8n.callback_token is not set (nor the Odoo system parameter {CALLBACK_TOKEN_PARAMETER}): \
                 every callback will be refused (fail closed); set it, INFLUENCE_GEN_BRIDGE_N8N_CALLBACK_TOKEN, \
                 or the systemd credential n8n_callback_token"
            ),
        ),
    }
}

/// A warning when the system parameters were needed but could not be read.
pub(super) fn parameters(config: &Config, n8n: Option<&EffectiveN8n>, report: &mut Report) {
    let name = "system parameters";
    let Some(n8n) = n8n else {
        return;
    };
    match &n8n.parameters {
        ParameterState::NotNeeded => report.push(
            Verdict::Ok,
            name,
            "not read: every [n8n] value is in the configuration",
        ),
        ParameterState::Read => {
            let from_odoo: Vec<&str> = [
                (
                    n8n.webhook_url.as_ref().map(|v| v.source),
                    WEBHOOK_URL_PARAMETER,
                ),
                (n8n.api_key.as_ref().map(|v| v.source), API_KEY_PARAMETER),
                (
                    n8n.outbound_token.as_ref().map(|v| v.source),
                    OUTBOUND_TOKEN_PARAMETER,
                ),
                (
                    n8n.callback_token.as_ref().map(|v| v.source),
                    CALLBACK_TOKEN_PARAMETER,
                ),
            ]
            .into_iter()
            .filter(|(source, _)| *source == Some(Source::Odoo))
            .map(|(_, key)| key)
            .collect();
            let detail = if from_odoo.is_empty() {
                "read; none of the influence_gen.* values is set in Odoo".to_owned()
            } else {
                format!("read; used from Odoo: {}", from_odoo.join(", "))
            };
            report.push(Verdict::Ok, name, detail);
        }
        ParameterState::Forbidden => report.push(
            Verdict::Warn,
            name,
            format!(
                "`{}` may not read ir.config_parameter (only Odoo's Settings group can); the influence_gen.* \
                 parameters are ignored and only the [n8n] values of the configuration are used",
                config.odoo.login
            ),
        ),
        ParameterState::Unavailable(error) => report.push(
            Verdict::Warn,
            name,
            format!("cannot read the influence_gen.* parameters from Odoo: {error}"),
        ),
    }
}

/// How queued requests reach N8N: the trigger route and the sweeper.
pub(super) fn ways_in(config: &Config, report: &mut Report) {
    let initiation = &config.initiation;
    let trigger = match &initiation.trigger_secret {
        Some(secret) => format!(
            "trigger route on (POST /influence_gen/trigger/<secret>, secret fingerprint {})",
            fingerprint(secrecy::ExposeSecret::expose_secret(secret))
        ),
        None => "trigger route off (initiation.trigger_secret is not set)".to_owned(),
    };
    match initiation.sweep_interval {
        Some(interval) => report.push(
            Verdict::Ok,
            "initiation",
            format!(
                "{trigger}; sweeper every {} for requests queued longer than {}",
                humantime::format_duration(interval),
                humantime::format_duration(initiation.sweep_grace)
            ),
        ),
        None if initiation.trigger_secret.is_some() => report.push(
            Verdict::Warn,
            "initiation",
            format!("{trigger}; sweeper off: a request whose trigger is lost stays queued"),
        ),
        None => report.push(
            Verdict::Warn,
            "initiation",
            format!(
                "{trigger}; sweeper off: queued requests are sent only by `influence-gen-bridge initiate`"
            ),
        ),
    }
}
