//! Consent as the privacy policy promises it: acceptance stored with its version and time, product news
//! off until a person turns it on and stopped with one click from the link in each news email (no
//! sign-in, a forged link refused), new policy versions that every person must acknowledge and is told
//! about by email, and a reseller's own policy text.

mod common;

use common::web::{App, app, app_with, csrf_in};
use rocket::http::{ContentType, Status};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `whatsapi` binary on this app's data directory and key (the server keeps running meanwhile).
fn cli(app: &App, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(common::BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WHATSAPI_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(args)
        .env("WHATSAPI_STORAGE__DATA_DIR", &app.config.storage.data_dir)
        .env("WHATSAPI_STORAGE__KEY_FILE", &app.config.storage.key_file)
        .current_dir(app.dir.path());
    common::run_within(cmd, Duration::from_secs(60))
}

fn user_id(app: &App, email: &str) -> i64 {
    app.db()
        .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| {
            r.get(0)
        })
        .unwrap()
}

/// (version, given_at, withdrawn_at) of each consent of `kind`, oldest first.
fn consents(app: &App, email: &str, kind: &str) -> Vec<(String, i64, Option<i64>)> {
    let db = app.db();
    let mut stmt = db
        .prepare(
            "SELECT version, given_at, withdrawn_at FROM consents
             WHERE user_id = (SELECT id FROM users WHERE email = ?1) AND kind = ?2 ORDER BY id",
        )
        .unwrap();
    stmt.query_map([email, kind], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn now_ms() -> i64 {
    whatsapi::store::now_ms()
}

/// Creates the operator through the setup link; `operator` ends signed in as them.
fn operator(app: &App) -> App {
    let operator = app.another_browser();
    assert_eq!(operator.set_up_operator().1.status(), Status::SeeOther);
    operator
}

fn has_notice(app: &App, path: &str) -> bool {
    let (status, html) = app.page(path);
    assert_eq!(status, Status::Ok, "{path}");
    html.contains("id=\"policy-notice\"")
}

/// The unsubscribe link in the text of a news email (the path, as a browser or mail program opens it).
fn unsubscribe_link(email: &str) -> String {
    let body = &email[email.find("\n\n").unwrap()..];
    let at = body.find("/unsubscribe/").expect("a link in the text");
    let end = body[at..].find(char::is_whitespace).unwrap();
    body[at..at + end].to_owned()
}

/// Waits (at most 20 s) for emails sent in the background.
fn wait_for_emails(app: &App, what: &str, check: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let emails = app.emails();
        if check(&emails) {
            return emails;
        }
        assert!(Instant::now() < deadline, "no {what}: {emails:#?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn acceptance_is_stored_with_version_and_time_and_product_news_starts_off() {
    let app = app();
    let before = now_ms();
    assert_eq!(
        app.register("Fatima", "Gulf Trading", "fatima@gulf.test"),
        Status::SeeOther
    );
    let after = now_ms();
    let accepted = consents(&app, "fatima@gulf.test", "privacy_policy");
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    let (version, given_at, withdrawn_at) = &accepted[0];
    assert_eq!(version, "1");
    assert!((before..=after).contains(given_at), "{given_at}");
    assert_eq!(*withdrawn_at, None);
    assert!(
        consents(&app, "fatima@gulf.test", "product_news").is_empty(),
        "product news is opt-in"
    );
    let (_, profile) = app.page("/profile");
    assert!(profile.contains("id=\"product-news\""), "{profile}");
    assert!(profile.contains("You do not receive product news."));
    let checkbox = &profile[profile.find("id=\"product_news\"").unwrap()..];
    assert!(
        !checkbox[..checkbox.find('>').unwrap()].contains("checked"),
        "the box starts unticked"
    );
    assert!(
        !has_notice(&app, "/"),
        "the version accepted at registration is the one in force"
    );

    // The operator set up through the link accepts the version in force too.
    let operator = operator(&app);
    let accepted = consents(&app, "op@host.test", "privacy_policy");
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(accepted[0].0, "1");
    assert!(!has_notice(&operator, "/admin"));
}

#[test]
fn product_news_is_opt_in_and_one_click_from_the_email_withdraws_it_without_signing_in() {
    let app = app();
    app.register("Fatima", "Gulf Trading", "fatima@gulf.test");
    let other = app.another_browser();
    other.register("Omar", "Omar Shop", "omar@shop.test");

    let on = app.submit("/profile", "/profile/news", &[("product_news", "true")]);
    assert_eq!(on.status(), Status::SeeOther);
    let news = consents(&app, "fatima@gulf.test", "product_news");
    assert_eq!(news.len(), 1);
    assert_eq!(news[0].2, None);
    let (_, profile) = app.page("/profile");
    assert!(
        profile.contains("You receive product news since"),
        "{profile}"
    );

    let body = app.dir.path().join("news.txt");
    std::fs::write(&body, "Templates can now be synced from the inbox.\n").unwrap();
    let sent = cli(
        &app,
        &[
            "news",
            "send",
            "--subject",
            "What is new in June",
            "--body-file",
            body.to_str().unwrap(),
        ],
    );
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(
        String::from_utf8_lossy(&sent.stdout).contains("sent to 1 of 1"),
        "{}",
        String::from_utf8_lossy(&sent.stdout)
    );
    let emails = app.emails();
    let news_emails: Vec<&String> = emails
        .iter()
        .filter(|e| e.contains("What is new in June"))
        .collect();
    assert_eq!(news_emails.len(), 1, "only to who opted in: {emails:#?}");
    let email = news_emails[0];
    assert!(email.contains("To: fatima@gulf.test"), "{email}");
    assert!(email.contains("Templates can now be synced from the inbox."));
    let link = unsubscribe_link(email);
    assert!(
        email.contains(&format!("List-Unsubscribe: <http://127.0.0.1:8080{link}>")),
        "{email}"
    );
    assert!(
        email.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{email}"
    );

    // Opening the link in a browser that is not signed in asks first, and changes nothing yet.
    let stranger = app.another_browser();
    let (status, page) = stranger.page(&link);
    assert_eq!(status, Status::Ok);
    assert!(page.contains(&format!("action=\"{link}\"")), "{page}");
    assert_eq!(
        consents(&app, "fatima@gulf.test", "product_news")[0].2,
        None
    );

    // The mail program's one-click POST (RFC 8058): no cookie, no CSRF token.
    let before = now_ms();
    let response = stranger
        .client
        .post(link.clone())
        .header(ContentType::Form)
        .body("List-Unsubscribe=One-Click")
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert!(
        response
            .into_string()
            .unwrap()
            .contains("you will receive no more product news")
    );
    let news = consents(&app, "fatima@gulf.test", "product_news");
    let withdrawn = news[0].2.expect("the withdrawal is recorded");
    assert!(withdrawn >= before, "with its time");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity_log WHERE action = 'product_news_withdrawn' AND detail = 'email link'"
        ),
        1
    );
    let (_, profile) = app.page("/profile");
    assert!(profile.contains("You do not receive product news."));
    // The button on the page works the same, and again is harmless.
    assert_eq!(
        stranger.client.post(link.clone()).dispatch().status(),
        Status::Ok
    );

    let again = cli(
        &app,
        &[
            "news",
            "send",
            "--subject",
            "July",
            "--body-file",
            body.to_str().unwrap(),
        ],
    );
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("sent to 0 of 0"));

    // Turned on again and off from the profile: each change is kept with its time.
    app.submit("/profile", "/profile/news", &[("product_news", "true")]);
    app.submit("/profile", "/profile/news", &[]);
    let news = consents(&app, "fatima@gulf.test", "product_news");
    assert_eq!(news.len(), 2);
    assert!(news.iter().all(|(_, _, withdrawn)| withdrawn.is_some()));
}

