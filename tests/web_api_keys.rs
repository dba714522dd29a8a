//! API keys from the web interface: shown once, working at once, revoked at once, managed by owners and admins.

mod common;

use common::web::app;
use rocket::http::{Header, Status};

fn key_in(html: &str) -> String {
    let start = html
        .find("id=\"new-key\">")
        .expect("the new key is on the page")
        + "id=\"new-key\">".len();
    html[start..start + html[start..].find('<').unwrap()].to_owned()
}

#[test]
fn a_key_is_shown_once_works_at_once_and_stops_working_when_revoked() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let created = app.submit("/api-keys", "/api-keys", &[("name", "Shop backend")]);
    assert_eq!(created.status(), Status::Ok);
    let key = key_in(&created.into_string().unwrap());
    assert!(key.starts_with("wapi_") && key.len() == 53, "{key}");
    let (_, page) = app.page("/api-keys");
    assert!(
        !page.contains(&key),
        "shown only on the page that created it"
    );
    assert!(page.contains(&key[key.len() - 4..]) && page.contains("Shop backend"));
    let stored: Vec<u8> = app
        .db()
        .query_row("SELECT key_hash FROM api_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored.len(), 32, "only a SHA-256 is stored");

    let list = |key: &str| {
        app.client
            .get("/api/v1/messages")
            .header(Header::new("Authorization", format!("Bearer {key}")))
            .dispatch()
            .status()
    };
    assert_eq!(list(&key), Status::Ok);
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM api_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        app.submit("/api-keys", &format!("/api-keys/{id}/revoke"), &[])
            .status(),
        Status::SeeOther
    );
    assert_eq!(list(&key), Status::Unauthorized);
    let (_, page) = app.page("/api-keys?done=revoked");
    assert!(page.contains("The key was revoked."));
}

#[test]
fn members_see_keys_but_cannot_create_or_revoke_them() {
    let app = app();
    app.register("Owner", "Shop", "owner@shop.test");
    app.submit("/api-keys", "/api-keys", &[("name", "backend")]);
    let link = app.invite_and_sign_out("member@shop.test", "member");
    let joined = app.join(&link, "Member");
    assert_eq!(joined.status(), Status::SeeOther);
    let (status, page) = app.page("/api-keys");
    assert_eq!(status, Status::Ok);
    assert!(page.contains("backend") && !page.contains("action=\"/api-keys\""));
    assert_eq!(
        app.submit("/api-keys", "/api-keys", &[("name", "mine")])
            .status(),
        Status::Forbidden
    );
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM api_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        app.submit("/api-keys", &format!("/api-keys/{id}/revoke"), &[])
            .status(),
        Status::Forbidden
    );
    assert_eq!(
        app.count("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL"),
        1
    );
}
