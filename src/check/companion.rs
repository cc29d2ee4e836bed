//! The checks of the protocol toward Odoo: is the companion addon installed,
//! which version, may the bridge's user call it; and which protocol `serve`
//! will speak, with what the generic one gives up said in words.

use crate::config::{Config, ProtocolMode};
use crate::odoo::protocol::{self, COMPANION_NAME, Detection, Protocol};
use crate::odoo::{OdooClient, ServerErrorKind};

use super::{Report, Verdict, explain};

/// Where the addon lives in this repository (for the advice).
const ADDON_PATH: &str = "examples/odoo/influence_gen_bridge";
/// The group whose members may call the addon.
const BRIDGE_GROUP: &str = "influence_gen_base_models.group_influence_gen_bridge";

/// The two lines: `companion addon` and `protocol`.
pub(super) async fn check(odoo: &OdooClient, config: &Config, report: &mut Report) {
    let mode = config.odoo.protocol;
    let name = "companion addon";
    let detection = match protocol::detect(odoo, crate::odoo::records::REQUEST_MODEL).await {
        Ok(detection) => detection,
        Err(error) => {
            let refused = error.server_kind() == Some(ServerErrorKind::AccessError);
            let detail = if refused {
                format!(
                    "installed, but `{}` may not call it: add the user to the group {BRIDGE_GROUP} \
                     ({})",
                    config.odoo.login,
                    explain(&error)
                )
            } else {
                format!("cannot ask for it: {}", explain(&error))
            };
            let verdict = if mode == ProtocolMode::Generic {
                Verdict::Warn
            } else {
                Verdict::Fail
            };
            report.push(verdict, name, detail);
            report.push(
                Verdict::Skipped,
                "protocol",
                "the companion addon check failed",
            );
            return;
        }
    };
    addon_line(&detection, mode, &config.odoo.login, report);
    match protocol::choose(mode, &detection) {
        Ok(chosen) => protocol_line(chosen, config, report),
        Err(error) => report.push(
            Verdict::Fail,
            "protocol",
            format!("{error}: nothing can be applied until it is fixed"),
        ),
    }
}

fn addon_line(detection: &Detection, mode: ProtocolMode, login: &str, report: &mut Report) {
    let name = "companion addon";
    match detection {
        Detection::Companion(info) => {
            let module_version = info.module_version.as_deref().unwrap_or("?");
            match info.unusable_because() {
                None => report.push(
                    Verdict::Ok,
                    name,
                    format!(
                        "{COMPANION_NAME} {module_version} installed (protocol version {}), callable by `{login}`",
                        info.version
                    ),
                ),
                Some(problem) => report.push(
                    if mode == ProtocolMode::Companion {
                        Verdict::Fail
                    } else {
                        Verdict::Warn
                    },
                    name,
                    format!(
                        "{COMPANION_NAME} {module_version} installed but not usable by this bridge: {problem}"
                    ),
                ),
            }
        }
        Detection::Absent => {
            let advice = format!("install {ADDON_PATH} (it depends on influence_gen_base_models)");
            match mode {
                ProtocolMode::Companion => report.push(
                    Verdict::Fail,
                    name,
                    format!(
                        "not installed, and odoo.protocol = \"companion\" requires it: {advice}"
                    ),
                ),
                ProtocolMode::Auto => report.push(
                    Verdict::Warn,
                    name,
                    format!(
                        "not installed: {advice} for one Odoo call per result and several bridges"
                    ),
                ),
                ProtocolMode::Generic => report.push(
                    Verdict::Ok,
                    name,
                    "not installed (odoo.protocol = \"generic\" does not use it)",
                ),
            }
        }
    }
}

fn protocol_line(chosen: Protocol, config: &Config, report: &mut Report) {
    let mode = config.odoo.protocol.as_str();
    match chosen {
        Protocol::Companion { version } => report.push(
            Verdict::Ok,
            "protocol",
            format!(
                "companion, version {version} (odoo.protocol = \"{mode}\"): one Odoo call per result, \
                 claim and finished initiation, each one transaction under a row lock; any number of \
                 bridges may share the database"
            ),
        ),
        Protocol::Generic => {
            let verdict = if config.odoo.protocol == ProtocolMode::Generic {
                Verdict::Ok
            } else {
                Verdict::Warn
            };
            report.push(
                verdict,
                "protocol",
                format!(
                    "generic (odoo.protocol = \"{mode}\"), which gives up: exactly-once across bridges \
                     (run ONE bridge per database); up to 7 Odoo calls per result; after a call of \
                     unknown outcome (timeout, lost connection, 502/503/504) no create is repeated for \
                     odoo.unknown_outcome_wait = {}, which must exceed Odoo's limit_time_real",
                    humantime::format_duration(config.odoo.unknown_outcome_wait)
                ),
            );
        }
    }
}
