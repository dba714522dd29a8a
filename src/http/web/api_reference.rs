//! The API reference page: the OpenAPI document of /api/v1 ([`ApiDocument`], handed over when the server
//! is assembled) rendered on the server as a page, no JavaScript. The prose around it, each route's
//! summary and each error code's
//! meaning are in the reader's language (catalog `api_reference`); what has no translation yet (a new
//! route) falls back to the document's English. Public, like the document itself.

use super::page::{Page, render};
use crate::error::{Code, Result};
use askama::Template;
use rocket::response::content::RawHtml;
use rocket::{State, get, routes};
use serde_json::Value;

pub fn routes() -> Vec<rocket::Route> {
    routes![api_reference]
}

/// Where the OpenAPI document of /api/v1 comes from, as JSON: handed over by the server's assembly (the
/// pages do not import the API, whose types the document is built from). A function, so the document
/// is built at the first visit, not at every start.
pub struct ApiDocument(pub fn() -> &'static Value);

#[derive(Template)]
#[template(path = "api_reference.html")]
struct ReferencePage<'a> {
    page: &'a Page,
    groups: Vec<Group>,
    codes: Vec<CodeRow>,
}

/// The routes of one tag (resource).
struct Group {
    id: String,
    title: String,
    operations: Vec<Operation>,
}

struct Operation {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    parameters: Vec<Field>,
    request: Option<Body>,
    answer: Option<Body>,
    /// The error statuses the route can answer, e.g. "400, 401, 404".
    errors: String,
}

/// A request or answer body: its schema's name, its fields, an example.
struct Body {
    status: String,
    schema: String,
    fields: Vec<Field>,
    example: String,
}

struct Field {
    name: String,
    kind: String,
    required: bool,
    description: String,
}

struct CodeRow {
    code: String,
    status: String,
    meaning: String,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `key` in the reader's language, else `fallback` (the document's own text), as [`prose`].
fn translated(page: &Page, key: &str, fallback: &str) -> String {
    match page.t(key) {
        found if found == key => prose(fallback),
        found => prose(found),
    }
}

/// A description of the document as HTML: escaped, and its `code` spans (Markdown, as OpenAPI
/// descriptions are) shown as code. The template shows it as is.
fn prose(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let parts: Vec<&str> = escaped.split('`').collect();
    // An odd count of parts means every backtick has its pair; else the last one is text.
    let balanced = parts.len() % 2 == 1;
    let mut html = String::with_capacity(escaped.len());
    for (i, part) in parts.iter().enumerate() {
        let code = i % 2 == 1;
        if code && (balanced || i + 1 < parts.len()) {
            html.push_str("<code class=\"ltr\">");
            html.push_str(part);
            html.push_str("</code>");
        } else {
            if code {
                html.push('`');
            }
            html.push_str(part);
        }
    }
    html
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// A description of the document, as [`prose`].
fn described(value: &Value) -> String {
    prose(value.as_str().unwrap_or_default())
}

/// The component a `$ref` names, or the schema itself.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// A schema's type as a reader would say it: `string`, `integer or null`, `array of Delivery`, a
/// component's name.
fn kind(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return reference.rsplit('/').next().unwrap_or_default().to_owned();
    }
    if let Some(choices) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        return choices.iter().map(kind).collect::<Vec<_>>().join(" | ");
    }
    if let Some(all) = schema["allOf"].as_array() {
        return all.iter().map(kind).collect::<Vec<_>>().join(" + ");
    }
    let one = |name: &str| match name {
        "array" => format!("array of {}", kind(&schema["items"])),
        other => other.to_owned(),
    };
    match &schema["type"] {
        Value::String(name) => one(name),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .map(one)
            .collect::<Vec<_>>()
            .join(" or "),
        _ if schema["enum"].is_array() => "string".to_owned(),
        _ => "any".to_owned(),
    }
}

/// The fields of an object schema, parts of an `allOf` merged; a `oneOf` of one-property objects (the
/// object named by a message's `type`) is one row naming each choice.
fn fields(document: &Value, schema: &Value) -> Vec<Field> {
    let schema = resolve(document, schema);
    let mut found = Vec::new();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        found.extend(fields(document, part));
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        let names: Vec<String> = choices
            .iter()
            .filter_map(|c| c["properties"].as_object())
            .flat_map(|p| p.keys().cloned())
            .collect();
        if !names.is_empty() {
            found.push(Field {
                name: names.join(" | "),
                kind: "object".to_owned(),
                required: true,
                description: described(&schema["description"]),
            });
        }
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        // A field's own description, else its type's (an optional object is `oneOf: [null, $ref]`).
        let referenced = property["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|choice| choice.get("$ref").is_some())
            .unwrap_or(property);
        let description = match property.get("description") {
            Some(d) => described(d),
            None => described(&resolve(document, referenced)["description"]),
        };
        found.push(Field {
            name: name.clone(),
            kind: kind(property),
            required: required.contains(&name.as_str()),
            description,
        });
    }
    found
}

