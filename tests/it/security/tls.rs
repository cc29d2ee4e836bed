//! The optional TLS listener, with a self-signed certificate made for the
//! test: HTTPS works, plain HTTP on that port gets no answer.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::start;

#[tokio::test]
async fn healthz_answers_over_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    let setup = start(|config| {
        config
            .with(
                "tls",
                format!("cert_file = {:?}", cert_path.to_str().unwrap()),
            )
            .with(
                "tls",
                format!("key_file = {:?}", key_path.to_str().unwrap()),
            )
    })
    .await;
    let listening = setup
        .bridge
        .wait_for_log("influence-gen-bridge listening", Duration::from_secs(5))
        .await;
    assert!(listening.contains(r#""tls":true"#), "{listening}");

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(certified.cert.der().to_vec()))
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(setup.bridge.address).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the bridge");
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"status":"ok"}"#), "{response}");

    // Plain HTTP on the TLS port is not served.
    let mut plain = TcpStream::connect(setup.bridge.address).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut received)).await;
    assert!(
        !String::from_utf8_lossy(&received).contains("200 OK"),
        "plain HTTP was served on the TLS port"
    );
    setup.assert_no_leak();
    let key_pem = certified.signing_key.serialize_pem();
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(
        !setup.bridge.log_text().contains(&key_body[..40]),
        "the private key leaked into the log"
    );
}
