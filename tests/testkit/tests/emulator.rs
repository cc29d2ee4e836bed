//! Behaviour tests of the Odoo emulator through its HTTP interface: domains, attachments,
//! faults, hidden records, users and the call log.

use std::io::Cursor;
use std::time::Duration;

use influence_gen_testkit::attachments::{b64encode, sha1_hex};
use influence_gen_testkit::{
    CallMatcher, Fault, FaultRule, OdooEmulator, Outcome, RpcClient, RpcError, UserAccess, post,
};
use serde_json::{Value, json};

const REQ: &str = "influence_gen.ai_image_request";

async fn kw(
    c: &RpcClient,
    model: &str,
    method: &str,
    args: Value,
    kwargs: Value,
) -> Result<Option<Value>, RpcError> {
    c.execute_kw("ig", 2, "admin", model, method, args, kwargs)
        .await
}

async fn ok(c: &RpcClient, model: &str, method: &str, args: Value, kwargs: Value) -> Value {
    kw(c, model, method, args, kwargs)
        .await
        .expect("call succeeds")
        .unwrap_or(Value::Null)
}

fn err_name(r: Result<Option<Value>, RpcError>) -> String {
    match r {
        Err(RpcError::Odoo { name, .. }) => name,
        other => panic!("expected an Odoo error, got {other:?}"),
    }
}

async fn search(c: &RpcClient, domain: Value) -> Value {
    ok(
        c,
        REQ,
        "search",
        json!([domain]),
        json!({"order": "id asc"}),
    )
    .await
}

#[tokio::test]
async fn domains_select_like_odoo() {
    let odoo = OdooEmulator::start().await;
    let partner = odoo.insert("res.partner", json!({"name": "Acme Campaign"}));
    let a = odoo.seed_request(json!({"prompt": "A red Cat", "seed": 1, "model_id": "sdxl"}));
    let b = odoo.seed_request(
        json!({"prompt": "blue dog", "seed": 5, "status": "processing", "campaign_id": partner}),
    );
    let c = odoo.seed_request(json!({"prompt": "green_cat 100%", "seed": 9, "status": "failed"}));
    let cl = odoo.client();
    assert_eq!(
        search(&cl, json!([["prompt", "ilike", "cat"]])).await,
        json!([a, c])
    );
    assert_eq!(
        search(&cl, json!([["prompt", "like", "Cat"]])).await,
        json!([a])
    );
    assert_eq!(
        search(&cl, json!([["prompt", "=like", "green%"]])).await,
        json!([c])
    );
    assert_eq!(
        search(&cl, json!([["prompt", "=ilike", "a_red_cat"]])).await,
        json!([a])
    );
    assert_eq!(
        search(&cl, json!([["prompt", "not ilike", "cat"]])).await,
        json!([b])
    );
    assert_eq!(
        search(&cl, json!(["|", ["seed", "<", 2], ["seed", ">=", 9]])).await,
        json!([a, c])
    );
    assert_eq!(
        search(&cl, json!(["!", ["status", "in", ["queued", "failed"]]])).await,
        json!([b])
    );
    assert_eq!(
        search(
            &cl,
            json!([["status", "not in", ["queued"]], ["seed", "!=", 9]])
        )
        .await,
        json!([b])
    );
    assert_eq!(
        search(&cl, json!([["campaign_id", "=", false]])).await,
        json!([a, c])
    );
    assert_eq!(
        search(&cl, json!([["campaign_id", "!=", false]])).await,
        json!([b])
    );
    assert_eq!(
        search(&cl, json!([["campaign_id", "=", partner]])).await,
        json!([b])
    );
    assert_eq!(
        search(&cl, json!([["campaign_id", "=", "Acme Campaign"]])).await,
        json!([b])
    );
    assert_eq!(
        search(&cl, json!([["campaign_id.name", "ilike", "acme"]])).await,
        json!([b])
    );
    assert_eq!(
        search(&cl, json!([["model_id", "=", false]])).await,
        json!([b, c])
    );
    assert_eq!(
        search(&cl, json!([["model_id", "=?", false]])).await,
        json!([a, b, c])
    );
    assert_eq!(
        search(&cl, json!([["user_id.login", "=", "admin"]])).await,
        json!([a, b, c])
    );
    assert_eq!(search(&cl, json!([[1, "=", 1]])).await, json!([a, b, c]));
    let page = ok(
        &cl,
        REQ,
        "search",
        json!([[]]),
        json!({"order": "seed desc", "limit": 2, "offset": 1}),
    )
    .await;
    assert_eq!(page, json!([b, a]));

    let e = kw(
        &cl,
        REQ,
        "search",
        json!([[["seed", "bogus", 1]]]),
        json!({}),
    )
    .await;
    assert_eq!(
        e,
        Err(RpcError::Odoo {
            name: "builtins.ValueError".into(),
            message: "Invalid leaf ('seed', 'bogus', 1)".into()
        })
    );
    let e = kw(
        &cl,
        REQ,
        "search",
        json!([["|", ["seed", "=", 1]]]),
        json!({}),
    )
    .await;
    assert_eq!(err_name(e), "builtins.ValueError");
    let e = kw(
        &cl,
        REQ,
        "search",
        json!([[]]),
        json!({"order": "seed; drop table"}),
    )
    .await;
    assert_eq!(err_name(e), "odoo.exceptions.UserError");
    let e = kw(&cl, REQ, "search", json!([[]]), json!({"count": true})).await;
    assert_eq!(err_name(e), "builtins.TypeError");
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode png");
    out
}

