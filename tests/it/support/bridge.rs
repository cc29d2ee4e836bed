//! The real `influence-gen-bridge` binary, run as a child process.
//!
//! Logs are requested as JSON on stderr and collected line by line, so tests
//! can learn the ephemeral port from the "listening" line and search every
//! line the daemon wrote (for leaked secrets, request ids, …).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::config::TestConfig;

/// Path of the binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_influence-gen-bridge");
/// How long a daemon may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Variables of the test runner's environment that the bridge's
/// configuration would read (`INFLUENCE_GEN_BRIDGE_*`, systemd's
/// `CREDENTIALS_DIRECTORY`). Every child is started without them, so a
/// developer's shell (the quickstart exports four) cannot change an outcome;
/// a test that wants one passes it explicitly.
pub fn inherited_config_vars() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with("INFLUENCE_GEN_BRIDGE_") || name == "CREDENTIALS_DIRECTORY")
        .collect()
}

/// A configuration file in its own temporary directory.
pub struct ConfigFile {
    /// Keeps the directory (and the file) alive as long as the value.
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    /// The spool directory the configuration names.
    pub spool_dir: PathBuf,
}

impl ConfigFile {
    /// Replaces the file's contents (for reload tests).
    pub fn rewrite(&self, config: &TestConfig) {
        std::fs::write(&self.path, config.toml()).expect("rewrite config");
    }

    /// Writes `config`; without a spool directory of its own, the spool goes
    /// next to the file (so a restart with the same file finds it again).
    pub fn write(config: &TestConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.toml");
        let mut config = config.clone();
        if config.spool_dir.is_none() {
            config.spool_dir = Some(dir.path().join("spool"));
        }
        std::fs::write(&path, config.toml()).expect("write config");
        let spool_dir = config.spool_dir.clone().unwrap_or_default();
        Self {
            _dir: dir,
            path,
            spool_dir,
        }
    }
}

/// Runs `influence-gen-bridge --config <file> <args…>` to completion
/// (without blocking the test's runtime, which may be serving fakes).
pub async fn run(config_path: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(BIN);
    command
        .arg("--config")
        .arg(config_path)
        .args(args)
        .env_remove("RUST_LOG");
    for name in inherited_config_vars() {
        command.env_remove(name);
    }
    for (name, value) in envs {
        command.env(name, value);
    }
    command.output().await.expect("run the bridge binary")
}

/// A running `serve` process; killed when dropped.
pub struct BridgeProcess {
    child: Child,
    pub address: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    _config: Option<ConfigFile>,
}

impl BridgeProcess {
    /// Writes `config` and starts `serve` with it.
    pub async fn start(config: &TestConfig) -> Self {
        let file = ConfigFile::write(config);
        let mut process = Self::start_with_file(&file.path, &[]).await;
        process._config = Some(file);
        process
    }

    /// Starts `serve` with an existing config file and extra environment.
    pub async fn start_with_file(path: &Path, envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command
            .arg("--config")
            .arg(path)
            .args(["--log-format", "json", "serve"])
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in inherited_config_vars() {
            command.env_remove(name);
        }
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn the bridge");
        let logs = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child.stderr.take().map(as_read),
            child.stdout.take().map(as_read),
        ]
        .into_iter()
        .flatten()
        {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let address = wait_for_address(&logs, &mut child).await;
        Self {
            child,
            address,
            logs,
            _config: None,
        }
    }

    /// The spool directory (for processes started with [`BridgeProcess::start`]).
    pub fn spool_dir(&self) -> PathBuf {
        self._config
            .as_ref()
            .map(|file| file.spool_dir.clone())
            .expect("started from a TestConfig")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Every line the process wrote so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// All lines as one text.
    pub fn log_text(&self) -> String {
        self.logs().join("\n")
    }

    /// Waits until a log line contains `needle`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.logs().into_iter().find(|line| line.contains(needle)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line containing {needle:?} within {timeout:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `signal` (e.g. libc SIGTERM = 15) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal} failed");
    }

    /// Waits for the process to exit, at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn as_read<R: std::io::Read + Send + 'static>(stream: R) -> Box<dyn std::io::Read + Send> {
    Box::new(stream)
}

async fn wait_for_address(logs: &Mutex<Vec<String>>, child: &mut Child) -> SocketAddr {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let found = logs
            .lock()
            .unwrap()
            .iter()
            .find_map(|line| listening_address(line));
        if let Some(address) = found {
            return address;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "the bridge exited with {status} before listening:\n{}",
                logs.lock().unwrap().join("\n")
            );
        }
        assert!(
            Instant::now() < deadline,
            "the bridge did not listen in time:\n{}",
            logs.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn listening_address(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if value.get("message")?.as_str()? != "influence-gen-bridge listening" {
        return None;
    }
    value.get("address")?.as_str()?.parse().ok()
}