#[test]
fn a_tampered_unsubscribe_link_is_refused() {
    let app = app();
    app.register("Fatima", "Gulf Trading", "fatima@gulf.test");
    let other = app.another_browser();
    other.register("Omar", "Omar Shop", "omar@shop.test");
    for browser in [&app, &other] {
        browser.submit("/profile", "/profile/news", &[("product_news", "true")]);
    }
    let body = app.dir.path().join("news.txt");
    std::fs::write(&body, "News.\n").unwrap();
    let sent = cli(
        &app,
        &[
            "news",
            "send",
            "--subject",
            "News",
            "--body-file",
            body.to_str().unwrap(),
        ],
    );
    assert!(sent.status.success());
    let fatima_link = app
        .emails()
        .iter()
        .find(|e| e.contains("To: fatima@gulf.test"))
        .map(|e| unsubscribe_link(e))
        .unwrap();
    let token = fatima_link.trim_start_matches("/unsubscribe/");
    let (id, mac) = token.split_once('.').unwrap();
    assert_eq!(id, user_id(&app, "fatima@gulf.test").to_string());
    let omar = user_id(&app, "omar@shop.test");
    let mut flipped = mac.to_owned().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let forged = [
        format!("{omar}.{mac}"),
        format!("{id}.{}", String::from_utf8(flipped).unwrap()),
        format!("{id}.{}", &mac[..mac.len() - 2]),
        id.to_owned(),
        format!("{omar}"),
        "x.y".to_owned(),
    ];
    let stranger = app.another_browser();
    for token in &forged {
        let path = format!("/unsubscribe/{token}");
        assert_eq!(stranger.page(&path).0, Status::NotFound, "{path}");
        let response = stranger
            .client
            .post(path.clone())
            .header(ContentType::Form)
            .body("List-Unsubscribe=One-Click")
            .dispatch();
        assert_eq!(response.status(), Status::NotFound, "{path}");
    }
    for email in ["fatima@gulf.test", "omar@shop.test"] {
        assert_eq!(
            consents(&app, email, "product_news")[0].2,
            None,
            "{email} still gets the news"
        );
    }
    // Each person's genuine link stops only their own news.
    assert_eq!(
        stranger.client.post(fatima_link).dispatch().status(),
        Status::Ok
    );
    assert!(
        consents(&app, "fatima@gulf.test", "product_news")[0]
            .2
            .is_some()
    );
    assert_eq!(consents(&app, "omar@shop.test", "product_news")[0].2, None);
}

