//! The OpenAPI document of /api/v1, as a client fetches it from a running server: it names every route
//! the server mounts, each of its examples fits its schema, and `openapi-spec-validator` accepts it.

mod common;

use common::Install;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

/// The document, fetched without an API key (it needs none).
fn served_document() -> Value {
    let install = Install::new();
    let server = install.serve();
    let (status, body, headers) = server.get("/api/v1/openapi.json");
    assert_eq!(status, 200, "{body}");
    let content_type = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    serde_json::from_str(&body).expect("the document is JSON")
}

/// `METHOD /path/{param}` of every route the built server mounts under /api/v1 (the document's own
/// route aside).
fn mounted_api_routes() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = whatsapi::config::Config::default();
    config.storage.data_dir = dir.path().join("data");
    config.storage.key_file = dir.path().join("master.key");
    config.validate().unwrap();
    let db = whatsapi::startup::open_store(&config, true).unwrap();
    let rocket = whatsapi::build_rocket(config, db);
    rocket
        .routes()
        .filter(|route| route.uri.path().starts_with("/api/v1/"))
        .map(|route| {
            let path = route
                .uri
                .path()
                .replace('<', "{")
                .replace('>', "}")
                .replace("..", "");
            format!("{} {path}", route.method.as_str())
        })
        .filter(|route| route != "GET /api/v1/openapi.json")
        .collect()
}

/// `METHOD /path` of every operation in the document.
fn documented_routes(document: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            routes.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    routes
}

#[test]
fn every_mounted_api_route_is_documented_and_nothing_else() {
    let mounted = mounted_api_routes();
    let documented = documented_routes(&served_document());
    // Positive control: the server mounts the routes this test is about, and the document has them.
    assert!(mounted.contains("POST /api/v1/messages"), "{mounted:?}");
    assert!(
        mounted.contains("GET /api/v1/webhook-endpoints/{id}/deliveries/{delivery}"),
        "{mounted:?}"
    );
    assert!(mounted.len() >= 25, "{mounted:?}");
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "mounted but not in /api/v1/openapi.json: {undocumented:?}"
    );
    let unmounted: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        unmounted.is_empty(),
        "in the document but not mounted: {unmounted:?}"
    );
}

/// A validator for `schema`, whose `$ref`s point into the document's components.
fn validator(document: &Value, schema: &Value) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": document["components"],
        "allOf": [schema],
    });
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("schema {schema}: {e}"))
}

fn problems(validator: &jsonschema::Validator, example: &Value) -> Vec<String> {
    validator
        .iter_errors(example)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// Every example in the document with its schema: (where, schema, example).
fn examples(document: &Value) -> Vec<(String, Value, Value)> {
    let mut found = Vec::new();
    let mut media = |place: String, content: &Value| {
        for (media_type, body) in content.as_object().into_iter().flatten() {
            let schema = body["schema"].clone();
            if let Some(example) = body.get("example") {
                found.push((
                    format!("{place} {media_type}"),
                    schema.clone(),
                    example.clone(),
                ));
            }
            for (name, example) in body["examples"].as_object().into_iter().flatten() {
                found.push((
                    format!("{place} {media_type} ({name})"),
                    schema.clone(),
                    example["value"].clone(),
                ));
            }
        }
    };
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let place = format!("{} {path}", method.to_uppercase());
            media(
                format!("{place} request"),
                &operation["requestBody"]["content"],
            );
            for (status, response) in operation["responses"].as_object().expect("responses") {
                media(format!("{place} {status}"), &response["content"]);
            }
        }
    }
    found
}

