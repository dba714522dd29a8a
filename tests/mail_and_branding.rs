//! Email through a real SMTP conversation, and a reseller's branding.

mod common;

use common::web::{app_with, csrf_in};
use rocket::http::Status;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;

/// A minimal SMTP sink on 127.0.0.1: accepts one message and hands over what was sent.
fn smtp_sink() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut transcript = String::new();
        writer.write_all(b"220 sink ESMTP\r\n").unwrap();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            let command = line.trim_end().to_ascii_uppercase();
            transcript.push_str(&line);
            let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
                b"250 sink\r\n"
            } else if command == "DATA" {
                writer.write_all(b"354 go ahead\r\n").unwrap();
                let mut data = String::new();
                loop {
                    let mut part = String::new();
                    if reader.read_line(&mut part).unwrap_or(0) == 0 || part == ".\r\n" {
                        break;
                    }
                    data.push_str(&part);
                }
                transcript.push_str(&data);
                b"250 queued\r\n"
            } else if command == "QUIT" {
                writer.write_all(b"221 bye\r\n").unwrap();
                break;
            } else {
                b"250 ok\r\n"
            };
            writer.write_all(reply).unwrap();
            line.clear();
        }
        let _ = tx.send(transcript);
    });
    (port, rx)
}

#[test]
fn emails_go_through_the_configured_smtp_server() {
    let (port, received) = smtp_sink();
    let app = app_with(|c| {
        c.smtp.host = "127.0.0.1".into();
        c.smtp.port = port;
        c.smtp.security = whatsapi::config::SmtpSecurity::None;
        c.smtp.from = "Shop Support <no-reply@shop.test>".into();
    });
    assert_eq!(
        app.register("Ali", "Shop", "ali@shop.test"),
        Status::SeeOther
    );
    app.logout();
    app.submit(
        "/forgot-password",
        "/forgot-password",
        &[("email", "ali@shop.test")],
    );
    let transcript = received
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the SMTP server got a message");
    assert!(
        transcript.contains("MAIL FROM:<no-reply@shop.test>"),
        "{transcript}"
    );
    assert!(
        transcript.contains("RCPT TO:<ali@shop.test>"),
        "{transcript}"
    );
    assert!(
        transcript.contains("Subject: Reset your password"),
        "{transcript}"
    );
    assert!(
        transcript.replace("=\r\n", "").contains("/reset-password/"),
        "{transcript}"
    );
    assert!(
        transcript
            .replace("=\r\n", "")
            .contains("WhatsAPI Pro: this message was sent automatically"),
        "signed with the product name: {transcript}"
    );
    assert!(
        !app.config.storage.data_dir.join("outbox").exists(),
        "nothing filed when SMTP is configured"
    );
}

#[test]
fn a_reseller_brands_the_pages_and_replaces_static_files() {
    let brand = tempfile::tempdir().unwrap();
    std::fs::write(
        brand.path().join("logo.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><title>Reseller</title></svg>",
    )
    .unwrap();
    let dir = brand.path().to_owned();
    let app = app_with(move |c| {
        c.branding.product_name = "Souq Messenger".into();
        c.branding.support_email = "help@souq.test".into();
        c.branding.primary_color = "#7c3aed".into();
        c.branding.static_dir = Some(dir);
    });
    let (status, login) = app.page("/login");
    assert_eq!(status, Status::Ok);
    assert!(login.contains("Souq Messenger") && login.contains("help@souq.test"));
    assert!(
        !login.contains("WhatsAPI"),
        "the product name is not hard-coded anywhere on the page"
    );
    assert!(
        app.page("/static/logo.svg").1.contains("Reseller"),
        "the reseller's logo replaces ours"
    );
    assert!(
        app.page("/static/app.css").1.contains("--primary"),
        "files not replaced come from the binary"
    );
    assert!(app.page("/static/brand.css").1.contains("#7c3aed"));
    let (_, privacy) = app.page("/privacy");
    assert!(
        privacy.contains("Souq Messenger")
            && privacy.contains("help@souq.test")
            && privacy.contains("90 days")
    );
    assert_eq!(app.page("/static/../Cargo.toml").0, Status::NotFound);
    let _ = csrf_in(&login);
}
