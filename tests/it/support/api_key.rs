//! An Odoo 19 user makes its own API key, as in Odoo's "New API Key" dialog
//! (the recipe of ../shared/odoo19-server/README.md, also `.ci/odoo-user-key`
//! for shell use): a web session, `res.users.apikeys.description` `create`
//! and `make_key`, then the identity check with the user's password, whose
//! answer carries the key (shown once). For test users made on a real Odoo
//! 19, which `/json/2` only lets in with a key.

use serde_json::{Value, json};

/// The new key of `login` on the Odoo at `url`, valid `days` (1, 7, 30, 90).
pub async fn make_own_api_key(
    url: &str,
    db: &str,
    login: &str,
    password: &str,
    days: &str,
) -> String {
    let http = super::callbacks::client();
    let url = url.trim_end_matches('/');
    let call = |path: String, params: Value, cookie: Option<String>| {
        let http = http.clone();
        async move {
            let mut request = http
                .post(path)
                .json(&json!({"jsonrpc": "2.0", "method": "call", "params": params, "id": 1}));
            if let Some(cookie) = cookie {
                request = request.header("Cookie", cookie);
            }
            let response = request.send().await.expect("Odoo answers");
            let cookie = response
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with("session_id="))
                .and_then(|v| v.split(';').next())
                .map(str::to_owned);
            let body: Value = response.json().await.expect("a JSON-RPC answer");
            assert!(
                body.get("error").is_none(),
                "{}",
                body["error"]["data"]["message"]
            );
            (body["result"].clone(), cookie)
        }
    };
    let (_, session) = call(
        format!("{url}/web/session/authenticate"),
        json!({"db": db, "login": login, "password": password}),
        None,
    )
    .await;
    let session = session.expect("a session cookie");
    let call_kw = |model: &str, method: &str, args: Value, kwargs: Value| {
        call(
            format!("{url}/web/dataset/call_kw/{model}/{method}"),
            json!({"model": model, "method": method, "args": args, "kwargs": kwargs}),
            Some(session.clone()),
        )
    };
    let (wizard, _) = call_kw(
        "res.users.apikeys.description",
        "create",
        json!([{"name": "influence-gen-bridge tests", "duration": days}]),
        json!({}),
    )
    .await;
    let (check, _) = call_kw(
        "res.users.apikeys.description",
        "make_key",
        json!([[wizard]]),
        json!({}),
    )
    .await;
    assert_eq!(check["res_model"], "res.users.identitycheck", "{check}");
    let (shown, _) = call_kw(
        "res.users.identitycheck",
        "run_check",
        json!([[check["res_id"]]]),
        json!({"context": {"password": password}}),
    )
    .await;
    shown["context"]["default_key"]
        .as_str()
        .expect("Odoo shows the key")
        .to_owned()
}
