//! Can the N8N webhook be reached? DNS, TCP and (for https) a TLS handshake,
//! without sending a request: a probe must never start a workflow.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls_platform_verifier::ConfigVerifierExt;
use tokio::net::TcpStream;
use url::Url;

/// Resolves `url`'s host, connects, and for https completes a verified TLS
/// handshake. `Ok` carries a one-line description, `Err` the reason.
pub async fn probe(url: &Url, timeout: Duration) -> Result<String, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let addresses: Vec<_> = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("resolving {host} timed out"))?
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    let first = addresses
        .first()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    let stream = tokio::time::timeout(timeout, TcpStream::connect(first))
        .await
        .map_err(|_| format!("connecting to {host}:{port} timed out"))?
        .map_err(|e| format!("{host}:{port} refuses connections: {e}"))?;
    if url.scheme() != "https" {
        return Ok(format!(
            "{host}:{port} accepts connections (plain http; use https beyond a trusted network)"
        ));
    }
    crate::tls::install_crypto_provider();
    let config = rustls::ClientConfig::with_platform_verifier()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host} is not a valid TLS name: {e}"))?;
    tokio::time::timeout(timeout, connector.connect(name, stream))
        .await
        .map_err(|_| format!("TLS handshake with {host}:{port} timed out"))?
        .map_err(|e| format!("TLS handshake with {host}:{port} failed: {e}"))?;
    Ok(format!(
        "{host}:{port} accepts TLS connections with a trusted certificate"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listening_port_passes_and_a_closed_one_fails() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/webhook/x")).unwrap();
        let detail = probe(&url, Duration::from_secs(2)).await.unwrap();
        assert!(detail.contains("accepts connections"), "{detail}");
        drop(listener);
        let reason = probe(&url, Duration::from_secs(2)).await.unwrap_err();
        assert!(reason.contains("refuses connections"), "{reason}");
    }

    #[tokio::test]
    async fn a_plain_server_fails_the_tls_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            if let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let url = Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
        let reason = probe(&url, Duration::from_secs(2)).await.unwrap_err();
        assert!(reason.contains("TLS"), "{reason}");
    }
}