async fn attach(
    cl: &RpcClient,
    name: &str,
    mimetype: &str,
    raw: &[u8],
) -> Result<Option<Value>, RpcError> {
    let vals = json!({"name": name, "datas": b64encode(raw), "mimetype": mimetype, "res_model": REQ, "res_id": 1});
    kw(cl, "ir.attachment", "create", json!([vals]), json!({})).await
}

#[tokio::test]
async fn attachments_checksum_and_resize() {
    let odoo = OdooEmulator::start().await;
    odoo.seed_request(json!({"prompt": "p"}));
    let cl = odoo.client();
    let fields = json!({"fields": ["checksum", "file_size", "store_fname", "datas", "mimetype", "res_name"]});

    // small image: stored as sent
    let small = png(8, 8);
    let id = attach(&cl, "a.png", "image/png", &small)
        .await
        .expect("created")
        .expect("id");
    let row = &ok(&cl, "ir.attachment", "read", json!([[id]]), fields.clone()).await[0];
    let sha = sha1_hex(&small);
    assert_eq!(row["checksum"], json!(sha));
    assert_eq!(row["file_size"], json!(small.len()));
    assert_eq!(row["store_fname"], json!(format!("{}/{}", &sha[..2], sha)));
    assert_eq!(row["datas"], json!(b64encode(&small)));
    assert_eq!(row["res_name"], json!("p"));

    // over 1920x1920: shrunk to 1920x160, checksum of the stored bytes
    let big = png(2400, 200);
    let id = attach(&cl, "big.png", "image/png", &big)
        .await
        .expect("created")
        .expect("id");
    let stored = odoo
        .attachment_bytes(id.as_i64().unwrap_or_default())
        .expect("bytes");
    let dims = image::ImageReader::new(Cursor::new(&stored))
        .with_guessed_format()
        .expect("fmt")
        .into_dimensions()
        .expect("dims");
    assert_eq!(dims, (1920, 160));
    let row = &ok(&cl, "ir.attachment", "read", json!([[id]]), fields.clone()).await[0];
    assert_eq!(row["checksum"], json!(sha1_hex(&stored)));
    assert_eq!(row["file_size"], json!(stored.len()));
    assert_eq!(row["mimetype"], json!("image/png"));

    // JPEG: re-encoded as JPEG with PIL's thumbnail size
    let rgb = image::RgbImage::from_fn(2100, 100, |x, _| image::Rgb([(x % 256) as u8, 10, 200]));
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(rgb)
        .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .expect("encode jpeg");
    let id = attach(&cl, "wide.jpg", "image/jpeg", &jpeg)
        .await
        .expect("created")
        .expect("id");
    let stored = odoo
        .attachment_bytes(id.as_i64().unwrap_or_default())
        .expect("bytes");
    assert!(stored.starts_with(b"\xff\xd8\xff"), "still a JPEG");
    let reader = image::ImageReader::new(Cursor::new(&stored))
        .with_guessed_format()
        .expect("fmt");
    assert_eq!(reader.into_dimensions().expect("dims"), (1920, 91));

    // resizing off
    odoo.set_param("base.image_autoresize_max_px", "0");
    let id = attach(&cl, "big2.png", "image/png", &big)
        .await
        .expect("created")
        .expect("id");
    assert_eq!(
        odoo.attachment_bytes(id.as_i64().unwrap_or_default()),
        Some(big.clone())
    );
    odoo.set_param("base.image_autoresize_max_px", "1920x1920");

    // the context image_no_postprocess: stored as sent, by create and by web_save
    let vals = json!({"name": "big3.png", "datas": b64encode(&big), "mimetype": "image/png", "res_model": REQ, "res_id": 1});
    let context = json!({"context": {"image_no_postprocess": true}});
    let id = kw(
        &cl,
        "ir.attachment",
        "create",
        json!([vals]),
        context.clone(),
    )
    .await
    .expect("created")
    .expect("id");
    assert_eq!(
        odoo.attachment_bytes(id.as_i64().unwrap_or_default()),
        Some(big.clone())
    );
    let mut spec = context;
    spec["specification"] = json!({"checksum": {}});
    let saved = kw(&cl, "ir.attachment", "web_save", json!([[], vals]), spec)
        .await
        .expect("saved")
        .expect("rows");
    assert_eq!(saved[0]["checksum"], sha1_hex(&big));

    // not an image PIL knows: stored as is
    let junk = b"definitely not a png".to_vec();
    let id = attach(&cl, "junk.png", "image/png", &junk)
        .await
        .expect("created")
        .expect("id");
    assert_eq!(
        odoo.attachment_bytes(id.as_i64().unwrap_or_default()),
        Some(junk)
    );

    // a header that needs a resize but data that does not decode
    let mut truncated = big[..big.len() / 2].to_vec();
    truncated.truncate(truncated.len().max(100));
    let e = attach(&cl, "cut.png", "image/png", &truncated).await;
    assert_eq!(
        e,
        Err(RpcError::Odoo {
            name: "builtins.OSError".into(),
            message: "image file is truncated".into()
        })
    );

    // bad base64
    let e = kw(
        &cl,
        "ir.attachment",
        "create",
        json!([{"name": "x", "datas": "abc"}]),
        json!({}),
    )
    .await;
    assert_eq!(err_name(e), "binascii.Error");
}

