//! The crate's imports point one way: HTTP adapters and jobs → services → outbound clients → store →
//! domain types → foundation. This test reads every `crate::` path in `src/` (in `use` lines and
//! written inline) and fails on one that points the wrong way, naming the file, the line and the rule.
//! ARCHITECTURE.md describes the layers; the table below is where they are defined.

mod source_files;

use source_files::rust_files;
use std::collections::BTreeMap;
use std::path::Path;

/// The layers, lowest first. A module belongs to the layer of the longest prefix below that names it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Layer {
    /// No knowledge of tenants' data or of any other layer: errors, encryption, configuration.
    Foundation,
    /// Plain types and rules, no I/O: Meta's contract, ids, states, languages.
    Domain,
    /// The SQLite store: the only place that seals and opens fields.
    Store,
    /// Calls that leave the process: Meta's Graph API, customers' webhooks, mail, the sandbox's simulator.
    Outbound,
    /// What the product does, called by every adapter and job.
    Services,
    /// Background threads.
    Jobs,
    /// Rocket's routes, request guards and pages.
    Http,
    /// The command line and the server's assembly.
    Top,
}

use Layer::*;

const LAYERS: &[(&str, Layer)] = &[
    ("error", Foundation),
    ("crypto", Foundation),
    ("blocking", Foundation),
    ("config", Foundation),
    ("logging", Foundation),
    ("metrics", Foundation),
    ("server_limits", Foundation),
    ("signals", Foundation),
    ("systemd", Foundation),
    ("mutation", Foundation),
    ("outbound::ssrf", Foundation),
    ("domain", Domain),
    ("store", Store),
    ("outbound", Outbound),
    ("services", Services),
    ("jobs", Jobs),
    ("http", Http),
    ("cli", Top),
    ("startup", Top),
    ("lib", Top),
];

/// What each layer may import besides itself and the layers below it.
fn may_import(from: Layer, to: Layer) -> bool {
    match (from, to) {
        // HTTP adapters and jobs are both drivers: neither knows the other. What both need is a service.
        (Http, Jobs) | (Jobs, Http) => false,
        _ => to <= from,
    }
}

fn layer_of(module: &str) -> Option<Layer> {
    LAYERS
        .iter()
        .filter(|(prefix, _)| {
            module == *prefix
                || (module.starts_with(prefix) && module[prefix.len()..].starts_with("::"))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, layer)| *layer)
}

/// `src/store/messages.rs` → `store::messages`; `src/lib.rs` → `lib`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.len() > 1 && parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// Every module path a piece of source names through `crate::`, with its line number. `use` trees
/// with braces are expanded (`use crate::store::{Db, messages::{self, X}}` names `store::Db`,
/// `store::messages`, `store::messages::X`).
fn crate_paths(source: &str) -> Vec<(usize, String)> {
    let without_comments: String = source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = without_comments.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = without_comments[at..].find("crate::") {
        let start = at + offset;
        at = start + "crate::".len();
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue; // `whatsapi_crate::` or the like
        }
        let line = without_comments[..start].matches('\n').count() + 1;
        let tree = path_tree(&without_comments[at..]);
        for path in expand(&tree) {
            found.push((line, path));
        }
    }
    found
}

/// The path (and its brace tree, if any) that starts at the beginning of `rest`.
fn path_tree(rest: &str) -> String {
    let mut depth = 0;
    let mut end = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            c if depth > 0 && (c.is_whitespace() || c == ',') => {}
            c if c.is_alphanumeric() || c == '_' || c == ':' || c == '*' => {}
            _ if depth > 0 => {}
            _ => break,
        }
        end = i + c.len_utf8();
        if depth == 0 && c == '}' {
            break;
        }
    }
    rest[..end].split_whitespace().collect::<Vec<_>>().join("")
}

fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        let path = tree.trim_end_matches("::").trim_end_matches("::self");
        let module: Vec<&str> = path
            .split("::")
            .take_while(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_lowercase() || c == '_')
            })
            .collect();
        return vec![module.join("::")];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            let p = p.split(" as ").next().unwrap();
            if p == "self" {
                expand(prefix)
            } else if prefix.is_empty() {
                expand(p) // `use crate::{http::web, store::Db}`
            } else {
                expand(&format!("{prefix}::{p}"))
            }
        })
        .collect()
}

