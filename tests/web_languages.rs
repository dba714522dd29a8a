//! English and Arabic: pages follow Accept-Language and the language cookie, the switch returns only to a page
//! of this site, every text asked for exists in both catalogs, emails and form errors speak the language of the
//! person they are for, Arabic pages show no English, and every page in both languages links only to pages that
//! exist and labels its fields.

mod common;

use common::web::{PASSWORD, app, csrf_in, team_with_member};
use rocket::http::{Header, Status};

#[test]
fn pages_follow_accept_language_and_the_language_cookie() {
    let app = app();
    let arabic = app.with_header(
        "/login",
        Header::new("Accept-Language", "ar-KW,ar;q=0.9,en;q=0.5"),
    );
    let html = arabic.into_string().unwrap();
    assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert!(html.contains("تسجيل الدخول"));

    let token = csrf_in(&app.page("/login").1);
    let switch = app.post_raw("/language", &token, &[("lang", "en"), ("back", "/login")]);
    assert_eq!(switch.status(), Status::SeeOther);
    assert_eq!(switch.headers().get_one("Location"), Some("/login"));
    let english = app
        .with_header("/login", Header::new("Accept-Language", "ar"))
        .into_string()
        .unwrap();
    assert!(
        english.contains("<html lang=\"en\" dir=\"ltr\">"),
        "the cookie wins over the header"
    );
    let away = app.post_raw(
        "/language",
        &token,
        &[("lang", "ar"), ("back", "https://evil.example/")],
    );
    assert_eq!(
        away.headers().get_one("Location"),
        Some("/"),
        "never redirected to another site"
    );
    // Error pages speak the chosen language too.
    let missing = app.client.get("/nowhere").dispatch();
    assert_eq!(missing.status(), Status::NotFound);
    let html = missing.into_string().unwrap();
    assert!(
        html.contains("dir=\"rtl\"") && html.contains("لا يوجد شيء هنا"),
        "{html}"
    );
}

#[test]
fn the_language_switch_returns_only_to_a_page_of_this_site() {
    let app = app();
    let token = csrf_in(&app.page("/login").1);
    for back in [
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
    ] {
        let response = app.post_raw("/language", &token, &[("lang", "ar"), ("back", back)]);
        assert_eq!(response.status(), Status::SeeOther, "{back:?}");
        let location = response.headers().get_one("Location").unwrap_or_default();
        assert!(
            location.starts_with('/')
                && !location.starts_with("//")
                && !location.contains('\\')
                && !location.contains('\t'),
            "{back:?} sent the browser to {location:?}"
        );
    }
}

