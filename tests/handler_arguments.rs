//! Route handlers take at most five arguments: what a handler needs beyond its path, query and body
//! comes from a guard that gathers it (a page's `Ctx`, the API's `ApiCtx`, the sandbox's `SandboxCall`).
//! This test reads every file under `src/http/`, finds each function with a Rocket route attribute
//! (`#[get(`, `#[post(`, `#[rocket::put(`, ...) and fails on one with more than five parameters, naming
//! the file, the line and the count. No `too_many_arguments` allowance is left anywhere in `src/`.

mod source_files;

use source_files::rust_files;
use std::path::Path;

const MAX_ARGUMENTS: usize = 5;

const ROUTE_ATTRIBUTES: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// The index just past the bracket that closes the one at `open` (`(`, `[` or `<` pairs are not
/// mixed up), skipping string literals; `None` if it never closes.
fn closing(source: &str, open: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The number of parameters in a parameter list (the text between a function's parentheses):
/// top-level commas, not those inside `<...>`, `(...)` or `[...]`, a trailing comma not counted.
fn count_parameters(list: &str) -> usize {
    let mut depth = 0i32;
    let mut count = 0;
    let mut current = String::new();
    let mut previous = ' ';
    for c in list.chars() {
        match c {
            '<' | '(' | '[' => depth += 1,
            // `->` in a `fn(...) -> T` type is not a closing angle bracket.
            '>' if previous != '-' => depth -= 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                if !current.trim().is_empty() {
                    count += 1;
                }
                current.clear();
                previous = c;
                continue;
            }
            _ => {}
        }
        current.push(c);
        previous = c;
    }
    if !current.trim().is_empty() {
        count += 1;
    }
    count
}

/// Every function with a route attribute in `source`: (line, name, parameter count).
fn handlers(source: &str) -> Vec<(usize, String, usize)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = source[from..].find("#[") {
        let start = from + at;
        from = start + 2;
        let inside = source[start + 2..].trim_start();
        let inside = inside.strip_prefix("rocket::").unwrap_or(inside);
        let is_route = ROUTE_ATTRIBUTES.iter().any(|name| {
            inside
                .strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with('('))
        });
        if !is_route {
            continue;
        }
        let Some(end) = closing(source, start + 1) else {
            continue;
        };
        // The attributed item: further attributes and doc comments may come first.
        let mut rest = end;
        loop {
            let text = source[rest..].trim_start();
            rest = source.len() - text.len();
            if text.starts_with("#[") {
                match closing(source, rest + 1) {
                    Some(after) => rest = after,
                    None => break,
                }
            } else if text.starts_with("//") {
                rest += text.find('\n').unwrap_or(text.len());
            } else {
                break;
            }
        }
        let item = &source[rest..];
        let Some(fn_at) = item.find("fn ") else {
            continue;
        };
        let Some(open) = item[fn_at..].find('(').map(|o| fn_at + o) else {
            continue;
        };
        let name = item[fn_at + 3..open].trim();
        let name = name.split('<').next().unwrap_or(name).trim().to_owned();
        let Some(close) = closing(item, open) else {
            continue;
        };
        let line = source[..start].matches('\n').count() + 1;
        found.push((line, name, count_parameters(&item[open + 1..close - 1])));
        from = rest;
    }
    found
}

#[test]
fn route_handlers_take_at_most_five_arguments() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/http"), &mut files);
    let mut seen = 0;
    let mut too_many = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        for (line, name, count) in handlers(&source) {
            seen += 1;
            if count > MAX_ARGUMENTS {
                too_many.push(format!(
                    "{}:{line}: {name} takes {count} arguments",
                    file.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    // The API, the pages, Meta's webhooks and the sandbox have well over a hundred routes between them.
    assert!(seen > 100, "found only {seen} route handlers");
    assert!(
        too_many.is_empty(),
        "route handlers take at most {MAX_ARGUMENTS} arguments (gather the rest in a guard):\n{}",
        too_many.join("\n")
    );
}

#[test]
fn no_too_many_arguments_allowance_is_left() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let allowance = ["too_many", "arguments"].join("_");
    let found: Vec<String> = files
        .iter()
        .filter(|file| {
            std::fs::read_to_string(file)
                .unwrap()
                .contains(allowance.as_str())
        })
        .map(|file| file.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(found.is_empty(), "{allowance} is allowed in {found:?}");
}

#[test]
fn the_reader_counts_the_parameters_of_routes_only() {
    let sample = r#"
/// A page.
#[get("/a/<id>?<q>")]
async fn six(id: &str, q: Option<&str>, db: &State<Db>, map: HashMap<String, (u8, u8)>,
    f: fn(u8, u8) -> u8, last: Json<Value>,) -> Status { todo!() }

#[rocket::post(
    "/b",
    format = "json",
    data = "<body>"
)]
#[allow(unused)]
// a comment between
fn two<'r>(body: Json<Value>, ctx: Ctx<'r>) -> Status { todo!() }

#[utoipa::path(get, path = "/c")]
#[delete("/c")]
fn none() {}

#[derive(Debug)]
struct NotARoute;

fn helper(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8) {}
"#;
    let found = handlers(sample);
    assert_eq!(
        found,
        vec![
            (3, "six".to_owned(), 6),
            (7, "two".to_owned(), 2),
            (17, "none".to_owned(), 0),
        ]
    );
    assert_eq!(count_parameters(""), 0);
    assert_eq!(count_parameters("a: Result<(A, B), [u8; 2]>, b: u8"), 2);
}
