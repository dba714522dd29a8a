//! A TLS listener whose certificate can be replaced while the server runs (PATCHES.md, item 3).
//!
//! Upstream Rocket builds one rustls `ServerConfig` with a single certificate when it binds, so a renewed
//! certificate is served only after a restart. Here the `ServerConfig` takes its certificate from a
//! resolver holding the current `CertifiedKey`: [`reload_tls`] reads the configured files again and, when
//! the pair is good, swaps it in. Each new handshake uses the pair current at that moment; connections
//! already open keep the session they negotiated.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use figment::value::magic::Either;
use parking_lot::RwLock;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{Accept, TlsAcceptor, server::TlsStream as BareTlsStream};

use crate::config::TlsConfig;
use crate::http::private::{Connection, Listener};
use crate::http::tls::rustls::{self, crypto::CryptoProvider, sign::CertifiedKey};
use crate::http::tls::rustls::server::{ClientHello, ResolvesServerCert};
use crate::http::tls::util::{load_certs, load_private_key};

/// The pair every new handshake gets.
#[derive(Debug)]
struct Resolver(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().clone())
    }
}

/// What [`reload_tls`] needs: the files, the resolver to update, the provider that parses keys.
struct Served {
    certs: PathBuf,
    key: PathBuf,
    resolver: Arc<Resolver>,
    provider: Arc<CryptoProvider>,
}

/// The listener bound last (a process serves one Rocket over TLS).
static SERVED: Mutex<Option<Served>> = Mutex::new(None);

fn error(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn read(path: &Path, what: &str) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        io::Error::new(e.kind(), format!("cannot read the TLS {what} {}: {e}", path.display()))
    })
}

/// Reads a certificate chain (PEM) and its private key (PEM: PKCS#8, PKCS#1 or SEC1) and checks that the
/// key parses and belongs to the first certificate. The messages name the files.
fn load_pair(certs: &Path, key: &Path, provider: &CryptoProvider) -> io::Result<CertifiedKey> {
    let chain = load_certs(&mut io::Cursor::new(read(certs, "certificate")?))
        .map_err(|e| error(format!("{} is not a PEM certificate file: {e}", certs.display())))?;
    if chain.is_empty() {
        return Err(error(format!(
            "{} holds no certificate (no -----BEGIN CERTIFICATE----- block)",
            certs.display()
        )));
    }
    let der = load_private_key(&mut io::Cursor::new(read(key, "key")?))
        .map_err(|e| error(format!("{} holds no usable private key: {e}", key.display())))?;
    let signing = provider.key_provider.load_private_key(der)
        .map_err(|e| error(format!("{} holds no usable private key: {e}", key.display())))?;
    let pair = CertifiedKey::new(chain, signing);
    match pair.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(pair),
        Err(rustls::Error::InconsistentKeys(_)) => Err(error(format!(
            "the private key {} does not belong to the certificate {}",
            key.display(),
            certs.display()
        ))),
        Err(e) => Err(error(format!("{} is not a valid certificate: {e}", certs.display()))),
    }
}

fn default_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Checks a certificate file and a key file as the TLS listener would load them, without serving them;
/// returns the DER of the first (the server's own) certificate.
pub fn check_tls_pair(certs: &Path, key: &Path) -> io::Result<Vec<u8>> {
    let pair = load_pair(certs, key, &default_provider())?;
    Ok(pair.cert[0].to_vec())
}

/// Reads the configured certificate and key files again and, if they make a good pair, serves them to
/// every new connection from now on; returns the DER of the server's certificate now served. On an error
/// the pair served before stays. Fails when no TLS listener with files is running.
pub fn reload_tls() -> io::Result<Vec<u8>> {
    let served = SERVED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(served) = served.as_ref() else {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no TLS listener is running"));
    };
    let pair = load_pair(&served.certs, &served.key, &served.provider)?;
    let der = pair.cert[0].to_vec();
    *served.resolver.0.write() = Arc::new(pair);
    Ok(der)
}

/// The certificate and key files of a TLS configuration, when both are files (not bytes).
pub(crate) fn files(config: &TlsConfig) -> Option<(PathBuf, PathBuf)> {
    match (&config.certs, &config.key) {
        (Either::Left(certs), Either::Left(key)) => Some((certs.relative(), key.relative())),
        _ => None,
    }
}