/// Every `t("key")` and every `?done=` notice the templates and the code ask for, as written there.
fn catalog_keys_in_use() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    let mut dirs = vec![root.join("src"), root.join("assets/templates")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut keys = vec![];
    for text in &files {
        for (at, _) in text.match_indices("t(\"") {
            let rest = &text[at + 3..];
            let key = &rest[..rest.find('"').unwrap()];
            if key.contains('.')
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
            {
                keys.push(key.to_owned());
            }
        }
        for (at, _) in text.match_indices("?done=") {
            let area = text[..at].rsplit('/').next().unwrap();
            let rest = &text[at + 6..];
            let end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(rest.len());
            if !area.is_empty() && end > 0 && area.bytes().all(|b| b.is_ascii_lowercase()) {
                keys.push(format!("{area}.done_{}", &rest[..end]));
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn every_text_the_pages_and_emails_ask_for_exists_in_both_catalogs() {
    use whatsapi::http::web::i18n::Lang;
    let keys = catalog_keys_in_use();
    assert!(
        keys.len() > 50 && keys.contains(&"login.done_expired".to_owned()),
        "{keys:?}"
    );
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| Lang::En.t(k) == k.as_str() || Lang::Ar.t(k) == k.as_str())
        .collect();
    assert!(missing.is_empty(), "keys without text: {missing:?}");
    let untranslated: Vec<&String> = keys
        .iter()
        .filter(|k| Lang::Ar.t(k) == Lang::En.t(k) && Lang::En.t(k).len() > 3)
        .collect();
    assert!(
        untranslated.is_empty(),
        "English text on Arabic pages: {untranslated:?}"
    );
}

#[test]
fn emails_speak_the_language_of_the_person_they_are_for() {
    let app = app();
    let token = csrf_in(&app.page("/login").1);
    app.post_raw("/language", &token, &[("lang", "ar")]);
    app.register("علي", "Shop", "ali@shop.test");
    app.logout();
    // Another browser, in English, asks for the reset: the email still follows Ali's language.
    let english = app.another_browser();
    english.submit(
        "/forgot-password",
        "/forgot-password",
        &[("email", "ali@shop.test")],
    );
    let email = app.emails().pop().unwrap();
    let subject = email
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default();
    assert!(
        subject
            .chars()
            .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
        "{email}"
    );
    assert!(
        email.contains("كلمة المرور") && email.contains("/reset-password/"),
        "{email}"
    );
}

/// The text of the form's error alert on a page.
fn alert(html: &str) -> String {
    let start = html.find("role=\"alert\"").expect("an error alert");
    let text = &html[start..];
    let text = &text[text.find('>').unwrap() + 1..];
    text[..text.find('<').unwrap()].to_owned()
}

/// A form to fill: the page it is on, where it posts, what is typed in.
type Attempt<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

#[test]
fn form_errors_are_written_in_the_page_language() {
    let app = app();
    let token = csrf_in(&app.page("/login").1);
    app.post_raw("/language", &token, &[("lang", "ar")]);
    app.register("علي", "Shop", "ali@shop.test");
    let long = "x".repeat(101);
    let attempts: [Attempt; 5] = [
        (
            "/profile",
            "/profile/company",
            &[("company", "Shop"), ("country", ""), ("phone", "call me")],
        ),
        (
            "/profile",
            "/profile/company",
            &[("company", "Shop"), ("country", &long), ("phone", "")],
        ),
        (
            "/profile",
            "/profile/company",
            &[("company", " "), ("country", ""), ("phone", "")],
        ),
        (
            "/profile",
            "/profile/password",
            &[("current_password", PASSWORD), ("new_password", "short")],
        ),
        (
            "/team",
            "/team/invite",
            &[("email", "x@shop.test"), ("role", "boss")],
        ),
    ];
    let mut english = vec![];
    for (page, action, fields) in attempts {
        let response = app.submit(page, action, fields);
        assert_eq!(
            response.status(),
            Status::UnprocessableEntity,
            "{action} {fields:?}"
        );
        let message = alert(&response.into_string().unwrap());
        let arabic = message
            .chars()
            .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c));
        let latin_words = message
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| w.len() > 3);
        if !arabic || latin_words {
            english.push(format!("{action} {fields:?}: {message:?}"));
        }
    }
    assert!(
        english.is_empty(),
        "errors not in Arabic:\n{}",
        english.join("\n")
    );
}