#[tokio::test]
async fn faults_fire_as_configured() {
    let odoo = OdooEmulator::start().await;
    let cl = odoo.client();
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQ, "create").after(1),
        Fault::odoo("builtins.Exception", "boom"),
    ));
    ok(&cl, REQ, "create", json!([{"prompt": "first"}]), json!({})).await;
    let e = kw(&cl, REQ, "create", json!([{"prompt": "second"}]), json!({})).await;
    assert_eq!(
        e,
        Err(RpcError::Odoo {
            name: "builtins.Exception".into(),
            message: "boom".into()
        })
    );
    assert_eq!(odoo.records(REQ).len(), 1, "a failed call is not applied");

    odoo.inject(FaultRule::once(CallMatcher::any(), Fault::Http(502)));
    let e = kw(&cl, REQ, "search_count", json!([[]]), json!({})).await;
    assert!(
        matches!(e, Err(RpcError::Http(502, ref body)) if body.contains("502 Bad Gateway")),
        "{e:?}"
    );

    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQ, "create"),
        Fault::FailAfterApplying {
            name: "builtins.MemoryError".into(),
            message: String::new(),
        },
    ));
    let e = kw(
        &cl,
        REQ,
        "create",
        json!([{"prompt": "lost reply"}]),
        json!({}),
    )
    .await;
    assert_eq!(err_name(e), "builtins.MemoryError");
    assert_eq!(odoo.records(REQ).len(), 2, "applied before failing");

    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQ, "create"),
        Fault::CloseConnection,
    ));
    assert!(matches!(
        kw(&cl, REQ, "create", json!([{"prompt": "x"}]), json!({})).await,
        Err(RpcError::Io(_))
    ));
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQ, "create"),
        Fault::CloseAfterApplying,
    ));
    assert!(matches!(
        kw(&cl, REQ, "create", json!([{"prompt": "y"}]), json!({})).await,
        Err(RpcError::Io(_))
    ));
    assert_eq!(odoo.records(REQ).len(), 3);

    // a stalled call is visible as pending, then applied
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQ, "write"),
        Fault::Stall(Duration::from_millis(300)),
    ));
    let cl2 = odoo.client();
    let pending = tokio::spawn(async move {
        cl2.execute_kw(
            "ig",
            2,
            "admin",
            REQ,
            "write",
            json!([[1], {"status": "failed"}]),
            json!({}),
        )
        .await
    });
    assert!(
        odoo.wait_for_calls(
            |c| c.iter().any(
                |c| c.model_method.as_deref() == Some("write") && c.outcome == Outcome::Pending
            ),
            Duration::from_secs(5)
        )
        .await
    );
    assert_eq!(odoo.record(REQ, 1).expect("r")["status"], json!("queued"));
    assert_eq!(pending.await.expect("join"), Ok(Some(json!(true))));
    assert_eq!(odoo.record(REQ, 1).expect("r")["status"], json!("failed"));

    odoo.set_http_error(Some(503));
    assert!(matches!(
        kw(&cl, REQ, "search", json!([[]]), json!({})).await,
        Err(RpcError::Http(503, _))
    ));
    odoo.set_http_error(None);

    odoo.set_max_content_length(Some(100));
    let e = kw(
        &cl,
        REQ,
        "create",
        json!([{"prompt": "x".repeat(200)}]),
        json!({}),
    )
    .await;
    assert_eq!(err_name(e), "werkzeug.exceptions.RequestEntityTooLarge");
    odoo.set_max_content_length(None);

    let outcomes: Vec<Outcome> = odoo.calls().into_iter().map(|c| c.outcome).collect();
    assert!(outcomes.contains(&Outcome::Closed) && outcomes.contains(&Outcome::Http(502)));
    assert!(odoo.count(REQ, "create") >= 6);
}

