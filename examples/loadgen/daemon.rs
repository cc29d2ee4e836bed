//! The real `influence-gen-bridge` binary as a child process: its binary,
//! its configuration, its start, its log, its stop.
//!
//! The daemon logs JSON on stderr; a thread reads every line, notes when the
//! "influence-gen-bridge listening" line (with the bound `address`) and the
//! "logged in to Odoo" line arrive, and counts warnings and errors.
//! Start-to-listening is the time from spawning the process to reading the
//! listening line; the Odoo login is not part of it (it is logged later).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};

use crate::emulator;

/// The token N8N presents; the harness sends it in `X-N8N-Webhook-Token`.
pub const CALLBACK_TOKEN: &str = "loadgen-callback-token";
const BIN_NAME: &str = "influence-gen-bridge";
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Connections the daemon may serve beyond the harness's own.
const SPARE_CONNECTIONS: usize = 16;
/// Problems (warnings, errors) kept to show after a run.
const KEPT_PROBLEMS: usize = 5;

/// Finds the daemon binary: `explicit`, else `target/release/influence-gen-bridge`
/// next to this example's executable, built first if it is missing or older
/// than the sources (`cargo run --example` does not build the binary).
pub fn binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let exe = std::env::current_exe().context("cannot find the harness's own executable")?;
    // <target>/release/examples/loadgen → <target>/release/influence-gen-bridge
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the harness is not inside a cargo target directory")?;
    let path = profile_dir.join(BIN_NAME);
    let why = match std::fs::metadata(&path).and_then(|m| m.modified()) {
        Err(_) => Some("is missing"),
        Ok(built) if newest_source(Path::new(env!("CARGO_MANIFEST_DIR"))) > Some(built) => {
            Some("is older than the sources (cargo rebuilds it only if they changed)")
        }
        Ok(_) => None,
    };
    if let Some(why) = why {
        eprintln!(
            "{} {why}; building it: cargo build --release --bin {BIN_NAME}",
            path.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--bin", BIN_NAME])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .context("cannot run cargo")?;
        if !status.success() || !path.exists() {
            bail!("cargo build --release --bin {BIN_NAME} failed ({status})");
        }
    }
    Ok(path)
}

/// When the daemon's sources (`src/`, `Cargo.toml`, `Cargo.lock`) last changed.
fn newest_source(manifest_dir: &Path) -> Option<SystemTime> {
    fn newest_in(dir: &Path) -> Option<SystemTime> {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter_map(|entry| {
                let kind = entry.file_type().ok()?;
                if kind.is_dir() {
                    newest_in(&entry.path())
                } else {
                    entry.metadata().ok()?.modified().ok()
                }
            })
            .max()
    }
    ["Cargo.toml", "Cargo.lock"]
        .iter()
        .filter_map(|file| {
            std::fs::metadata(manifest_dir.join(file))
                .ok()?
                .modified()
                .ok()
        })
        .chain(newest_in(&manifest_dir.join("src")))
        .max()
}

/// What the generated configuration is sized for.
#[derive(Debug, Clone)]
pub struct DaemonSettings {
    pub odoo_url: String,
    /// Concurrent Odoo calls and concurrent spool entries.
    pub concurrency: usize,
    /// `spool.fsync` (on for every figure against the targets).
    pub fsync: bool,
}