/// The attribute values `name="..."` of every tag `<tag ...>` in a page.
fn tags<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    html.match_indices(&format!("<{tag} "))
        .map(|(at, _)| &html[at..at + html[at..].find('>').unwrap()])
        .collect()
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// Every page reachable from the navigation, in both languages, signed in or not: its links lead to
/// pages that exist, it offers the language switch, and every field has a label.
#[test]
fn every_page_links_to_pages_that_exist_and_labels_its_fields() {
    let app = app();
    let visitor = app.another_browser();
    let operator = app.another_browser();
    assert_eq!(operator.set_up_operator().1.status(), Status::SeeOther);
    team_with_member(&app, "admin");
    app.logout();
    app.login("owner@shop.test", PASSWORD);
    let mut problems = vec![];
    for lang in ["en", "ar"] {
        for browser in [&app, &visitor, &operator] {
            let token = csrf_in(&browser.page("/privacy").1);
            browser.post_raw("/language", &token, &[("lang", lang)]);
            let mut seen: Vec<String> = vec![];
            let mut queue = vec!["/".to_owned(), "/login".to_owned(), "/privacy".to_owned()];
            while let Some(path) = queue.pop() {
                if seen.contains(&path) {
                    continue;
                }
                seen.push(path.clone());
                let response = browser.client.get(path.clone()).dispatch();
                let status = response.status();
                if status == Status::SeeOther {
                    queue.push(response.headers().get_one("Location").unwrap().to_owned());
                    continue;
                }
                let html = response.into_string().unwrap_or_default();
                if status != Status::Ok {
                    problems.push(format!("{lang}: {path} answered {status}"));
                    continue;
                }
                if path.starts_with("/static/") {
                    continue;
                }
                if !html.contains(&format!("<html lang=\"{lang}\"")) {
                    problems.push(format!("{lang}: {path} is not in the chosen language"));
                }
                if !html.contains("action=\"/language\"") {
                    problems.push(format!("{lang}: {path} has no language switch"));
                }
                for link in tags(&html, "a").iter().chain(tags(&html, "link").iter()) {
                    let href = attribute(link, "href").unwrap_or_default();
                    if href.starts_with('/') && !href.starts_with("//") {
                        queue.push(href.split('#').next().unwrap().to_owned());
                    } else if !href.starts_with("mailto:") && !href.starts_with('#') {
                        problems.push(format!("{lang}: {path} links away to {href:?}"));
                    }
                }
                for field in tags(&html, "input")
                    .iter()
                    .chain(tags(&html, "select").iter())
                {
                    if attribute(field, "type") == Some("hidden") {
                        continue;
                    }
                    let labelled = attribute(field, "id").is_some_and(|id| {
                        tags(&html, "label")
                            .iter()
                            .any(|label| attribute(label, "for") == Some(id))
                    });
                    if !labelled && attribute(field, "aria-label").is_none() {
                        problems.push(format!("{lang}: {path}: no label for {field}"));
                    }
                }
            }
            assert!(seen.len() >= 5, "{seen:?}");
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Latin words in what a page shows, leaving out names that stay Latin in Arabic text: the product, the
/// switch to English, email addresses, technical terms of the privacy policy, the operator's company, and
/// the address "unknown" the local client (which has no peer address) is recorded with.
fn latin_words(html: &str) -> Vec<String> {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let mut words: Vec<String> = text
        .split_whitespace()
        .filter(|w| !w.contains('@') && !w.contains("WhatsAPI") && *w != "Pro")
        .flat_map(|w| w.split(|c: char| !c.is_ascii_alphabetic()))
        .filter(|w| w.len() > 2)
        .filter(|w| {
            ![
                "UTC", "English", "HTTPS", "TLS", "Meta", "argon", "Soft", "unknown",
            ]
            .contains(w)
        })
        .map(str::to_owned)
        .collect();
    words.sort();
    words.dedup();
    words
}

#[test]
fn arabic_pages_show_no_english() {
    let app = app();
    let visitor = app.another_browser();
    let mut found = vec![];
    for browser in [&app, &visitor] {
        let token = csrf_in(&browser.page("/login").1);
        browser.post_raw("/language", &token, &[("lang", "ar")]);
    }
    app.register("فاطمة", "تجارة الخليج", "fatima@gulf.test");
    // The dashboard's figures are written the way the language writes numbers.
    let zero = whatsapi::domain::lang::Lang::Ar.number(0);
    assert!(
        app.page("/")
            .1
            .contains(&format!("<span class=\"value ltr\">{zero}</span>")),
        "numbers in the language's digits"
    );
    let pages = [
        (&app, "/"),
        (&app, "/team"),
        (&app, "/profile"),
        (&app, "/billing"),
        (&app, "/privacy"),
        (&visitor, "/login"),
        (&visitor, "/register"),
        (&visitor, "/forgot-password"),
        (&visitor, "/nowhere"),
    ];
    for (browser, path) in pages {
        let html = browser.page(path).1;
        assert!(html.contains("dir=\"rtl\""), "{path}");
        let words = latin_words(&html);
        if !words.is_empty() {
            found.push(format!("{path}: {words:?}"));
        }
    }
    assert!(
        found.is_empty(),
        "English on Arabic pages:\n{}",
        found.join("\n")
    );
}
