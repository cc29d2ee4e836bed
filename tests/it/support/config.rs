//! Configuration files for tests, with secrets that are easy to search for
//! in captured output.

/// Every secret a test configures. Each is distinctive, so a leak check can
/// search any output for it.
pub const ODOO_LOGIN: &str = "bridge";
pub const ODOO_PASSWORD: &str = "test-odoo-password-2b6f";
pub const API_KEY: &str = "test-n8n-api-key-7f3a";
pub const CALLBACK_TOKEN: &str = "test-callback-token-91c2";
pub const OUTBOUND_TOKEN: &str = "test-outbound-token-5d8e";

/// A bridge configuration pointing at test services.
#[derive(Debug, Clone)]
pub struct TestConfig {
    pub odoo_url: String,
    pub database: String,
    pub login: String,
    pub password: String,
    pub webhook_url: Option<String>,
    pub api_key: Option<String>,
    pub callback_token: Option<String>,
    pub outbound_token: Option<String>,
    /// The spool directory; `None` puts it next to the config file.
    pub spool_dir: Option<std::path::PathBuf>,
    /// Extra TOML lines appended per section, e.g. ("server", "start_degraded = true").
    pub extra: Vec<(&'static str, String)>,
}

impl TestConfig {
    /// A configuration for the Odoo at `odoo_url`, as the user
    /// [`ODOO_LOGIN`] with [`ODOO_PASSWORD`].
    pub fn new(odoo_url: &str) -> Self {
        Self {
            odoo_url: odoo_url.to_owned(),
            database: "ig".to_owned(),
            login: ODOO_LOGIN.to_owned(),
            password: ODOO_PASSWORD.to_owned(),
            webhook_url: None,
            api_key: Some(API_KEY.to_owned()),
            callback_token: Some(CALLBACK_TOKEN.to_owned()),
            outbound_token: Some(OUTBOUND_TOKEN.to_owned()),
            spool_dir: None,
            extra: Vec::new(),
        }
    }

    /// Adds `line` to `[section]`.
    pub fn with(mut self, section: &'static str, line: impl Into<String>) -> Self {
        self.extra.push((section, line.into()));
        self
    }

    /// The secrets this configuration holds (for leak checks).
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.password.clone()];
        secrets.extend(self.api_key.clone());
        secrets.extend(self.callback_token.clone());
        secrets.extend(self.outbound_token.clone());
        secrets
    }

    /// The TOML text.
    pub fn toml(&self) -> String {
        let mut sections: Vec<(&str, Vec<String>)> = vec![
            (
                "server",
                vec![
                    "listen = \"127.0.0.1:0\"".into(),
                    "public_url = \"http://127.0.0.1:9\"".into(),
                ],
            ),
            (
                "odoo",
                vec![
                    format!("url = {:?}", self.odoo_url),
                    format!("database = {:?}", self.database),
                    format!("login = {:?}", self.login),
                    format!("password = {:?}", self.password),
                    "timeout = \"5s\"".into(),
                    // Generic protocol: waits after an unknown outcome take
                    // seconds here, not the production minutes.
                    "unknown_outcome_wait = \"2s\"".into(),
                ],
            ),
            ("n8n", Vec::new()),
            ("images", Vec::new()),
            ("log", Vec::new()),
            (
                "spool",
                vec![
                    // Fast retries, so tests of outages take seconds.
                    "retry_initial = \"50ms\"".into(),
                    "retry_max = \"500ms\"".into(),
                ],
            ),
        ];
        if let Some(dir) = &self.spool_dir {
            sections[5]
                .1
                .push(format!("dir = {:?}", dir.display().to_string()));
        }
        let n8n = &mut sections[2].1;
        if let Some(url) = &self.webhook_url {
            n8n.push(format!("webhook_url = {url:?}"));
        }
        if let Some(key) = &self.api_key {
            n8n.push(format!("api_key = {key:?}"));
        }
        if let Some(token) = &self.callback_token {
            n8n.push(format!("callback_token = {token:?}"));
        }
        if let Some(token) = &self.outbound_token {
            n8n.push(format!("outbound_token = {token:?}"));
        }
        for (section, line) in &self.extra {
            match sections.iter_mut().find(|(name, _)| name == section) {
                Some((_, lines)) => {
                    // A later value of the same key replaces the default.
                    let key = line.split('=').next().unwrap_or_default().trim().to_owned();
                    lines.retain(|existing| {
                        existing.split('=').next().unwrap_or_default().trim() != key
                    });
                    lines.push(line.clone());
                }
                None => sections.push((section, vec![line.clone()])),
            }
        }
        let mut text = String::new();
        for (name, lines) in sections {
            text.push_str(&format!("[{name}]\n"));
            for line in lines {
                text.push_str(&line);
                text.push('\n');
            }
            text.push('\n');
        }
        text
    }
}

/// Asserts that none of `secrets` occurs in `output`.
pub fn assert_no_secret(output: &str, secrets: &[String], context: &str) {
    for secret in secrets {
        assert!(
            !output.contains(secret.as_str()),
            "{context}: a secret leaked into the output:\n{output}"
        );
    }
}
