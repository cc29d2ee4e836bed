//! The checks of the protocol toward Odoo: is the companion addon
//! installed and callable, and which protocol `serve` will speak, with what
//! the generic one gives up said in words.

use crate::config::{Config, ProtocolMode};
use crate::odoo::protocol::{self, COMPANION_NAME, Detection, Protocol};
use crate::odoo::records::REQUEST_MODEL;
use crate::odoo::{OdooClient, ServerErrorKind};

use super::Verdict::{self, Fail, Pass, Skip, Warn};
use super::{Report, explain};

const ADDON_PATH: &str = "examples/odoo/influence_gen_bridge";
/// The group whose members may call the addon.
const BRIDGE_GROUP: &str = "influence_gen_base_models.group_influence_gen_bridge";

/// The two lines: `companion addon` and `protocol`.
pub(super) async fn check(odoo: &OdooClient, config: &Config, report: &mut Report) {
    let (mode, login) = (config.odoo.protocol, &config.odoo.login);
    // Fails when the addon is wanted, warns when it is optional.
    let problem = |required: bool| if required { Fail } else { Warn };
    let detection = match protocol::detect(odoo, REQUEST_MODEL).await {
        Ok(detection) => detection,
        Err(error) => {
            let detail = if error.server_kind() == Some(ServerErrorKind::AccessError) {
                format!(
                    "installed, but `{login}` may not call it: add the user to the group \
                     {BRIDGE_GROUP} ({})",
                    explain(&error)
                )
            } else {
                format!("cannot ask for it: {}", explain(&error))
            };
            let verdict = problem(mode != ProtocolMode::Generic);
            report.add("companion addon", (verdict, detail));
            let skipped = "the companion addon check failed".to_owned();
            return report.add("protocol", (Skip, skipped));
        }
    };
    let addon = match &detection {
        Detection::Companion(info) => {
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
        Detection::Absent => {
            let advice = format!("install {ADDON_PATH} (it depends on influence_gen_base_models)");
            match mode {
                ProtocolMode::Companion => (
                    Fail,
                    format!(
                        "not installed, and odoo.protocol = \"companion\" requires it: {advice}"
                    ),
                ),
                ProtocolMode::Auto => (
                    Warn,
                    format!(
                        "not installed: {advice} for one Odoo call per result and several bridges"
                    ),
                ),
                ProtocolMode::Generic => (
                    Pass,
                    "not installed (odoo.protocol = \"generic\" does not use it)".to_owned(),
                ),
            }
        }
    };
    report.add("companion addon", addon);
    report.add("protocol", protocol_line(mode, &detection, config));
}

fn protocol_line(mode: ProtocolMode, detection: &Detection, config: &Config) -> (Verdict, String) {
    let mode_name = mode;
    match protocol::choose(mode, detection) {
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
        Err(error) => {
            let detail = format!("{error}: nothing can be applied until it is fixed");
            (Fail, detail)
        }
    }
}
