//! `check` against the real Odoo with the quickstart's configuration
//! (`examples/quickstart/config.toml`, secrets from the environment as the
//! README exports them): every line ok.

use futures_util::FutureExt;

use super::LiveScenario;
use crate::newcomer::quickstart_config;
use crate::support::bridge;
use crate::support::config::assert_no_secret;

pub fn scenarios() -> Vec<LiveScenario> {
    vec![LiveScenario::new(
        "check is all ok with the quickstart's configuration",
        |live| {
            async move {
                let odoo = &live.odoo;
                let n8n = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                let webhook = format!(
                    "http://{}/webhook/influence-gen",
                    n8n.local_addr().expect("address")
                );
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("config.toml");
                let text = quickstart_config(&odoo.url, &webhook)
                    .replace(
                        "database = \"ig\"",
                        &format!("database = {:?}", odoo.database),
                    )
                    .replace("login = \"bridge\"", &format!("login = {:?}", odoo.login));
                std::fs::write(&path, text).expect("write the config");
                let secrets = [
                    ("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", odoo.password.as_str()),
                    ("INFLUENCE_GEN_BRIDGE_N8N_API_KEY", "live-api-key-4e0b"),
                    (
                        "INFLUENCE_GEN_BRIDGE_N8N_CALLBACK_TOKEN",
                        "live-callback-token-a61f",
                    ),
                    (
                        "INFLUENCE_GEN_BRIDGE_N8N_OUTBOUND_TOKEN",
                        "live-outbound-token-7d2c",
                    ),
                ];
                let output = bridge::run(&path, &["check"], &secrets).await;
                let stdout = String::from_utf8_lossy(&output.stdout);
                let report = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
                let values: Vec<String> = secrets.iter().map(|(_, v)| (*v).to_owned()).collect();
                assert_no_secret(&report, &values, "check");
                assert!(output.status.success(), "{report}");
                let lines: Vec<&str> = stdout.lines().collect();
                assert_eq!(lines.last(), Some(&"all checks passed"), "{stdout}");
                let not_ok: Vec<&&str> = lines[..lines.len() - 1]
                    .iter()
                    .filter(|line| !line.starts_with("ok   "))
                    .collect();
                assert!(not_ok.is_empty(), "lines that are not ok:\n{stdout}");
            }
            .boxed()
        },
    )]
}
