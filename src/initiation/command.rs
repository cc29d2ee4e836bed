//! `influence-gen-bridge initiate`: send one request, or every queued one,
//! to N8N now (the status in Odoo guards against a running daemon). Exit
//! status: 0 sent, 1 failed, unknown outcome or Odoo unusable, 3 nothing sent.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::sweeper::sweep;
use super::{InitiationError, Initiator, Outcome};
use crate::config::Config;
use crate::locks::RequestLocks;
use crate::odoo::records::REQUEST_MODEL;
use crate::odoo::{OdooClient, OdooError, SearchOptions};

/// Exit status when nothing was sent and nothing failed.
const EXIT_NOT_SENT: u8 = 3;

/// Arguments of `initiate`.
#[derive(Debug, clap::Args)]
pub struct InitiateArgs {
    /// The request: its Odoo id (digits) or its UUID.
    #[arg(
        value_name = "ID_OR_UUID",
        required_unless_present = "all_queued",
        conflicts_with = "all_queued"
    )]
    pub request: Option<String>,

    /// Send every queued request, oldest first, regardless of `initiation.sweep_grace`.
    #[arg(long)]
    pub all_queued: bool,
}

/// Runs `initiate` and returns the exit status.
pub async fn run(config: Config, args: InitiateArgs) -> ExitCode {
    let initiator = OdooClient::new(&config.odoo)
        .map_err(|e| e.to_string())
        .and_then(|odoo| {
            let (locks, metrics) = (RequestLocks::default(), Arc::default());
            Initiator::new(odoo, locks, &config, metrics).map_err(|e| e.to_string())
        });
    let initiator = match initiator {
        Ok(initiator) => initiator,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let stop = CancellationToken::new();
    let on_interrupt = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping after the current request");
            on_interrupt.cancel();
        }
    });
    let Some(reference) = args.request else {
        return all_queued(&initiator, &config, &stop).await;
    };
    let uuid_field = crate::odoo::records::UUID_FIELD;
    let id = resolve(initiator.odoo(), uuid_field, reference.trim()).await;
    let id = match id {
        Ok(Some(id)) => id,
        Ok(None) => {
            println!("no request has the id or {uuid_field} {reference:?}; nothing sent");
            return ExitCode::from(EXIT_NOT_SENT);
        }
        Err(error) => {
            println!("cannot look {reference:?} up in Odoo: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = initiator.initiate(&config, id, "command", &stop).await;
    match say(result) {
        Some(Outcome::Sent { .. }) => ExitCode::SUCCESS,
        Some(Outcome::Skipped { .. } | Outcome::NotFound { .. } | Outcome::Deferred { .. }) => {
            ExitCode::from(EXIT_NOT_SENT)
        }
        _ => ExitCode::FAILURE,
    }
}

/// Prints what an initiation ended in; `None` for an error.
fn say(result: Result<Outcome, InitiationError>) -> Option<Outcome> {
    match &result {
        Ok(outcome) => println!("{outcome}"),
        Err(error) => println!("{error}"),
    }
    result.ok()
}

/// Digits are an id; anything else is looked up in the UUID field.
async fn resolve(odoo: &OdooClient, uuid: &str, reference: &str) -> Result<Option<i64>, OdooError> {
    if reference.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(reference.parse().ok().filter(|id| *id > 0));
    }
    let (domain, options) = (json!([[uuid, "=", reference]]), SearchOptions::default());
    let ids = odoo.search(REQUEST_MODEL, &domain, &options).await?;
    Ok(ids.first().copied())
}

async fn all_queued(initiator: &Initiator, config: &Config, stop: &CancellationToken) -> ExitCode {
    let (mut sent, mut failed, mut unknown, mut other) = (0, 0, 0, 0);
    let each = |result| match say(result) {
        Some(Outcome::Sent { .. }) => sent += 1,
        Some(Outcome::Unknown { .. }) => unknown += 1,
        Some(Outcome::Failed { .. }) | None => failed += 1,
        Some(_) => other += 1,
    };
    let swept = sweep(initiator, config, Duration::ZERO, "command", stop, each).await;
    if let Err(error) = swept {
        println!("{error}");
        failed += 1;
    }
    if sent + failed + unknown + other == 0 {
        println!("no queued requests");
        return ExitCode::SUCCESS;
    }
    let unknown_text = match unknown {
        0 => String::new(),
        n => format!("{n} outcome unknown, "),
    };
    println!("{sent} sent, {failed} failed, {unknown_text}{other} not sent");
    // 1 when one failed or may not have been sent.
    ExitCode::from(u8::from(failed + unknown > 0))
}
