//! Connections that end: the real server, under an open-files limit of 1,024, keeps answering while
//! thousands of sockets sit idle, and closes idle and slow sockets after `server.idle_timeout_secs`.

mod common;

use common::raw::Browser;
use common::{Install, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Lets this test process hold thousands of sockets (its soft limit may be 1,024).
#[allow(unsafe_code)]
fn allow_open_files(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        assert!(
            limit.rlim_max >= needed,
            "this test needs {needed} open files; the hard limit here is {}",
            limit.rlim_max
        );
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

/// Sends `GET /healthz` on a kept-alive connection.
fn ask_health(stream: &mut TcpStream, server: &Server) {
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", address(server));
    stream.write_all(head.as_bytes()).unwrap();
}

fn address(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

#[test]
fn two_thousand_idle_connections_leave_health_and_sign_in_working_under_1024_files() {
    allow_open_files(2_300);
    let install = Install::new();
    // systemd's default soft limit of open files.
    let server = install.serve_with(install.command_in_shell("ulimit -n 1024", &["serve"]));
    common::api::owner(&install, "Owner", "owner@shop.test");

    // 2,000 sockets that never send a byte, all held open by this test.
    let mut idle = Vec::new();
    for _ in 0..2_000 {
        let target = address(&server).parse().unwrap();
        if let Ok(stream) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) {
            idle.push(stream);
        }
    }
    assert!(idle.len() >= 1_900, "only {} sockets connected", idle.len());

    let browser = Browser::new(&server.url, "Firefox");
    let health = browser.get("/healthz");
    assert_eq!(health.status, 200, "{}", health.body);
    let signed_in = browser.sign_in("owner@shop.test", "a long enough pass phrase");
    assert_eq!(signed_in, 303);
    let wrong = browser.sign_in("owner@shop.test", "not the pass phrase");
    assert_eq!(wrong, 401);

    // The server made room by closing idle sockets instead of running out of files, and said so once.
    assert_eq!(server.logged("connection limit reached"), 1);
    drop(idle);
}

/// Reads until the server closes the socket; how long after `since` that happened.
fn closed_after(stream: &mut TcpStream, since: Instant) -> Duration {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return since.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return since.elapsed(),
            Err(e) => panic!("the server did not close the socket: {e}"),
        }
    }
}

#[test]
fn idle_and_slow_sockets_are_closed_after_the_idle_timeout() {
    let mut install = Install::new();
    install
        .env
        .push(("WHATSAPI_SERVER__IDLE_TIMEOUT_SECS".into(), "2".into()));
    let server = install.serve();
    let timeout = Duration::from_secs(2);

    // A socket that sends nothing.
    let opened = Instant::now();
    let mut silent = TcpStream::connect(address(&server)).unwrap();

    // A socket that answers one request, then stays open with nothing more to ask.
    let mut kept_alive = TcpStream::connect(address(&server)).unwrap();
    ask_health(&mut kept_alive, &server);
    let mut answer = [0u8; 4096];
    let read = kept_alive.read(&mut answer).unwrap();
    let answered = Instant::now();
    assert!(
        String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"),
        "the positive control: a complete request is answered"
    );

    let silent_for = closed_after(&mut silent, opened);
    assert!(
        silent_for >= timeout - Duration::from_millis(100) && silent_for < Duration::from_secs(15),
        "a silent socket closed after {silent_for:?}"
    );
    let kept_for = closed_after(&mut kept_alive, answered);
    assert!(
        kept_for >= timeout - Duration::from_millis(100) && kept_for < Duration::from_secs(15),
        "an idle kept-alive socket closed after {kept_for:?}"
    );

    // A request head sent one byte every 200 ms never completes; it is cut off although bytes keep coming.
    let mut slow = TcpStream::connect(address(&server)).unwrap();
    let started = Instant::now();
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
        address(&server)
    );
    slow.write_all(head.as_bytes()).unwrap();
    let cut_after = loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a slow request head was never cut off"
        );
        if slow.write_all(b"a").is_err() {
            break started.elapsed();
        }
        match slow.read(&mut answer) {
            Ok(0) => break started.elapsed(),
            Ok(n) => panic!(
                "the slow request was answered: {}",
                String::from_utf8_lossy(&answer[..n])
            ),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break started.elapsed(),
            Err(_) => {}
        }
    };
    assert!(
        cut_after >= timeout - Duration::from_millis(100),
        "cut off after {cut_after:?}, before the timeout"
    );
    assert_eq!(
        Browser::new(&server.url, "Firefox").get("/healthz").status,
        200
    );
}

#[test]
fn request_bodies_that_stop_coming_are_cut_off_and_never_lock_the_server_out() {
    let mut install = Install::new();
    install
        .env
        .push(("WHATSAPI_SERVER__IDLE_TIMEOUT_SECS".into(), "2".into()));
    install
        .env
        .push(("WHATSAPI_SERVER__MAX_CONNECTIONS".into(), "40".into()));
    let server = install.serve();
    let timeout = Duration::from_secs(2);
    let stalled_head = format!(
        "POST /login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 100\r\n\r\ncsrf=",
        address(&server)
    );
    // Every place taken by a request whose body never comes.
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut stream = TcpStream::connect(address(&server)).unwrap();
            stream.write_all(stalled_head.as_bytes()).unwrap();
            stream
        })
        .collect();
    // Once the server has read their heads (it reads a head within milliseconds; the bodies are
    // waited for up to 2 s), a new client is still served: the connection waiting longest for its
    // body makes room.
    std::thread::sleep(Duration::from_millis(300));
    let mut health = TcpStream::connect(address(&server)).unwrap();
    health
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    ask_health(&mut health, &server);
    let mut answer = [0u8; 64];
    let read = health
        .read(&mut answer)
        .expect("an answer within the timeout");
    assert!(
        String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..read])
    );
    // And none of the stalled requests is kept beyond the timeout: each ends, answered or closed.
    for stream in &mut stalled {
        let ended = closed_after(stream, started);
        assert!(
            ended < Duration::from_secs(20),
            "a stalled body was kept {ended:?}"
        );
    }
    // One stalled request alone (the limit far away) is cut off after the timeout, not before.
    let mut alone = TcpStream::connect(address(&server)).unwrap();
    alone.write_all(stalled_head.as_bytes()).unwrap();
    let sent = Instant::now();
    let ended = closed_after(&mut alone, sent);
    assert!(
        ended >= timeout - Duration::from_millis(100) && ended < Duration::from_secs(20),
        "cut off after {ended:?}"
    );
}
