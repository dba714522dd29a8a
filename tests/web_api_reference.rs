//! The API reference page, fetched from a running server like a reader's browser would, in English and
//! in Arabic: every route and every error code of the served OpenAPI document is on it, in the
//! reader's language, with no sign-in needed.

mod common;

use common::{Install, Server};
use serde_json::Value;

/// The page as a browser preferring `language` gets it.
fn page(server: &Server, language: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&format!("{}/api-reference", server.url))
        .header("Accept-Language", language)
        .call()
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    response.body_mut().read_to_string().expect("a page")
}

fn document(server: &Server) -> Value {
    let (status, body, _) = server.get("/api/v1/openapi.json");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// `METHOD /path` of every operation, as the page writes it.
fn operations(document: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            found.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    found
}

#[test]
fn the_reference_shows_every_route_and_error_code_in_english_and_arabic() {
    let install = Install::new();
    let server = install.serve();
    let document = document(&server);
    let operations = operations(&document);
    assert!(operations.len() >= 25, "{operations:?}");
    let codes: Vec<&str> = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();

    let english = page(&server, "en");
    let arabic = page(&server, "ar");
    for (html, language) in [(&english, "en"), (&arabic, "ar")] {
        for operation in &operations {
            assert!(
                html.contains(operation.as_str()),
                "{language}: {operation} is not on the page"
            );
        }
        for code in &codes {
            assert!(
                html.contains(&format!("<code class=\"ltr\">{code}</code>")),
                "{language}: the error code {code} is not on the page"
            );
        }
        // The examples of the document, as JSON a reader can copy.
        assert!(
            ["&#34;connection_id&#34;: ", "&quot;connection_id&quot;: "]
                .iter()
                .any(|escaped| html.contains(escaped)),
            "{language}: no example"
        );
        assert!(html.contains("/api/v1/openapi.json"), "{language}");
        assert!(html.contains("Authorization: Bearer wapi_"), "{language}");
    }

    // Each in its own language and direction, and not the other's.
    assert!(english.contains("<h1>API reference</h1>"));
    assert!(english.contains("Queues a message for sending"));
    assert!(!english.contains("مرجع الواجهة البرمجية"));
    assert!(arabic.contains("<h1>مرجع الواجهة البرمجية</h1>"));
    assert!(arabic.contains("يضع رسالة في طابور الإرسال"));
    assert!(arabic.contains("dir=\"rtl\""));
    assert!(!english.contains("dir=\"rtl\""));
    assert!(!arabic.contains("<h1>API reference</h1>"));
}
