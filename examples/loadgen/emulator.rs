//! The Odoo emulator in a process of its own, so that its CPU time is not
//! the harness's and the daemon talks to it over a real socket.
//!
//! The harness re-executes itself with `--serve-emulator`; the child starts
//! [`OdooEmulator`] (instant answers, keep-alive) on `127.0.0.1:0`, prints
//! `listening <url>` and then answers one line per command on stdin:
//!
//! | command | answer |
//! |---|---|
//! | `seed N` | `ids <id> <id> …`: N new requests (`queued`, without a UUID) |
//! | `stats` | `stats {"kind": count, …}`: calls answered since the last reset, by kind |
//! | `reset` | `ok`: the counts start again from zero |
//! | `quit` (or end of input) | the process exits |
//!
//! A call's kind is `model.method` for `execute_kw` (`common.authenticate`
//! otherwise), plus ` -> error` when it failed. The emulator's own call log
//! is folded into these counts every 100 ms and emptied, because it keeps
//! every argument: a run of ten-megabyte images would fill the memory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use influence_gen_testkit::{OdooEmulator, UserAccess};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The flag that turns the harness into the emulator process.
pub const SERVE_FLAG: &str = "--serve-emulator";
/// The Odoo user the daemon logs in as (an administrator of the emulator).
pub const LOGIN: &str = "bridge";
pub const PASSWORD: &str = "loadgen-odoo-password";
/// How often the emulator's call log is folded into the counts.
const FOLD_INTERVAL: Duration = Duration::from_millis(100);

/// Calls answered, by kind.
pub type CallCounts = BTreeMap<String, u64>;

/// Runs the emulator process until `quit` or the end of stdin.
pub fn serve() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("emulator: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve_commands()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("emulator: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_commands() -> anyhow::Result<()> {
    let odoo = Arc::new(OdooEmulator::start().await);
    odoo.add_user(LOGIN, PASSWORD, UserAccess::Admin);
    // What `check` advises for production: store images as sent, no resizing.
    odoo.set_param("base.image_autoresize_max_px", "0");
    let counts: Arc<Mutex<CallCounts>> = Arc::default();
    let folder = tokio::spawn(fold_calls(Arc::clone(&odoo), Arc::clone(&counts)));
    let mut out = tokio::io::stdout();
    out.write_all(format!("listening {}\n", odoo.url()).as_bytes())
        .await?;
    out.flush().await?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let mut words = line.split_whitespace();
        let answer = match (words.next(), words.next()) {
            (Some("seed"), Some(n)) => {
                let n: usize = n.parse().context("seed takes a number")?;
                let ids: Vec<String> = (0..n)
                    .map(|i| {
                        // Without a UUID: the bridge looks requests up by id here, and
                        // the emulator proves a UUID unique by scanning the whole table,
                        // which would make seeding 100,000 requests take hours.
                        let vals =
                            json!({ "prompt": format!("load test request {i}"), "uuid": false });
                        odoo.seed_request(vals).to_string()
                    })
                    .collect();
                format!("ids {}", ids.join(" "))
            }
            (Some("stats"), None) => {
                fold(&odoo, &counts);
                let snapshot = counts.lock().expect("counts").clone();
                format!("stats {}", serde_json::to_string(&snapshot)?)
            }
            (Some("reset"), None) => {
                fold(&odoo, &counts);
                counts.lock().expect("counts").clear();
                "ok".to_owned()
            }
            (Some("quit"), None) => break,
            _ => bail!("unknown command {line:?}"),
        };
        out.write_all(answer.as_bytes()).await?;
        out.write_all(b"\n").await?;
        out.flush().await?;
    }
    folder.abort();
    Ok(())
}

async fn fold_calls(odoo: Arc<OdooEmulator>, counts: Arc<Mutex<CallCounts>>) {
    loop {
        tokio::time::sleep(FOLD_INTERVAL).await;
        fold(&odoo, &counts);
    }
}

fn fold(odoo: &OdooEmulator, counts: &Mutex<CallCounts>) {
    let answered = odoo.take_answered_counts();
    let mut counts = counts.lock().expect("counts");
    for (kind, n) in answered {
        *counts.entry(kind).or_default() += n as u64;
    }
}

/// The emulator process, seen from the harness.
pub struct EmulatorProcess {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl EmulatorProcess {
    /// Starts `harness --serve-emulator` and waits for its address.
    pub fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the harness's own executable")?;
        let mut child = Command::new(exe)
            .arg(SERVE_FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the emulator process")?;
        let input = child.stdin.take().context("emulator stdin")?;
        let output = BufReader::new(child.stdout.take().context("emulator stdout")?);
        let mut process = Self {
            child,
            input,
            output,
            url: String::new(),
        };
        let line = process.read_line()?;
        process.url = line
            .strip_prefix("listening ")
            .with_context(|| format!("the emulator said {line:?} instead of its address"))?
            .to_owned();
        Ok(process)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Creates `n` queued requests; their ids.
    pub fn seed(&mut self, n: usize) -> anyhow::Result<Vec<i64>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let line = self.command(&format!("seed {n}"))?;
        let ids = line
            .strip_prefix("ids ")
            .with_context(|| format!("unexpected answer to seed: {line:?}"))?;
        ids.split_whitespace()
            .map(|id| id.parse().context("an id"))
            .collect()
    }

    /// Calls answered since the last reset, by kind.
    pub fn stats(&mut self) -> anyhow::Result<CallCounts> {
        let line = self.command("stats")?;
        let json = line
            .strip_prefix("stats ")
            .with_context(|| format!("unexpected answer to stats: {line:?}"))?;
        Ok(serde_json::from_str(json)?)
    }

    /// Starts counting calls from zero.
    pub fn reset(&mut self) -> anyhow::Result<()> {
        let line = self.command("reset")?;
        if line != "ok" {
            bail!("unexpected answer to reset: {line:?}");
        }
        Ok(())
    }

    fn command(&mut self, command: &str) -> anyhow::Result<String> {
        writeln!(self.input, "{command}").context("the emulator process is gone")?;
        self.input.flush()?;
        self.read_line()
    }

    fn read_line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            bail!("the emulator process ended");
        }
        Ok(line.trim_end().to_owned())
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "quit");
        let _ = self.input.flush();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