#[test]
fn a_new_policy_version_shows_a_notice_until_acknowledged_and_is_emailed_to_everyone() {
    let app = app();
    app.register("Fatima", "Gulf Trading", "fatima@gulf.test");
    let arabic = app.another_browser();
    let token = csrf_in(&arabic.page("/login").1);
    arabic.post_raw("/language", &token, &[("lang", "ar")]);
    arabic.register("عمر", "متجر عمر", "omar@shop.test");
    let operator = operator(&app);
    for (browser, path) in [(&app, "/"), (&arabic, "/"), (&operator, "/admin")] {
        assert!(
            !has_notice(browser, path),
            "{path}: nothing to acknowledge yet"
        );
    }

    // Only operators publish.
    let refused = app.submit("/", "/admin/policy", &[("version", "2"), ("summary", "")]);
    assert_eq!(refused.status(), Status::NotFound);

    let before = now_ms();
    let published = operator.submit(
        "/admin",
        "/admin/policy",
        &[
            ("version", "2"),
            ("summary", "Message logs are now kept for 30 days."),
        ],
    );
    assert_eq!(published.status(), Status::SeeOther);
    assert_eq!(
        published.headers().get_one("Location"),
        Some("/admin?done=policy_published")
    );
    let (_, admin) = operator.page("/admin?done=policy_published");
    let table = &admin[admin.find("id=\"policy-versions\"").unwrap()..];
    assert!(table.contains("<bdi>2</bdi>") && table.contains("<bdi>1</bdi>"));
    assert!(
        !admin.contains("id=\"policy-notice\""),
        "the publisher has read it"
    );

    // Every signed-in person sees the notice on every page until they acknowledge it.
    for path in ["/", "/profile", "/team", "/privacy", "/messages"] {
        assert!(has_notice(&app, path), "{path}");
    }
    let (_, home) = app.page("/");
    assert!(home.contains("Version 2 is in force since"), "{home}");
    assert!(home.contains("Message logs are now kept for 30 days."));
    let (_, home_ar) = arabic.page("/");
    assert!(home_ar.contains("الإصدار 2 ساري المفعول منذ"), "{home_ar}");

    // Everyone else is told by email, in their language, without the request waiting for it.
    let emails = wait_for_emails(&app, "policy emails", |emails| {
        emails.iter().filter(|e| e.contains("/privacy")).count() >= 2
    });
    let to = |address: &str| {
        emails
            .iter()
            .find(|e| e.contains(&format!("To: {address}")) && e.contains("/privacy"))
            .unwrap_or_else(|| panic!("no policy email to {address}: {emails:#?}"))
    };
    let english = to("fatima@gulf.test");
    assert!(
        english.contains("Subject: Our privacy policy has changed (version 2)"),
        "{english}"
    );
    assert!(english.contains("Message logs are now kept for 30 days."));
    assert!(english.contains("http://127.0.0.1:8080/privacy"));
    assert!(to("omar@shop.test").contains("تم تحديث سياسة الخصوصية (الإصدار 2)"));
    assert!(
        !emails.iter().any(|e| e.contains("To: op@host.test")),
        "not to the operator who published it"
    );

    // Acknowledging records consent to version 2 with its time, keeps the record of version 1, and
    // goes back to the page.
    let ack = app.submit("/inbox", "/privacy/acknowledge", &[("back", "/inbox")]);
    assert_eq!(ack.status(), Status::SeeOther);
    assert_eq!(ack.headers().get_one("Location"), Some("/inbox"));
    let accepted = consents(&app, "fatima@gulf.test", "privacy_policy");
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    assert_eq!(accepted[0].0, "1");
    assert_eq!(accepted[1].0, "2");
    assert!(accepted[1].1 >= before);
    for path in ["/", "/profile", "/privacy", "/inbox"] {
        assert!(!has_notice(&app, path), "{path}: gone once acknowledged");
    }
    assert!(has_notice(&arabic, "/"), "the others still see it");
    // A second acknowledgement records nothing more; a foreign `back` goes home.
    let again = app.submit("/", "/privacy/acknowledge", &[("back", "//evil.test/")]);
    assert_eq!(again.headers().get_one("Location"), Some("/"));
    assert_eq!(
        consents(&app, "fatima@gulf.test", "privacy_policy").len(),
        2
    );

    // The privacy page states the version in force, its date and what changed, in both languages.
    let (_, privacy) = app.page("/privacy");
    assert!(privacy.contains("Version 2 · in force since"), "{privacy}");
    assert!(privacy.contains("Message logs are now kept for 30 days."));
    let (_, privacy_ar) = arabic.page("/privacy");
    assert!(
        privacy_ar.contains("الإصدار 2 · ساري المفعول منذ"),
        "{privacy_ar}"
    );

    // A label used before, or an empty one, is refused and shown next to the form.
    for (version, message) in [
        ("2", "This version was already published"),
        ("", "Enter a version label"),
    ] {
        let refused = operator.submit(
            "/admin",
            "/admin/policy",
            &[("version", version), ("summary", "")],
        );
        assert_eq!(refused.status(), Status::UnprocessableEntity);
        assert!(refused.into_string().unwrap().contains(message));
    }
    assert_eq!(app.count("SELECT count(*) FROM policy_versions"), 2);
}

