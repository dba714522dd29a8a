//! The URL checks at save and the resolver's check at connection time. Names are answered by stand-ins
//! here: no test resolves a real name or connects anywhere but to a listener of its own on 127.0.0.1.

use super::*;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Instant;

fn refused(url: &str) -> String {
    match check_url(url, false) {
        Err(why) => why,
        Ok(pending) => panic!("{url} was accepted ({pending:?})"),
    }
}

#[test]
fn urls_are_checked_when_saved() {
    assert_eq!(
        check_url("https://hooks.example.com/x", false),
        Ok(Some(PendingName {
            host: "hooks.example.com".into(),
            port: 443
        }))
    );
    assert_eq!(refused("http://hooks.example.com/x"), "must use https");
    assert!(refused("https://127.0.0.1/x").contains("not a public address"));
    assert!(refused("https://169.254.169.254/latest/meta-data").contains("link-local"));
    assert!(refused("https://[::1]:8443/x").contains("loopback"));
    assert!(refused("https://localhost/x").contains("not reachable from outside"));
    assert_eq!(refused("ftp://example.com/x"), "must be an https URL");
    assert_eq!(refused("/hooks"), "must name a host");
    assert!(refused("hooks.example.com/x").starts_with("must be a full URL"));
    assert_eq!(check_url("http://127.0.0.1:9000/x", true), Ok(None));
}

#[test]
fn ipv6_forms_carrying_a_private_ipv4_address_are_refused_at_save() {
    for (url, carried) in [
        ("https://[::127.0.0.1]/x", "127.0.0.1"),
        ("https://[::7f00:1]/x", "127.0.0.1"),
        ("https://[::ffff:127.0.0.1]/x", "127.0.0.1"),
        ("https://[::ffff:7f00:1]/x", "127.0.0.1"),
        ("https://[::ffff:0:127.0.0.1]/x", "127.0.0.1"),
        ("https://[::ffff:0:a9fe:a9fe]/x", "169.254.169.254"),
        ("https://[64:ff9b::10.0.0.1]/x", "10.0.0.1"),
        ("https://[64:ff9b::c0a8:101]:8443/x", "192.168.1.1"),
    ] {
        let why = refused(url);
        assert!(
            why.contains(carried) && why.contains("not a public address"),
            "{url}: {why}"
        );
    }
    for url in [
        "https://[64:ff9b:1::a00:1]/x",
        "https://[2002:7f00:1::1]/x",
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x",
        "https://[2001:db8::1]/x",
        "https://[3fff::1]/x",
        "https://[2001:2::1]/x",
        "https://[ff02::1]/x",
        "https://[100::1]/x",
        "https://[fd12:3456::1]/x",
        "https://[fe80::1]/x",
    ] {
        assert!(refused(url).contains("not a public address"), "{url}");
    }
    // Positive controls: public addresses, bare or carried.
    for url in [
        "https://[2606:2800:220:1::1]/x",
        "https://[2606:2800:220:1:248:1893:25c8:1946]:8443/x",
        "https://[::ffff:93.184.216.34]/x",
        "https://[64:ff9b::5db8:d822]/x",
    ] {
        assert_eq!(check_url(url, false), Ok(None), "{url}");
    }
}

