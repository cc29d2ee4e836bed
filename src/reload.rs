//! Configuration reload (SIGHUP). Most keys are read from the configuration
//! snapshot at each use and change at once, `odoo.password` included (the
//! client logs in again: [`password_changed`]). What running clients and
//! listeners were built with keeps its value until a restart ([`plan`] names
//! those keys in the log).

use secrecy::ExposeSecret;

use crate::config::Config;

/// The configuration to run with, and the keys whose new value waits for a
/// restart.
#[derive(Debug)]
pub struct Plan {
    pub effective: Config,
    pub needs_restart: Vec<&'static str>,
}

/// Merges `new` into the running `old`.
pub fn plan(old: &Config, mut new: Config) -> Plan {
    let mut needs_restart = Vec::new();
    macro_rules! keep {
        ($($section:ident.$key:ident),+) => {$(
            if new.$section.$key != old.$section.$key {
                needs_restart.push(concat!(stringify!($section), ".", stringify!($key)));
                new.$section.$key = old.$section.$key.clone();
            }
        )+};
    }
    keep!(
        server.listen,
        server.max_connections,
        odoo.url,
        odoo.database,
        odoo.login,
        odoo.timeout,
        odoo.max_concurrent_calls,
        odoo.protocol,
        spool.dir,
        spool.fsync,
        spool.max_bytes
    );
    Plan {
        effective: new,
        needs_restart,
    }
}

/// Whether the Odoo password (or API key) changed.
pub fn password_changed(old: &Config, new: &Config) -> bool {
    let (a, b) = (
        old.odoo.password.expose_secret(),
        new.odoo.password.expose_secret(),
    );
    !constant_time_eq::constant_time_eq(a.as_bytes(), b.as_bytes())
}

/// Whether the image download settings changed (the downloader is rebuilt).
pub fn images_changed(old: &Config, new: &Config) -> bool {
    old.images != new.images
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Environment;

    const BASE: &str = r#"
[server]
public_url = "https://bridge.example.com"
[odoo]
url = "http://127.0.0.1:8069"
database = "ig"
login = "bridge"
password = "pw"
[n8n]
callback_token = "old-token"
"#;

    fn config(text: &str) -> Config {
        Config::from_toml(
            text,
            Path::new("t.toml"),
            Path::new("."),
            &Environment::default(),
        )
        .unwrap()
    }

    #[test]
    fn tokens_and_body_limits_change_at_once() {
        let old = config(BASE);
        let new = config(
            &BASE
                .replace("old-token", "new-token")
                .replace("[server]", "[server]\nmax_body_bytes = 2048"),
        );
        let plan = plan(&old, new);
        assert!(plan.needs_restart.is_empty(), "{:?}", plan.needs_restart);
        assert_eq!(
            plan.effective.n8n.callback_token.unwrap().expose_secret(),
            "new-token"
        );
        assert_eq!(plan.effective.server.max_body_bytes, 2048);
    }

    #[test]
    fn connection_settings_wait_for_a_restart_and_keep_their_running_value() {
        let old = config(BASE);
        let new = config(
            &BASE
                .replace("127.0.0.1:8069", "10.0.0.5:8069")
                .replace("password = \"pw\"", "password = \"pw2\"")
                .replace(
                    "[server]",
                    "[server]\nlisten = \"0.0.0.0:9999\"\nmax_connections = 8",
                ),
        );
        let plan = plan(&old, new);
        assert_eq!(
            plan.needs_restart,
            ["server.listen", "server.max_connections", "odoo.url"]
        );
        assert_eq!(plan.effective.odoo.password.expose_secret(), "pw2");
        assert_eq!(plan.effective.odoo.url.as_str(), "http://127.0.0.1:8069/");
        assert_eq!(plan.effective.server.listen, old.server.listen);
    }

    #[test]
    fn the_result_timeout_changes_at_once() {
        let old = config(BASE);
        let new = config(&format!("{BASE}\n[initiation]\nresult_timeout = \"2h\"\n"));
        let plan = plan(&old, new);
        assert!(plan.needs_restart.is_empty(), "{:?}", plan.needs_restart);
        assert_eq!(
            plan.effective.initiation.result_timeout,
            std::time::Duration::from_secs(7200)
        );
    }

    #[test]
    fn the_protocol_waits_for_a_restart_and_the_unknown_outcome_wait_does_not() {
        let old = config(BASE);
        let new = config(&BASE.replace(
            "password = \"pw\"",
            "password = \"pw\"\nprotocol = \"generic\"\nunknown_outcome_wait = \"10m\"",
        ));
        let plan = plan(&old, new);
        assert_eq!(plan.needs_restart, ["odoo.protocol"]);
        assert_eq!(plan.effective.odoo.protocol, old.odoo.protocol);
        assert_eq!(
            plan.effective.odoo.unknown_outcome_wait,
            std::time::Duration::from_secs(600)
        );
    }

    #[test]
    fn the_password_changes_at_once() {
        let old = config(BASE);
        let new = config(&BASE.replace("password = \"pw\"", "password = \"pw2\""));
        assert!(password_changed(&old, &new));
        assert!(!password_changed(&old, &config(BASE)));
        let plan = plan(&old, new);
        assert!(plan.needs_restart.is_empty(), "{:?}", plan.needs_restart);
        assert_eq!(plan.effective.odoo.password.expose_secret(), "pw2");
    }

    #[test]
    fn image_settings_are_compared() {
        let old = config(BASE);
        let new = config(&format!("{BASE}\n[images]\nallowed_ports = [443]\n"));
        assert!(images_changed(&old, &new));
        assert!(!images_changed(&old, &config(BASE)));
    }
}