fn pretty(example: &Value) -> String {
    serde_json::to_string_pretty(example).unwrap_or_default()
}

/// The JSON body of a request or an answer, if it has one.
fn body(document: &Value, status: &str, content: &Value) -> Option<Body> {
    let json = &content["application/json"];
    let schema = json.get("schema")?;
    Some(Body {
        status: status.to_owned(),
        schema: kind(schema),
        fields: fields(document, schema),
        example: json.get("example").map(pretty).unwrap_or_default(),
    })
}

fn operation(page: &Page, document: &Value, method: &str, path: &str, op: &Value) -> Operation {
    let id = text(&op["operationId"]);
    let parameters = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| Field {
            name: text(&p["name"]),
            kind: format!("{} ({})", kind(&p["schema"]), text(&p["in"])),
            required: p["required"].as_bool().unwrap_or(false),
            description: described(&p["description"]),
        })
        .collect();
    let responses = op["responses"].as_object();
    let answer = responses.into_iter().flatten().find_map(|(status, r)| {
        if !status.starts_with('2') {
            return None;
        }
        body(document, status, &r["content"]).or_else(|| {
            Some(Body {
                status: status.clone(),
                schema: String::new(),
                fields: Vec::new(),
                example: String::new(),
            })
        })
    });
    let errors: Vec<&str> = responses
        .into_iter()
        .flatten()
        .map(|(status, _)| status.as_str())
        .filter(|status| !status.starts_with('2'))
        .collect();
    Operation {
        anchor: id.clone(),
        method: method.to_uppercase(),
        path: path.to_owned(),
        summary: translated(
            page,
            &format!("api_reference.ops.{id}"),
            op["summary"].as_str().unwrap_or_default(),
        ),
        parameters,
        request: body(document, "", &op["requestBody"]["content"]),
        answer,
        errors: errors.join(", "),
    }
}

fn groups(page: &Page, document: &Value) -> Vec<Group> {
    let mut groups: Vec<Group> = document["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tag| {
            let id = text(&tag["name"]);
            Group {
                title: translated(
                    page,
                    &format!("api_reference.tags.{id}"),
                    tag["description"].as_str().unwrap_or(&id),
                ),
                id,
                operations: Vec::new(),
            }
        })
        .collect();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let tag = op["tags"][0].as_str().unwrap_or_default();
            let at = match groups.iter().position(|g| g.id == tag) {
                Some(at) => at,
                None => {
                    groups.push(Group {
                        id: tag.to_owned(),
                        title: prose(tag),
                        operations: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            groups[at]
                .operations
                .push(operation(page, document, method, path, op));
        }
    }
    groups.retain(|g| !g.operations.is_empty());
    groups
}

/// The error codes, from the one table (`error::Code`) the document's `ErrorCode` is made from.
fn codes(page: &Page) -> Vec<CodeRow> {
    Code::ALL
        .into_iter()
        .map(|code| CodeRow {
            code: code.as_str().to_owned(),
            status: code.status().code.to_string(),
            meaning: translated(page, &format!("api_reference.codes.{code}"), code.meaning()),
        })
        .collect()
}

#[get("/api-reference")]
fn api_reference(page: Page, document: &State<ApiDocument>) -> Result<RawHtml<String>> {
    let document = (document.0)();
    render(ReferencePage {
        groups: groups(&page, document),
        codes: codes(&page),
        page: &page,
    })
}

#[cfg(test)]
mod tests {
    use super::prose;

    #[test]
    fn descriptions_are_escaped_and_show_code_spans() {
        assert_eq!(
            prose("give `to` <b>&</b>"),
            "give <code class=\"ltr\">to</code> &lt;b&gt;&amp;&lt;/b&gt;"
        );
        assert_eq!(prose("a ` alone"), "a ` alone");
        assert_eq!(prose("`a` and `b"), "<code class=\"ltr\">a</code> and `b");
    }
}
