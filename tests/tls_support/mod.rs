//! What the HTTPS tests (tests/tls.rs, tests/startup_checks.rs) share: a certificate authority made in the
//! test and server certificates it signs (each with its own key, serial and expiry), written as the PEM
//! files `[server] tls_cert` and `tls_key` name; and an HTTPS client that trusts only that authority,
//! keeps one connection open for many requests and shows the certificate the server presented.
#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SerialNumber};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pub der: Vec<u8>,
}

/// A server's certificate and its private key.
pub struct ServerCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Authority {
    pub fn new() -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "WhatsAPI test authority");
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Authority {
            issuer: Issuer::new(params, key),
            der,
        }
    }

    /// A certificate for localhost and 127.0.0.1 with this serial, valid until January 1st of `year`.
    pub fn server(&self, serial: u64, year: i32) -> ServerCertificate {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        ServerCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

impl ServerCertificate {
    /// Writes the certificate and the key to `cert.pem` and `key.pem` in `dir`; their paths.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

/// An answer read from an HTTPS connection.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// Every value of a header (names compared without regard to case).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> &str {
        self.all(name).first().copied().unwrap_or("")
    }
}

type Stream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// One HTTPS connection that trusts only `authority`, kept open between requests.
pub struct Https {
    stream: BufReader<Stream>,
    host: String,
}

impl Https {
    /// Connects to `url` (`https://127.0.0.1:<port>`) as the client of a browser would, naming the
    /// server "localhost"; the handshake is done when this returns.
    pub fn connect(url: &str, authority: &[u8]) -> Https {
        let host = url
            .strip_prefix("https://")
            .expect("an https URL")
            .to_owned();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(authority.to_vec())).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let socket = TcpStream::connect(&host).expect("connect to the server");
        let mut stream = rustls::StreamOwned::new(connection, socket);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .expect("the TLS handshake");
        }
        Https {
            stream: BufReader::new(stream),
            host,
        }
    }

    /// The certificate the server presented on this connection (DER).
    pub fn server_certificate(&self) -> Vec<u8> {
        self.stream
            .get_ref()
            .conn
            .peer_certificates()
            .expect("a certificate")[0]
            .to_vec()
    }

    pub fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.request("GET", path, headers, "")
    }

    /// Sends a request and reads its whole answer, leaving the connection open for the next.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        stream.flush().unwrap();
        self.read_answer()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stream.read_line(&mut line).expect("read the answer");
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    fn read_answer(&mut self) -> Answer {
        let status_line = self.line();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("a status line, not {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let value = |name: &str| {
            headers
                .iter()
                .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if value("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let size = usize::from_str_radix(self.line().trim(), 16).expect("a chunk size");
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).unwrap();
                body.extend_from_slice(&chunk[..size]);
                if size == 0 {
                    break;
                }
            }
        } else {
            let length = value("Content-Length").map_or(0, |v| v.parse().unwrap());
            body.resize(length, 0);
            self.stream.read_exact(&mut body).unwrap();
        }
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}