#[test]
fn imports_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 50, "src/ should hold the crate's files");

    let mut wrong = Vec::new();
    let mut unplaced = Vec::new();
    let mut edges: BTreeMap<(Layer, Layer), usize> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "main" || module.starts_with("bin::") {
            continue; // the executable is the crate's user, not part of it
        }
        let Some(from) = layer_of(&module) else {
            unplaced.push(module);
            continue;
        };
        let source = std::fs::read_to_string(file).unwrap();
        for (line, path) in crate_paths(&source) {
            if path.is_empty() {
                continue;
            }
            let Some(to) = layer_of(&path) else {
                unplaced.push(format!("{path} (named in {module})"));
                continue;
            };
            *edges.entry((from, to)).or_default() += 1;
            if !may_import(from, to) {
                wrong.push(format!(
                    "{}:{line}: {module} ({from:?}) uses crate::{path} ({to:?})",
                    file.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules in no layer (add them to LAYERS in tests/layers.rs and to ARCHITECTURE.md):\n{}",
        unplaced.join("\n")
    );
    assert!(
        wrong.is_empty(),
        "{} imports point the wrong way:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The check sees the imports it is meant to judge (a parser that found nothing would pass).
    assert!(edges.contains_key(&(Http, Services)) && edges.contains_key(&(Store, Foundation)));
}

#[test]
fn the_parser_reads_use_trees_and_inline_paths() {
    let source = "use crate::store::{Db, messages::{self, Status}};\n\
                  use crate::{http::web, services::Waker};\n\
                  // crate::http::ignored\n\
                  fn f() { crate::jobs::sender::wake(); let _ = \"crate::x\"; }\n";
    let paths: Vec<String> = crate_paths(source).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        paths,
        [
            "store",
            "store::messages",
            "store::messages",
            "http::web",
            "services",
            "jobs::sender::wake",
            "x"
        ]
    );
    assert_eq!(layer_of("store::messages"), Some(Store));
    assert_eq!(layer_of("outbound::ssrf::check"), Some(Foundation));
    assert_eq!(layer_of("storefront"), None);
    assert!(!may_import(Store, Jobs) && !may_import(Jobs, Http) && may_import(Http, Services));
}

/// What only the store may write: the account's data key, sealing with it, and where a sealed field lies.
const SEALING: &[&str] = &[
    "data_key(",
    ".seal(&",
    "body_place",
    "recipient_place",
    "keyring().data_key",
];

/// The uses of [`SEALING`] in a piece of source, with their line numbers, comments left out. A name is
/// matched whole: `has_data_key(` is not `data_key(`.
fn sealing_uses(source: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        for &word in SEALING {
            let whole = code.match_indices(word).any(|(at, _)| {
                let starts_a_name = word.starts_with(|c: char| c.is_ascii_alphanumeric());
                let before = code[..at].chars().next_back();
                !starts_a_name || !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if whole {
                found.push((n + 1, word));
            }
        }
    }
    found
}

#[test]
fn fields_are_sealed_and_opened_only_in_the_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut outside = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        if relative.starts_with("store") || relative == Path::new("crypto.rs") {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        for (line, word) in sealing_uses(&source) {
            outside.push(format!(
                "src/{}:{line}: `{word}` (sealing and opening belong in src/store/)",
                relative.display()
            ));
        }
    }
    assert!(
        outside.is_empty(),
        "{} uses of the encryption layout outside the store:\n{}",
        outside.len(),
        outside.join("\n")
    );
}

#[test]
fn the_sealing_check_finds_keys_and_places() {
    let source = "fn f(db: &Db) {\n\
                  let key = db.keyring().data_key(account)?;\n\
                  let sealed = key.seal(&messages::body_place(account, id), &body)?;\n\
                  // key.seal(&x) in a comment\n\
                  let kept = db.keyring().has_data_key(account)?;\n\
                  }\n";
    assert_eq!(
        sealing_uses(source),
        [
            (2, "data_key("),
            (2, "keyring().data_key"),
            (3, ".seal(&"),
            (3, "body_place"),
        ]
    );
    assert!(sealing_uses("let to = messages::open_recipient(db.keyring(), &m)?;").is_empty());
}

/// Whether a path that `crate_paths` found names the developer API's modules.
fn names_the_api(path: &str) -> bool {
    path == "http::api" || path.starts_with("http::api::")
}

/// The pages call the services, as the API does; they do not use the API's handlers, requests or
/// answers as their service layer (what both need lives in `src/services/`, and the shared pager in
/// `src/http/pager.rs`).
#[test]
fn the_pages_do_not_import_the_api() {
    let sample = "use crate::http::api::{conversations, requests::SendMessage};\n\
                  use crate::http::pager::Pager;\n\
                  fn f() { crate::http::api::contacts::erase(); crate::services::contacts::erase(); }\n";
    let named: Vec<(usize, String)> = crate_paths(sample)
        .into_iter()
        .filter(|(_, path)| names_the_api(path))
        .collect();
    assert_eq!(
        named,
        [
            (1, "http::api::conversations".to_owned()),
            (1, "http::api::requests".to_owned()),
            (3, "http::api::contacts::erase".to_owned()),
        ],
        "the check must see the API named in a use tree and inline"
    );
    assert!(!names_the_api("http::apis") && !names_the_api("http::pager"));

    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let web = src.join("http").join("web");
    let mut files = Vec::new();
    rust_files(&web, &mut files);
    files.sort();
    assert!(files.len() > 10, "src/http/web/ should hold the pages");
    let mut found = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        for (line, path) in crate_paths(&source) {
            if names_the_api(&path) {
                found.push(format!(
                    "src/{}:{line}: crate::{path} (call a service in src/services/ instead)",
                    file.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} uses of the API's modules in the pages:\n{}",
        found.len(),
        found.join("\n")
    );
}
