//! One way to do the things every module does: locks are parking_lot's (they do not poison, so no
//! `unwrap_or_else(|p| p.into_inner())`), and blocking work goes through `src/blocking.rs`. This test reads
//! `src/` and names the file and line of another way.

mod source_files;

use source_files::rust_files;
use std::path::Path;

/// The lines of `source` that use a second way, each with what it should use instead.
fn other_ways(file: &str, source: &str) -> Vec<String> {
    const RULES: &[(&str, &str)] = &[
        ("std::sync::Mutex", "parking_lot::Mutex"),
        ("std::sync::RwLock", "parking_lot::RwLock"),
        ("std::sync::Condvar", "parking_lot::Condvar"),
        ("sync::{Mutex", "parking_lot::Mutex"),
        (".into_inner())", "parking_lot locks, which do not poison"),
        ("spawn_blocking(", "blocking::run or blocking::detach"),
    ];
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for (pattern, instead) in RULES {
            if code.contains(pattern) && !(file == "blocking.rs" && *pattern == "spawn_blocking(") {
                found.push(format!("{file}:{}: {pattern} (use {instead})", n + 1));
            }
        }
    }
    found
}

#[test]
fn locks_and_blocking_work_have_one_way_each() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50);
    let found: Vec<String> = files
        .iter()
        .flat_map(|file| {
            let name = file.strip_prefix(&src).unwrap().display().to_string();
            other_ways(&name, &std::fs::read_to_string(file).unwrap())
        })
        .collect();
    assert!(found.is_empty(), "a second way:\n{}", found.join("\n"));
}

#[test]
fn the_check_finds_a_second_way() {
    let sample = "use std::sync::Mutex;\n\
                  let n = lock.lock().unwrap_or_else(|p| p.into_inner());\n\
                  rocket::tokio::task::spawn_blocking(move || work());\n\
                  // spawn_blocking( in a comment is fine\n";
    assert_eq!(other_ways("x.rs", sample).len(), 3);
    assert!(other_ways("blocking.rs", "spawn_blocking(work)").is_empty());
}
