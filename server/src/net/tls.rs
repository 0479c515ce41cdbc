//! TLS on the main port (`--tls-cert`, `--tls-key`): https and wss on the same port as
//! everything else, with rustls (ring) through tokio-rustls.
//!
//! A connection that opens with a TLS handshake record is decrypted here and bridged, through
//! a Unix socket pair, to the same connection code plain TCP gets ([`super::serve_bridged`]):
//! the fan-out's vectored, never-waiting writes and the slow-client rules need a socket of
//! their own, which the pair's inner end is. The bridge costs one more copy and a few
//! syscalls per message each way: a wss client costs the server 2.1× a ws client's CPU
//! (BENCHMARKS.md, "TLS"), mostly those syscalls, not the encryption. A deployment that
//! terminates TLS in front of the server (a load balancer) pays none of it. A connection that
//! opens with anything else (plain HTTP to an https port) gets a 400 saying to use https, then
//! is closed. `--metrics-addr` stays plain.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use super::{Listener, NetContext};

/// The first byte of a TLS record carrying a handshake (RFC 8446 §5.1).
const HANDSHAKE_RECORD: u8 = 0x16;
/// After the server side is done, how long the bridge may take to deliver what it wrote.
const FINISH_GRACE: Duration = Duration::from_secs(2);
/// Largest certificate or key file read.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Why the certificate or key can't be used (each says which file).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no PEM certificate.
    #[error("{0}: no PEM certificate in it")]
    NoCertificate(PathBuf),
    /// The file holds no PEM private key.
    #[error("{0}: no PEM private key (PKCS#8, PKCS#1 or SEC1) in it")]
    NoKey(PathBuf),
    /// rustls refused the pair (the key does not match the certificate, say).
    #[error("certificate and key can't be used together: {0}")]
    Config(#[from] rustls::Error),
}

/// The server's TLS set-up.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls(..)")
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    let read = || -> std::io::Result<Vec<u8>> {
        let file = std::fs::File::open(path)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_PEM_BYTES), &mut bytes)?;
        Ok(bytes)
    };
    read().map_err(|source| TlsError::Read { path: path.to_owned(), source })
}

impl Tls {
    /// Loads a certificate chain and its private key (PEM files).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&read_pem(cert)?).filter_map(Result::ok).collect();
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(cert.to_owned()));
        }
        let key_der = PrivateKeyDer::from_pem_slice(&read_pem(key)?)
            .map_err(|_| TlsError::NoKey(key.to_owned()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { acceptor: TlsAcceptor::from(Arc::new(config)) })
    }
}

/// Serves one TCP connection on a TLS port: the handshake (within the handshake timeout),
/// then HTTP and WebSocket over the bridge until either side ends.
pub(super) async fn serve(
    stream: TcpStream,
    tls: Tls,
    peer: SocketAddr,
    kind: Listener,
    ctx: Arc<NetContext>,
) {
    let limit = ctx.limits.handshake_timeout;
    let mut first = [0u8; 1];
    match tokio::time::timeout(limit, stream.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return,
    }
    if first[0] != HANDSHAKE_RECORD {
        debug!(%peer, "plain request on the TLS port");
        super::http::refuse(stream, 400, "this port speaks TLS: use https:// or wss://\n").await;
        return;
    }
    let mut outer_tls = match tokio::time::timeout(limit, tls.acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let (inner, mut outer) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(e) => {
            debug!(%peer, error = %e, "no socket pair for a TLS connection");
            return;
        }
    };
    let (done, served_done) = tokio::sync::oneshot::channel::<()>();
    let served = async move {
        super::serve_bridged(inner, peer, kind, ctx).await;
        let _ = done.send(());
    };
    let bridge = async move {
        let copy = tokio::io::copy_bidirectional(&mut outer_tls, &mut outer);
        tokio::pin!(copy);
        tokio::select! {
            _ = &mut copy => {}
            // The server side closed its end: deliver what it wrote (and the close_notify),
            // but don't wait for ever on a peer that keeps its connection open.
            _ = served_done => {
                let _ = tokio::time::timeout(FINISH_GRACE, copy).await;
            }
        }
    };
    tokio::join!(served, bridge);
}