#[tokio::test]
async fn down_refuses_connections_and_comes_back_on_the_same_port() {
    let odoo = OdooEmulator::start().await;
    let addr = odoo.addr();
    let cl = odoo.client();
    assert!(cl.call("common", "version", json!([])).await.is_ok());
    odoo.set_down(true);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "connection refused while down"
    );
    odoo.set_down(false);
    assert_eq!(odoo.addr(), addr);
    assert!(cl.call("common", "version", json!([])).await.is_ok());

    odoo.set_latency(Duration::from_millis(50));
    let t = tokio::time::Instant::now();
    cl.call("db", "list", json!([])).await.expect("ok");
    assert!(t.elapsed() >= Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn hidden_records_appear_later() {
    let odoo = OdooEmulator::start().await;
    let cl = odoo.client();
    let id = odoo.seed_request(json!({"prompt": "uncommitted"}));
    odoo.hide_record_for(REQ, id, Duration::from_secs(10));
    assert_eq!(
        ok(&cl, REQ, "read", json!([[id], ["prompt"]]), json!({})).await,
        json!([])
    );
    assert_eq!(
        ok(&cl, REQ, "search", json!([[]]), json!({})).await,
        json!([])
    );
    let e = kw(
        &cl,
        REQ,
        "write",
        json!([[id], {"status": "failed"}]),
        json!({}),
    )
    .await;
    assert_eq!(err_name(e), "odoo.exceptions.MissingError");
    assert!(odoo.record(REQ, id).is_some(), "the control API sees it");
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(
        ok(&cl, REQ, "search", json!([[]]), json!({})).await,
        json!([id])
    );
}

/// The shortcuts that keep lookups by id, writes and creates cheap in tables of any size (the
/// load harness seeds 100,000 requests) give the answers a full scan gives.
#[tokio::test(start_paused = true)]
async fn id_lookups_unique_checks_and_followers_scale_without_changing_answers() {
    let odoo = OdooEmulator::start().await;
    let cl = odoo.client();
    let a = odoo.seed_request(json!({"prompt": "a", "status": "failed"}));
    let b = odoo.seed_request(json!({"prompt": "b"}));
    let hidden = odoo.seed_request(json!({"prompt": "hidden"}));
    odoo.hide_record_for(REQ, hidden, Duration::from_secs(10));

    assert_eq!(search(&cl, json!([["id", "=", a]])).await, json!([a]));
    assert_eq!(
        search(&cl, json!([["id", "=", b], ["status", "=", "failed"]])).await,
        json!([])
    );
    assert_eq!(
        search(
            &cl,
            json!([["status", "=", "failed"], ["id", "in", [a, b]]])
        )
        .await,
        json!([a])
    );
    assert_eq!(
        search(&cl, json!([["id", "in", [b, a, a, hidden, 999]]])).await,
        json!([a, b])
    );
    assert_eq!(
        search(&cl, json!(["|", ["id", "=", a], ["id", "=", b]])).await,
        json!([a, b])
    );

    // Keeping a unique value is fine; taking another record's is not.
    let uuid_a = odoo.record(REQ, a).unwrap()["uuid"].clone();
    ok(
        &cl,
        REQ,
        "write",
        json!([[a], {"status": "queued", "uuid": uuid_a}]),
        json!({}),
    )
    .await;
    let e = kw(&cl, REQ, "write", json!([[b], {"uuid": uuid_a}]), json!({})).await;
    assert_eq!(err_name(e), "odoo.exceptions.ValidationError");

    // Each new request has its creator as its only follower.
    let followers = odoo.records("mail.followers");
    for id in [a, b, hidden] {
        let of_request = followers
            .iter()
            .filter(|f| f["res_model"] == REQ && f["res_id"] == id)
            .count();
        assert_eq!(of_request, 1, "{followers:?}");
    }
}

#[tokio::test]
async fn users_keys_and_tweaks() {
    let odoo = OdooEmulator::start().await;
    let cl = odoo.client();
    let uid = odoo.add_user("bot", "secret", UserAccess::User);
    odoo.add_api_key(uid, "key-123");
    assert_eq!(
        cl.call(
            "common",
            "authenticate",
            json!(["ig", "bot", "key-123", {}])
        )
        .await,
        Ok(Some(json!(uid)))
    );
    assert_eq!(
        cl.call("common", "login", json!(["ig", "bot", "nope"]))
            .await,
        Ok(Some(json!(false)))
    );
    let r = cl
        .execute_kw(
            "ig",
            uid,
            "key-123",
            REQ,
            "create",
            json!([{"prompt": "by bot"}]),
            json!({}),
        )
        .await;
    let rid = r.expect("user may create").expect("id");
    let e = cl
        .execute_kw(
            "ig",
            uid,
            "secret",
            REQ,
            "unlink",
            json!([[rid]]),
            json!({}),
        )
        .await;
    assert_eq!(err_name(e), "odoo.exceptions.AccessError");
    let e = cl
        .execute_kw(
            "ig",
            6,
            "viewer",
            "ir.config_parameter",
            "search_read",
            json!([[]]),
            json!({}),
        )
        .await;
    match e {
        Err(RpcError::Odoo { message, .. }) => assert!(message.starts_with(
            "You are not allowed to access 'System Parameter' (ir.config_parameter) records."
        )),
        other => panic!("{other:?}"),
    }
    let e = cl
        .execute_kw("ig", 2, "wrong", REQ, "search", json!([[]]), json!({}))
        .await;
    assert_eq!(err_name(e), "odoo.exceptions.AccessDenied");

    // message_post, then without chatter
    let mid = ok(
        &cl,
        REQ,
        "message_post",
        json!([[rid]]),
        json!({"body": "a < b"}),
    )
    .await;
    let msg = &ok(
        &cl,
        "mail.message",
        "read",
        json!([[mid], ["body", "subtype_id"]]),
        json!({}),
    )
    .await[0];
    assert_eq!(msg["body"], json!("<p>a &lt; b</p>"));
    assert_eq!(msg["subtype_id"], json!([2, "Note"]));
    odoo.remove_method(REQ, "message_post");
    let e = kw(
        &cl,
        REQ,
        "message_post",
        json!([[rid]]),
        json!({"body": "x"}),
    )
    .await;
    assert_eq!(err_name(e), "builtins.AttributeError");

    odoo.remove_field(REQ, "aspect_ratio");
    let fg = ok(
        &cl,
        REQ,
        "fields_get",
        json!([]),
        json!({"attributes": ["type"]}),
    )
    .await;
    assert!(fg.get("aspect_ratio").is_none() && fg["prompt"] == json!({"type": "text"}));
    let e = kw(
        &cl,
        REQ,
        "create",
        json!([{"prompt": "p", "aspect_ratio": "1:1"}]),
        json!({}),
    )
    .await;
    assert_eq!(err_name(e), "builtins.ValueError");

    // the call log
    let last = odoo.calls().into_iter().last().expect("calls");
    assert_eq!(
        (last.service.as_str(), last.method.as_str()),
        ("object", "execute_kw")
    );
    assert_eq!(last.login.as_deref(), Some("admin"));
    assert_eq!(last.args, json!([{"prompt": "p", "aspect_ratio": "1:1"}]));

    // protocol errors are plain HTML
    let resp = post(odoo.addr(), "/jsonrpc", "application/json", "[1]")
        .await
        .expect("answer");
    assert_eq!(
        (resp.status, resp.text()),
        (400, "Invalid JSON-RPC data".to_string())
    );
}