#[test]
fn numeric_hosts_are_read_as_the_c_resolver_reads_them() {
    for (url, dotted) in [
        ("https://2130706433/x", "127.0.0.1"),
        ("https://0177.0.0.1/x", "127.0.0.1"),
        ("https://0x7f000001/x", "127.0.0.1"),
        ("https://0x7f.0.0.1/x", "127.0.0.1"),
        ("https://127.1/x", "127.0.0.1"),
        ("https://127.0.1:8443/x", "127.0.0.1"),
        ("https://0xa9fea9fe/latest", "169.254.169.254"),
        ("https://10.1/x", "10.0.0.1"),
        ("https://0/x", "0.0.0.0"),
    ] {
        let why = refused(url);
        assert!(
            why.contains(&format!("is {dotted} (")) && why.contains("not a public address"),
            "{url}: {why}"
        );
    }
    // A dotted address written the usual way is named once.
    assert_eq!(
        refused("https://10.0.0.1/x"),
        "10.0.0.1 (a private address) is not a public address"
    );
    // Malformed numbers are not taken for names either.
    for url in [
        "https://127.0.0.1./x",
        "https://999.1.1.1/x",
        "https://1.2.3.4.5/x",
    ] {
        assert!(refused(url).contains("not a valid IPv4 address"), "{url}");
    }
    // Positive controls: the same forms naming a public address (93.184.216.34).
    for url in [
        "https://1572395042/x",
        "https://0x5db8d822/x",
        "https://93.184.55330/x",
        "https://0135.0270.0330.042/x",
        "https://93.184.216.34/x",
    ] {
        assert_eq!(check_url(url, false), Ok(None), "{url}");
    }
}

#[test]
fn documentation_benchmarking_multicast_and_reserved_ipv4_are_refused_at_save() {
    for ip in [
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "198.18.0.1",
        "198.19.1.1",
        "224.0.0.251",
        "239.1.1.1",
        "240.0.0.1",
        "255.255.255.255",
        "0.1.2.3",
        "192.0.0.8",
        "192.88.99.1",
        "100.64.1.1",
    ] {
        assert!(
            refused(&format!("https://{ip}/x")).starts_with(&format!("{ip} (")),
            "{ip}"
        );
    }
    assert_eq!(check_url("https://8.8.8.8/x", false), Ok(None));
}

#[test]
fn credentials_in_the_url_are_refused_at_save() {
    for url in [
        "https://user:pass@hooks.example.com/x",
        "https://user@hooks.example.com/x",
        "https://:pass@93.184.216.34/x",
        "https://user:pass@93.184.216.34:8443/x",
    ] {
        assert!(refused(url).contains("user name or password"), "{url}");
        // Whatever the development setting: the URL would be stored and shown with its secret.
        assert!(check_url(url, true).is_err(), "{url}");
    }
    assert_eq!(
        check_url("https://93.184.216.34/x?user=a@b", false),
        Ok(None)
    );
}

#[test]
fn local_names_are_refused_without_resolving() {
    for url in [
        "https://localhost/x",
        "https://LOCALHOST./x",
        "https://hooks.localhost/x",
        "https://printer.local/x",
        "https://router.home.arpa/x",
        "https://metadata.google.internal/x",
    ] {
        assert!(refused(url).contains("not reachable from outside"), "{url}");
    }
    for url in ["https://notlocal/x", "https://hooks.localhost.example/x"] {
        assert!(matches!(check_url(url, false), Ok(Some(_))), "{url}");
    }
}

#[test]
fn allow_insecure_targets_keeps_allowing_development_targets() {
    for url in [
        "http://127.0.0.1:9000/x",
        "http://localhost:9000/x",
        "https://[::ffff:127.0.0.1]/x",
        "http://0x7f.1:9000/x",
        "http://10.0.0.5/x",
        "http://hooks.shop.test/x",
    ] {
        assert_eq!(check_url(url, true), Ok(None), "{url}");
    }
}

/// Answers every name with fixed addresses, or with an error when there are none, or (when given a
/// receiver) only once the test lets it.
struct StandInLookup {
    answer: Vec<IpAddr>,
    wait_for: Option<mpsc::Receiver<()>>,
}

impl StandInLookup {
    fn answering(addresses: &[&str]) -> StandInLookup {
        StandInLookup {
            answer: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            wait_for: None,
        }
    }
}

impl Lookup for StandInLookup {
    fn lookup(&self, _: &str, _: u16) -> std::io::Result<Vec<IpAddr>> {
        if let Some(release) = &self.wait_for {
            // Bounded, so that a lookup wrongly run on the executor fails the test instead of hanging it.
            let _ = release.recv_timeout(Duration::from_secs(10));
        }
        if self.answer.is_empty() {
            return Err(std::io::Error::new(ErrorKind::NotFound, "no such name"));
        }
        Ok(self.answer.clone())
    }
}