/// The configuration file: spool on with fsync, loopback image hosts
/// allowed, limits above a 10 MB image (as base64 in JSON), no sweeper (it
/// would send the seeded requests to N8N) and room for every connection.
fn config_toml(settings: &DaemonSettings, spool_dir: &Path) -> String {
    let DaemonSettings {
        odoo_url,
        concurrency,
        fsync,
    } = settings;
    let spool_dir = spool_dir.display().to_string();
    let database = "ig";
    let (login, password) = (emulator::LOGIN, emulator::PASSWORD);
    let max_connections = concurrency + SPARE_CONNECTIONS;
    format!(
        r#"[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:9"
max_body_bytes = 67108864
max_connections = {max_connections}

[odoo]
url = {odoo_url:?}
database = {database:?}
login = {login:?}
password = {password:?}
timeout = "30s"
max_concurrent_calls = {concurrency}

[n8n]
callback_token = {CALLBACK_TOKEN:?}

[images]
max_bytes = 41943040
allow_private_networks = true
allowed_ports = []

[log]
level = "info"
format = "json"

[spool]
dir = {spool_dir:?}
fsync = {fsync}
wait = "5s"

[initiation]
sweep_interval = "0s"

"#
    )
}

/// What the log reader saw.
#[derive(Debug, Default)]
struct LogState {
    logged_in: bool,
    warnings: u64,
    errors: u64,
    problems: Vec<String>,
}

/// A running daemon; killed when dropped.
pub struct DaemonProcess {
    child: Child,
    pub address: SocketAddr,
    pub start_to_listening: Duration,
    log: Arc<Mutex<LogState>>,
    _dir: tempfile::TempDir,
}

impl DaemonProcess {
    /// Writes a configuration into a fresh temporary directory (the spool
    /// goes there too) and starts `serve` with it.
    pub fn start(binary: &Path, settings: &DaemonSettings) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("loadgen-")
            .tempdir()
            .context("cannot create a temporary directory")?;
        let config = dir.path().join("config.toml");
        std::fs::write(&config, config_toml(settings, &dir.path().join("spool")))?;
        let spawned = Instant::now();
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stderr = child.stderr.take().context("daemon stderr")?;
        let log = Arc::new(Mutex::new(LogState::default()));
        let (listening_tx, listening_rx) = mpsc::channel();
        let state = Arc::clone(&log);
        std::thread::spawn(move || read_log(stderr, listening_tx, &state));
        let (address, at) = match listening_rx.recv_timeout(START_TIMEOUT) {
            Ok(listening) => listening,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                bail!(
                    "the daemon did not log its address within {START_TIMEOUT:?} (exit: {status:?}); its problems: {:?}",
                    log.lock().expect("log").problems
                );
            }
        };
        Ok(Self {
            child,
            address,
            start_to_listening: at.duration_since(spawned),
            log,
            _dir: dir,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the daemon logged in to Odoo.
    pub fn wait_logged_in(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.log.lock().expect("log").logged_in {
            if Instant::now() >= deadline {
                bail!("the daemon did not log in to Odoo within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Warnings and errors logged so far, and the first few of them.
    pub fn problems(&self) -> (u64, u64, Vec<String>) {
        let log = self.log.lock().expect("log");
        (log.warnings, log.errors, log.problems.clone())
    }

    /// SIGTERM, then waits for the orderly stop (SIGKILL after a timeout).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("the daemon did not stop within {STOP_TIMEOUT:?}; killing it");
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(
    stderr: impl std::io::Read,
    listening: mpsc::Sender<(SocketAddr, Instant)>,
    state: &Mutex<LogState>,
) {
    let mut address_seen = false;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if !address_seen && let Some(address) = listening_address(&line) {
            address_seen = true;
            let _ = listening.send((address, Instant::now()));
            continue;
        }
        let mut state = state.lock().expect("log");
        if line.contains(r#""level":"WARN""#) {
            state.warnings += 1;
        } else if line.contains(r#""level":"ERROR""#) {
            state.errors += 1;
        } else if !line.starts_with('{') {
            // Not a log event (a panic message): always worth showing.
            state.errors += 1;
        } else {
            if line.contains("logged in to Odoo") {
                state.logged_in = true;
            }
            continue;
        }
        if state.problems.len() < KEPT_PROBLEMS {
            state.problems.push(line);
        }
    }
}

fn listening_address(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if value.get("message")?.as_str()? != "influence-gen-bridge listening" {
        return None;
    }
    value.get("address")?.as_str()?.parse().ok()
}