#[test]
fn each_example_fits_its_schema() {
    let document = served_document();
    let examples = examples(&document);
    let mut wrong = Vec::new();
    for (place, schema, example) in &examples {
        let found = problems(&validator(&document, schema), example);
        if !found.is_empty() {
            wrong.push(format!("{place}: {found:?}\n  example: {example}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "examples that do not fit:\n{}",
        wrong.join("\n")
    );

    // Every operation shows a successful answer, and every one with a body a request.
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let place = format!("{} {path}", method.to_uppercase());
            let success = operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .unwrap_or_else(|| panic!("{place} has no 2xx answer"));
            if success.0 != "204" {
                assert!(
                    examples
                        .iter()
                        .any(|(p, _, _)| p.starts_with(&format!("{place} {} ", success.0))),
                    "{place} has no example of its {} answer",
                    success.0
                );
            }
            if operation.get("requestBody").is_some() {
                assert!(
                    examples
                        .iter()
                        .any(|(p, _, _)| p.starts_with(&format!("{place} request"))),
                    "{place} has no example request"
                );
            }
        }
    }

    // Positive controls: the same schemas refuse a wrong example.
    let answer = &document["paths"]["/api/v1/messages"]["post"]["responses"]["202"]["content"]["application/json"];
    let mut wrong_type = answer["example"].clone();
    wrong_type["created_at"] = json!("yesterday");
    assert!(!problems(&validator(&document, &answer["schema"]), &wrong_type).is_empty());
    let request = &document["paths"]["/api/v1/connections"]["post"]["requestBody"]["content"]["application/json"];
    let mut unknown_field = request["example"].clone();
    unknown_field["nmae"] = json!("Shop");
    assert!(
        !problems(&validator(&document, &request["schema"]), &unknown_field).is_empty(),
        "a request schema must refuse a field the request does not take"
    );
    let error = &document["paths"]["/api/v1/messages"]["post"]["responses"]["400"]["content"]["application/json"];
    let unknown_code = json!({"error": {"code": "no_such_code", "message": "x", "details": null}});
    assert!(!problems(&validator(&document, &error["schema"]), &unknown_code).is_empty());
}

#[test]
fn the_document_says_how_to_authenticate_and_lists_every_error_code() {
    let document = served_document();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        document["openapi"]
    );
    let scheme = &document["components"]["securitySchemes"]["api_key"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert_eq!(document["security"], json!([{"api_key": []}]));
    let codes: BTreeSet<&str> = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the error codes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for code in [
        "invalid_field",
        "invalid_json",
        "unauthorized",
        "not_found",
        "payload_too_large",
        "unsupported_media_type",
        "idempotency_key_reused",
        "overloaded",
        "internal_error",
    ] {
        assert!(codes.contains(code), "{code} is not documented: {codes:?}");
    }
}

/// The validator's program: `OPENAPI_SPEC_VALIDATOR`, the virtual environment tests/run-all.sh makes
/// under the target directory, or the PATH.
fn spec_validator() -> PathBuf {
    if let Some(path) = std::env::var_os("OPENAPI_SPEC_VALIDATOR") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let in_venv = target.join("openapi-venv/bin/openapi-spec-validator");
    if in_venv.exists() {
        return in_venv;
    }
    PathBuf::from("openapi-spec-validator")
}

fn validate_file(program: &PathBuf, file: &std::path::Path) -> std::process::Output {
    Command::new(program)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "openapi-spec-validator could not be run ({}: {e}). Install it: tests/run-all.sh does \
                 (python3 -m venv $CARGO_TARGET_DIR/openapi-venv && $CARGO_TARGET_DIR/openapi-venv/bin/pip \
                 install openapi-spec-validator), or set OPENAPI_SPEC_VALIDATOR to its path.",
                program.display()
            )
        })
}

#[test]
fn openapi_spec_validator_accepts_the_document() {
    let program = spec_validator();
    let document = served_document();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    let output = validate_file(&program, &file);
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Positive control: the validator refuses a document without its required `info`, and with an
    // operation whose answers are not an object.
    let mut broken = document.clone();
    broken.as_object_mut().unwrap().remove("info");
    broken["paths"]["/api/v1/messages"]["post"]["responses"] = json!("none");
    let broken_file = dir.path().join("broken.json");
    std::fs::write(&broken_file, serde_json::to_vec(&broken).unwrap()).unwrap();
    let output = validate_file(&program, &broken_file);
    assert!(
        !output.status.success(),
        "the validator accepted a broken document:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