fn name(host: &str) -> PendingName {
    PendingName {
        host: host.into(),
        port: 443,
    }
}

/// A runtime with one thread: a lookup run on it instead of on a blocking thread would stall it.
fn runtime() -> rocket::tokio::runtime::Runtime {
    rocket::tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn names_resolving_to_private_addresses_are_refused_at_save() {
    let rt = runtime();
    let check = |answer: &[&str]| {
        rt.block_on(check_name(
            name("hooks.shop.test"),
            StandInLookup::answering(answer),
            SAVE_LOOKUP_LIMIT,
        ))
    };
    let why = check(&["10.0.0.5"]).unwrap_err();
    assert_eq!(
        why,
        "hooks.shop.test resolves to 10.0.0.5 (a private address), not a public address"
    );
    assert!(check(&["127.0.0.1", "::1"]).is_err());
    assert!(check(&["::ffff:169.254.169.254"]).is_err());
    // One private address among public ones is enough: every connection would be refused.
    assert!(check(&["93.184.216.34", "192.168.0.10"]).is_err());
    // Positive controls.
    assert_eq!(check(&["93.184.216.34"]), Ok(()));
    assert_eq!(check(&["93.184.216.34", "2606:2800:220:1::1"]), Ok(()));
    // A name that does not resolve is accepted: the connection-time check still applies.
    assert_eq!(check(&[]), Ok(()));
}

#[test]
fn a_slow_lookup_neither_blocks_the_executor_nor_holds_the_save_forever() {
    let rt = runtime();
    let (release, wait_for) = mpsc::channel();
    let lookup = StandInLookup {
        answer: vec!["10.0.0.5".parse().unwrap()],
        wait_for: Some(wait_for),
    };
    // The single executor thread stays free to run the timer only if the lookup runs elsewhere.
    let answer = rt.block_on(check_name(
        name("slow.shop.test"),
        lookup,
        Duration::from_millis(200),
    ));
    assert_eq!(answer, Ok(()), "an unanswered name is accepted");
    // The lookup was still waiting all along; let it finish so the runtime can shut down.
    release.send(()).unwrap();
}

/// Stands in for DNS at connection time: every name resolves to one address.
#[derive(Debug)]
struct FixedDns(SocketAddr);

impl Resolver for FixedDns {
    fn resolve(
        &self,
        _: &Uri,
        _: &Config,
        _: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut addresses = self.empty();
        addresses.push(self.0);
        Ok(addresses)
    }
}

#[test]
fn a_name_resolving_to_loopback_is_refused_at_connect_time_without_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let listening = listener.local_addr().unwrap();
    let agent = agent_with(FixedDns(listening), false, Duration::from_secs(2));
    let error = agent
        .post("https://hooks.shop.test/x")
        .send("{}")
        .unwrap_err();
    match &error {
        ureq::Error::Io(e) => {
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
            assert!(
                e.to_string()
                    .contains("resolves to 127.0.0.1 (a loopback address)"),
                "{e}"
            );
        }
        other => panic!("not the guard's refusal: {other}"),
    }
    // The first connection the listener ever accepts is this one: the request never reached it.
    let mine = TcpStream::connect(listening).unwrap();
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(peer, mine.local_addr().unwrap());
}

#[test]
fn the_same_stand_in_reaches_the_listener_when_insecure_targets_are_allowed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let listening = listener.local_addr().unwrap();
    let agent = agent_with(FixedDns(listening), true, Duration::from_secs(2));
    let request = std::thread::spawn(move || agent.post("http://hooks.shop.test/x").send("{}"));
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let accepted = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the request never arrived");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    };
    drop(accepted);
    let _ = request.join();
}
