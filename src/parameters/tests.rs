//! The fallback against the Odoo emulator: precedence, placeholders, the
//! cache, an Odoo outage and a user without the right to read.

use std::path::Path;

use influence_gen_testkit::{OdooEmulator, UserAccess};
use secrecy::ExposeSecret;

use super::*;
use crate::config::Environment;

const PASSWORD: &str = "params-test-password";

async fn odoo(access: UserAccess) -> (OdooEmulator, OdooClient) {
    let odoo = OdooEmulator::start().await;
    odoo.add_user("bridge", PASSWORD, access);
    let client = OdooClient::new(&config(&odoo, "").odoo).unwrap();
    (odoo, client)
}

/// A configuration for `odoo` with `n8n` lines in `[n8n]`.
fn config(odoo: &OdooEmulator, n8n: &str) -> Config {
    let text = format!(
        "[server]\npublic_url = \"https://bridge.example.com\"\n\
         [odoo]\nurl = \"{}\"\ndatabase = \"ig\"\nlogin = \"bridge\"\npassword = \"{PASSWORD}\"\n\
         [n8n]\n{n8n}\n\n",
        odoo.url()
    );
    Config::from_toml(
        &text,
        Path::new("t.toml"),
        Path::new("."),
        &Environment::default(),
    )
    .unwrap()
}

fn exposed(value: &Option<Sourced<SecretString>>) -> Option<(String, Source)> {
    value
        .as_ref()
        .map(|s| (s.value.expose_secret().to_owned(), s.source))
}

/// Makes the next question read Odoo again, as time passing would.
async fn expire(parameters: &SystemParameters) {
    if let Some((_, due)) = &mut parameters.cache.lock().await.last {
        *due = Instant::now();
    }
}

fn parameter_reads(odoo: &OdooEmulator) -> usize {
    odoo.count(CONFIG_PARAMETER_MODEL, "search_read")
}

#[tokio::test]
async fn the_toml_wins_and_odoo_fills_the_gaps() {
    let (odoo, client) = odoo(UserAccess::Admin).await;
    odoo.set_param(
        WEBHOOK_URL_PARAMETER,
        "https://n8n.example.com/webhook/from-odoo",
    );
    odoo.set_param(API_KEY_PARAMETER, "key-from-odoo");
    odoo.set_param(OUTBOUND_TOKEN_PARAMETER, "outbound-from-odoo");
    odoo.set_param(CALLBACK_TOKEN_PARAMETER, "callback-from-odoo");
    let config = config(&odoo, "api_key = \"key-from-toml\"");
    let parameters = SystemParameters::new(client);
    let effective = parameters.effective(&config).await;
    assert_eq!(effective.parameters, ParameterState::Read);
    let url = effective.webhook_url.unwrap();
    assert_eq!(
        url.value.as_str(),
        "https://n8n.example.com/webhook/from-odoo"
    );
    assert_eq!(url.source, Source::Odoo);
    assert_eq!(
        url.origin("n8n.webhook_url", WEBHOOK_URL_PARAMETER),
        "Odoo system parameter influence_gen.n8n_webhook_url"
    );
    assert_eq!(
        exposed(&effective.api_key),
        Some(("key-from-toml".into(), Source::Config))
    );
    assert_eq!(
        exposed(&effective.outbound_token),
        Some(("outbound-from-odoo".into(), Source::Odoo))
    );
    assert_eq!(
        exposed(&effective.callback_token),
        Some(("callback-from-odoo".into(), Source::Odoo))
    );
    assert_eq!(
        parameters
            .callback_token(&config)
            .await
            .map(|t| t.expose_secret().to_owned())
            .as_deref(),
        Some("callback-from-odoo")
    );
    // One read served both questions.
    assert_eq!(parameter_reads(&odoo), 1);
}

