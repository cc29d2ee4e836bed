//! TLS setup shared by every outbound client.
//!
//! reqwest (Odoo, N8N, image downloads) and the server use rustls; the
//! process installs one crypto provider, *ring*, so only one implementation
//! is compiled in and no client depends on which one built first.

/// Installs *ring* as the process-wide rustls provider; later calls are no-ops.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