/// A TLS listener over TCP whose certificate comes from the resolver.
pub struct ReloadableTlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

impl ReloadableTlsListener {
    pub async fn bind(
        addr: SocketAddr,
        config: &TlsConfig,
        (certs, key): (PathBuf, PathBuf),
    ) -> io::Result<ReloadableTlsListener> {
        use rustls::server::{ServerConfig, ServerSessionMemoryCache, WebPkiClientVerifier};

        let native = config.to_native_config()?;
        let provider = Arc::new(CryptoProvider {
            cipher_suites: native.ciphersuites,
            ..default_provider()
        });
        let pair = load_pair(&certs, &key, &provider)?;
        let resolver = Arc::new(Resolver(RwLock::new(Arc::new(pair))));

        let mut tls_config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| io::Error::new(io::ErrorKind::Other, format!("bad TLS config: {}", e)))?
            .with_client_cert_verifier(WebPkiClientVerifier::no_client_auth())
            .with_cert_resolver(resolver.clone());
        tls_config.ignore_client_order = native.prefer_server_order;
        tls_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        if native.http2 {
            tls_config.alpn_protocols.insert(0, b"h2".to_vec());
        }
        tls_config.session_storage = ServerSessionMemoryCache::new(1024);
        tls_config.ticketer = rustls::crypto::ring::Ticketer::new()
            .map_err(|e| io::Error::new(io::ErrorKind::Other, format!("bad TLS ticketer: {}", e)))?;

        let listener = TcpListener::bind(addr).await?;
        *SERVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Served { certs, key, resolver, provider });
        let acceptor = TlsAcceptor::from(Arc::new(tls_config));
        Ok(ReloadableTlsListener { listener, acceptor })
    }
}

impl Listener for ReloadableTlsListener {
    type Connection = TlsStream;

    fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    fn poll_accept(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<TlsStream>> {
        match futures::ready!(self.listener.poll_accept(cx)) {
            // The handshake happens in the first read or write, so the accept loop never waits on it.
            Ok((io, remote)) => Poll::Ready(Ok(TlsStream {
                remote,
                state: TlsState::Handshaking(self.acceptor.accept(io)),
            })),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// A connection: handshaking, then streaming (as rocket_http's own `TlsStream`, without client
/// certificates, which this listener does not ask for).
pub struct TlsStream {
    remote: SocketAddr,
    state: TlsState,
}

enum TlsState {
    Handshaking(Accept<TcpStream>),
    Streaming(BareTlsStream<TcpStream>),
}

impl Connection for TlsStream {
    fn peer_address(&self) -> Option<SocketAddr> {
        Some(self.remote)
    }

    fn enable_nodelay(&self) -> io::Result<()> {
        match &self.state {
            TlsState::Handshaking(accept) => match accept.get_ref() {
                None => Ok(()),
                Some(s) => s.set_nodelay(true),
            },
            TlsState::Streaming(stream) => stream.get_ref().0.set_nodelay(true),
        }
    }
}

impl TlsStream {
    fn poll_accept_then<F, T>(mut self: Pin<&mut Self>, cx: &mut Context<'_>, mut f: F) -> Poll<io::Result<T>>
        where F: FnMut(&mut BareTlsStream<TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>
    {
        loop {
            match self.state {
                TlsState::Handshaking(ref mut accept) => match futures::ready!(Pin::new(accept).poll(cx)) {
                    Ok(stream) => self.state = TlsState::Streaming(stream),
                    Err(e) => {
                        log::warn!("tls handshake with {} failed: {}", self.remote, e);
                        return Poll::Ready(Err(e));
                    }
                },
                TlsState::Streaming(ref mut stream) => return f(stream, cx),
            }
        }
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_accept_then(cx, |stream, cx| Pin::new(stream).poll_read(cx, buf))
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_accept_then(cx, |stream, cx| Pin::new(stream).poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.state {
            TlsState::Handshaking(accept) => match accept.get_mut() {
                Some(io) => Pin::new(io).poll_flush(cx),
                None => Poll::Ready(Ok(())),
            },
            TlsState::Streaming(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.state {
            TlsState::Handshaking(accept) => match accept.get_mut() {
                Some(io) => Pin::new(io).poll_shutdown(cx),
                None => Poll::Ready(Ok(())),
            },
            TlsState::Streaming(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