#[tokio::test]
async fn odoo_is_not_asked_when_the_toml_has_everything() {
    let (odoo, client) = odoo(UserAccess::Admin).await;
    let config = config(
        &odoo,
        "webhook_url = \"https://n8n.example.com/w\"\napi_key = \"k\"\n\
         outbound_token = \"o\"\ncallback_token = \"c\"",
    );
    let parameters = SystemParameters::new(client);
    let effective = parameters.effective(&config).await;
    assert_eq!(effective.parameters, ParameterState::NotNeeded);
    assert!(parameters.callback_token(&config).await.is_some());
    assert_eq!(parameter_reads(&odoo), 0);
}

#[tokio::test]
async fn placeholders_and_invalid_urls_count_as_unset() {
    let (odoo, client) = odoo(UserAccess::Admin).await;
    odoo.set_param(
        WEBHOOK_URL_PARAMETER,
        "PLACEHOLDER_YOUR_N8N_WEBHOOK_URL_FOR_AI_GENERATION",
    );
    odoo.set_param(API_KEY_PARAMETER, "PLACEHOLDER_YOUR_N8N_API_KEY");
    odoo.set_param(CALLBACK_TOKEN_PARAMETER, "  ");
    let parameters = SystemParameters::new(client);
    let effective = parameters.effective(&config(&odoo, "")).await;
    assert_eq!(effective.parameters, ParameterState::Read);
    assert!(effective.webhook_url.is_none());
    assert!(effective.api_key.is_none());
    assert!(effective.callback_token.is_none());
    assert!(effective.outbound_token.is_none());

    odoo.set_param(WEBHOOK_URL_PARAMETER, "ftp://n8n.example.com/x");
    let parameters = SystemParameters::new(parameters.odoo.clone());
    assert!(
        parameters
            .effective(&config(&odoo, ""))
            .await
            .webhook_url
            .is_none()
    );
}

#[tokio::test]
async fn values_are_cached_and_kept_while_odoo_is_down() {
    let (odoo, client) = odoo(UserAccess::Admin).await;
    odoo.set_param(CALLBACK_TOKEN_PARAMETER, "callback-from-odoo");
    let parameters = SystemParameters::new(client);
    let config = config(&odoo, "");
    assert!(parameters.callback_token(&config).await.is_some());
    assert!(parameters.callback_token(&config).await.is_some());
    assert_eq!(parameter_reads(&odoo), 1, "the second question was cached");

    // Expire the cache by hand, then take Odoo away: the last values stay.
    expire(&parameters).await;
    odoo.set_down(true);
    let effective = parameters.effective(&config).await;
    assert!(matches!(
        effective.parameters,
        ParameterState::Unavailable(_)
    ));
    assert_eq!(
        exposed(&effective.callback_token),
        Some(("callback-from-odoo".into(), Source::Odoo))
    );
    // The next read is due soon, not only at the TTL.
    let (_, due) = parameters.cache.lock().await.last.clone().unwrap();
    assert!(due <= Instant::now() + RETRY_AFTER_ERROR);
}

#[tokio::test]
async fn a_token_only_in_odoo_is_unknown_until_odoo_answers() {
    let (odoo, client) = odoo(UserAccess::Admin).await;
    odoo.set_param(CALLBACK_TOKEN_PARAMETER, "callback-from-odoo");
    odoo.set_down(true);
    let parameters = SystemParameters::new(client);
    let config = config(&odoo, "");
    assert!(parameters.callback_token(&config).await.is_none());
    odoo.set_down(false);
    expire(&parameters).await;
    assert!(parameters.callback_token(&config).await.is_some());
}

#[tokio::test]
async fn a_user_who_may_not_read_parameters_goes_on_with_the_toml() {
    let (odoo, client) = odoo(UserAccess::User).await;
    odoo.set_param(WEBHOOK_URL_PARAMETER, "https://n8n.example.com/webhook/x");
    let parameters = SystemParameters::new(client);
    let config = config(&odoo, "api_key = \"k\"");
    let effective = parameters.effective(&config).await;
    assert_eq!(effective.parameters, ParameterState::Forbidden);
    assert!(effective.webhook_url.is_none());
    assert_eq!(
        exposed(&effective.api_key),
        Some(("k".into(), Source::Config))
    );
    assert!(parameters.forbidden_said.load(Ordering::Relaxed));
}