#[test]
fn the_operator_publishes_a_version_from_the_command_line() {
    let app = app();
    app.register("Fatima", "Gulf Trading", "fatima@gulf.test");
    let output = cli(
        &app,
        &[
            "policy",
            "publish",
            "--version",
            "2025-06",
            "--summary",
            "Clearer wording.",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("version 2025-06"), "{printed}");
    assert!(printed.contains("1 of 1 emails sent"), "{printed}");
    let emails = app.emails();
    assert!(
        emails.iter().any(|e| e.contains("To: fatima@gulf.test")
            && e.contains("(version 2025-06)")
            && e.contains("Clearer wording.")),
        "{emails:#?}"
    );
    let (_, home) = app.page("/");
    assert!(home.contains("Version 2025-06 is in force since"), "{home}");
    let (_, privacy) = app.page("/privacy");
    assert!(privacy.contains("Version 2025-06 · in force since"));

    let twice = cli(&app, &["policy", "publish", "--version", "2025-06"]);
    assert!(!twice.status.success(), "a label is published once");
    assert_eq!(app.count("SELECT count(*) FROM policy_versions"), 2);
}

#[test]
fn a_resellers_own_policy_text_is_served_with_the_configured_values() {
    let branding = tempfile::tempdir().unwrap();
    std::fs::write(
        branding.path().join("privacy.en.html"),
        "<h2>Our own words</h2><p>{operator} keeps messages for {retention_period}; write to {contact}.</p>",
    )
    .unwrap();
    let dir = branding.path().to_owned();
    let app = app_with(move |c| {
        c.branding.static_dir = Some(dir);
        c.branding.operator_name = "Souq & Co".into();
        c.branding.support_email = "help@souq.test".into();
        c.retention.message_days = 30;
    });
    let (status, privacy) = app.page("/privacy");
    assert_eq!(status, Status::Ok);
    assert!(privacy.contains("<h2>Our own words</h2>"), "{privacy}");
    assert!(
        privacy.contains("Souq &amp; Co keeps messages for 30 days; write to help@souq.test."),
        "{privacy}"
    );
    assert!(
        !privacy.contains("Information we collect"),
        "the built-in text is replaced"
    );
    assert!(
        privacy.contains("Version 1 · in force since"),
        "still versioned"
    );

    // Arabic has no file of its own yet: the reseller's text, not the built-in one.
    let arabic = app.another_browser();
    let token = csrf_in(&arabic.page("/login").1);
    arabic.post_raw("/language", &token, &[("lang", "ar")]);
    assert!(arabic.page("/privacy").1.contains("Our own words"));
    std::fs::write(
        branding.path().join("privacy.ar.html"),
        "<h2>كلماتنا</h2><p>تحتفظ {operator} بالرسائل {retention_period}.</p>",
    )
    .unwrap();
    let (_, privacy_ar) = arabic.page("/privacy");
    assert!(
        privacy_ar.contains("تحتفظ Souq &amp; Co بالرسائل 30 يومًا."),
        "{privacy_ar}"
    );
    assert!(privacy_ar.contains("الإصدار 1 · ساري المفعول منذ"));
}
