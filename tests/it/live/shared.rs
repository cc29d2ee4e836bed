//! The shared scenarios (`crate::scenarios`) against the real Odoo and a
//! fresh emulator: each must pass on both, and both must end in the same
//! normalized state; once in the generic protocol, once in the companion
//! protocol (the real addon, which `.ci/run` installs, against the
//! emulator's twin of it).

use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::Value;

use super::LiveScenario;
use crate::scenarios::{self, Target};

pub fn scenarios() -> Vec<LiveScenario> {
    let generic = scenarios::all().into_iter().map(|scenario| {
        let run = scenario.run;
        LiveScenario::new(format!("shared: {}", scenario.name), move |live| {
            async move {
                let real = run(Arc::clone(&live.target)).await;
                let (_emulator, target) = Target::emulator().await;
                let emulated = run(Arc::new(target)).await;
                assert_same_state(&real, &emulated);
            }
            .boxed()
        })
    });
    // The same scenarios in the companion protocol, against the real addon
    // (installed by .ci/run) and the emulator's twin of it.
    let companion = scenarios::all().into_iter().map(|scenario| {
        let run = scenario.run;
        LiveScenario::new(
            format!("shared, companion: {}", scenario.name),
            move |live| {
                async move {
                    let real_target = Target {
                        admin: live.target.admin.clone(),
                        config: live.target.config.clone(),
                    }
                    .speaking("companion");
                    let real = run(Arc::new(real_target)).await;
                    let (_emulator, target) = Target::emulator_with_companion().await;
                    let emulated = run(Arc::new(target)).await;
                    assert_same_state(&real, &emulated);
                }
                .boxed()
            },
        )
    });
    generic.chain(companion).collect()
}

/// Equal states, or a panic naming the first differing path and both sides.
fn assert_same_state(real: &Value, emulated: &Value) {
    if real == emulated {
        return;
    }
    let path = first_difference(real, emulated, String::new());
    panic!(
        "the emulator ends in another state than the real Odoo (first difference at {path}):\nreal Odoo: {}\nemulator:  {}",
        serde_json::to_string_pretty(real).unwrap_or_default(),
        serde_json::to_string_pretty(emulated).unwrap_or_default()
    );
}

fn first_difference(a: &Value, b: &Value, at: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                if x.get(key) != y.get(key) {
                    let (l, r) = (
                        x.get(key).unwrap_or(&Value::Null),
                        y.get(key).unwrap_or(&Value::Null),
                    );
                    return first_difference(l, r, format!("{at}.{key}"));
                }
            }
            at
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (n, (l, r)) in x.iter().zip(y).enumerate() {
                if l != r {
                    return first_difference(l, r, format!("{at}[{n}]"));
                }
            }
            at
        }
        _ => format!("{at} ({a} vs {b})"),
    }
}
