//! The navigation every page carries, as the server writes it: the daily pages in the primary row, the rest
//! in the More list (Billing only for those who manage the account), the page's own link marked current
//! and More marked while one of its pages is shown, and the operators' console for operators.

mod common;

use common::web::{App, app, team_with_member};
use rocket::http::Status;

/// The `href`s of the links inside the element that starts with `opening` (up to its closing `</ul>`).
fn links(html: &str, opening: &str) -> Vec<String> {
    let Some(start) = html.find(opening) else {
        return Vec::new();
    };
    let list = &html[start..];
    let list = &list[..list.find("</ul>").unwrap()];
    list.split("<a href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

fn page(app: &App, path: &str) -> String {
    let (status, html) = app.page(path);
    assert_eq!(status, Status::Ok, "{path}");
    html
}

#[test]
fn the_daily_pages_are_the_primary_row_and_the_rest_is_under_more() {
    let app = app();
    team_with_member(&app, "member");
    // The member who just joined (and does not manage the account) has no Billing link.
    let member = page(&app, "/");
    let more = links(&member, "<ul id=\"nav-more-list\">");
    assert!(!more.contains(&"/billing".to_owned()), "{more:?}");
    assert!(more.contains(&"/usage".to_owned()), "{more:?}");
    app.logout();
    assert_eq!(
        app.login("owner@shop.test", common::web::PASSWORD),
        Status::SeeOther
    );

    let home = page(&app, "/");
    assert_eq!(
        links(&home, "<ul class=\"nav-primary\">"),
        [
            "/",
            "/inbox",
            "/messages",
            "/compose",
            "/templates",
            "/contacts"
        ]
    );
    assert_eq!(
        links(&home, "<ul id=\"nav-more-list\">"),
        [
            "/connections",
            "/api-keys",
            "/webhook-endpoints",
            "/team",
            "/usage",
            "/activity",
            "/billing",
            "/profile"
        ]
    );
    assert!(home.contains(r#"<li><a href="/" aria-current="page">"#));
    assert!(
        home.contains(r#"<summary aria-controls="nav-more-list">"#),
        "More not marked on /"
    );

    // A page under More: its link is current, and More is marked while it is closed.
    let usage = page(&app, "/usage");
    assert!(usage.contains(r#"<a href="/usage" aria-current="page">"#));
    assert!(usage.contains(r#"<summary aria-controls="nav-more-list" class="current">"#));
    let endpoint_page = page(&app, "/webhook-endpoints");
    assert!(endpoint_page.contains(r#"class="current">"#));
}

#[test]
fn operators_keep_their_console_and_visitors_see_sign_in() {
    let app = app();
    let signed_out = page(&app, "/login");
    assert_eq!(
        links(
            &signed_out,
            "<nav aria-label=\"Main\" class=\"nav-public\">"
        ),
        ["/login", "/register"]
    );
    assert!(!signed_out.contains("nav-more-list"));

    let (_, answer) = app.set_up_operator();
    assert_eq!(answer.status(), Status::SeeOther);
    let (_, admin) = app.page("/admin");
    assert_eq!(
        links(&admin, "<ul class=\"nav-primary\">"),
        ["/admin"],
        "{admin}"
    );
    assert_eq!(links(&admin, "<ul id=\"nav-more-list\">"), ["/profile"]);
}
