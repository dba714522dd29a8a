//! Contacts in and out as CSV: an import reads a header row (`number`, `name`, `tags`, in any order;
//! other columns are left alone, so an export reads back) and then one contact a line, each checked as a
//! person's typing is, and answers with the counts and every refused line with its number and why; an
//! export writes every contact, guarded against spreadsheet formulas.

use super::{Actor, Refusal, name, number, record, tags};
use crate::error::{Error, Result};
use crate::store::connections::{self, ConnectionId};
use crate::store::contacts::{self, Contact, Entry};
use crate::store::{AccountId, Db, now_ms};
use std::collections::HashMap;
use std::io::Write;

/// The largest file an import takes.
pub const MAX_BYTES: usize = 1024 * 1024;
/// The most lines (after the header) one import takes; a longer file is refused whole.
pub const MAX_ROWS: usize = 5_000;

/// Why a line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Refusal(Refusal),
    /// The line has no number.
    NoNumber,
    /// The number is on an earlier line (that line's number).
    Duplicate(usize),
}

impl Why {
    /// The words' key in the catalogs; `{line}` in them is the earlier line of a duplicate.
    pub fn key(&self) -> &'static str {
        match self {
            Why::Refusal(refusal) => refusal.key(),
            Why::NoNumber => "contacts.refused.no_number",
            Why::Duplicate(_) => "contacts.refused.duplicate",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The line of the file (the header is line 1).
    pub line: usize,
    pub why: Why,
}

/// Why a whole file was refused: the words' key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRefusal {
    TooLarge,
    /// More than `MAX_ROWS` lines after the header: refused whole, so the report stays bounded too.
    TooManyRows,
    NotText,
    NoNumberColumn,
}

impl FileRefusal {
    pub fn key(self) -> &'static str {
        match self {
            FileRefusal::TooLarge => "contacts.refused.file_too_large",
            FileRefusal::TooManyRows => "contacts.refused.too_many_rows",
            FileRefusal::NotText => "contacts.refused.file_not_text",
            FileRefusal::NoNumberColumn => "contacts.refused.file_no_number_column",
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub added: usize,
    pub updated: usize,
    pub refused: Vec<Refused>,
}

/// A contact read from a line, checked.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    digits: String,
    name: Option<String>,
    tags: Option<Vec<String>>,
}

/// A cell as written: a leading `'` that guarded a formula character is taken off again.
fn unguard(cell: &str) -> &str {
    let cell = cell.trim();
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// A cell to write: one a spreadsheet would read as a formula (`= + - @`, a tab or carriage return
/// first) is prefixed with `'`; quoted when it holds the delimiter, a quote or a line break.
pub fn cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// The records of a CSV text (RFC 4180: quoted fields, `""` for a quote, CRLF or LF), each with the line
/// it starts on; blank lines are skipped. The delimiter is the header's: a comma, else a semicolon or a
/// tab (as spreadsheets in many languages save).
fn records(text: &str) -> Vec<(usize, Vec<String>)> {
    let first = text.lines().next().unwrap_or_default();
    let delimiter = if first.contains(',') {
        ','
    } else if first.contains(';') {
        ';'
    } else if first.contains('\t') {
        '\t'
    } else {
        ','
    };
    let mut out = Vec::new();
    let (mut line, mut start) = (1, 1);
    let (mut field, mut record) = (String::new(), Vec::new());
    let (mut quoted, mut fresh) = (false, true);
    let mut chars = text.chars().peekable();
    let mut end = |record: &mut Vec<String>, field: &mut String, start: usize| {
        record.push(std::mem::take(field));
        let blank = record.len() == 1 && record[0].trim().is_empty();
        let done = std::mem::take(record);
        if !blank {
            out.push((start, done));
        }
    };
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if fresh => {
                quoted = true;
                fresh = false;
            }
            c if c == delimiter => {
                record.push(std::mem::take(&mut field));
                fresh = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                end(&mut record, &mut field, start);
                line += 1;
                start = line;
                fresh = true;
            }
            c => {
                field.push(c);
                fresh = false;
            }
        }
    }
    if !field.is_empty() || !record.is_empty() {
        end(&mut record, &mut field, start);
    }
    out
}

/// Where the columns are: number, name and tags, by their header (English or Arabic, case aside).
struct Columns {
    number: usize,
    name: Option<usize>,
    tags: Option<usize>,
}

fn columns(header: &[String]) -> Option<Columns> {
    let find = |names: &[&str]| {
        header.iter().position(|h| {
            let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
            names.contains(&h.as_str())
        })
    };
    Some(Columns {
        number: find(&["number", "phone", "الرقم", "رقم"])?,
        name: find(&["name", "الاسم", "اسم"]),
        tags: find(&["tags", "الوسوم", "وسوم"]),
    })
}

/// A file read: the checked rows with their lines, and the refused lines.
type Read = (Vec<(usize, Row)>, Vec<Refused>);

/// Reads a file into checked rows and refused lines (CPU only).
fn read(bytes: &[u8]) -> std::result::Result<Read, FileRefusal> {
    if bytes.len() > MAX_BYTES {
        return Err(FileRefusal::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| FileRefusal::NotText)?;
    let text = text.trim_start_matches('\u{feff}');
    let mut records = records(text).into_iter();
    let (_, header) = records.next().ok_or(FileRefusal::NoNumberColumn)?;
    let at = columns(&header).ok_or(FileRefusal::NoNumberColumn)?;
    if records.len() > MAX_ROWS {
        return Err(FileRefusal::TooManyRows);
    }
    let (mut rows, mut refused) = (Vec::new(), Vec::new());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, record) in records {
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).map(|c| unguard(c));
        let refuse = |why| Refused { line, why };
        let typed = get(Some(at.number)).unwrap_or_default();
        if typed.is_empty() {
            refused.push(refuse(Why::NoNumber));
            continue;
        }
        let checked = (|| {
            let digits = number(typed)?;
            let name = get(at.name)
                .map(name)
                .transpose()?
                .filter(|n| !n.is_empty());
            let tags = get(at.tags)
                .filter(|t| !t.is_empty())
                .map(tags)
                .transpose()?;
            Ok::<_, Refusal>(Row { digits, name, tags })
        })();
        match checked {
            Err(refusal) => refused.push(refuse(Why::Refusal(refusal))),
            Ok(row) => match seen.get(&row.digits) {
                Some(first) => refused.push(refuse(Why::Duplicate(*first))),
                None => {
                    seen.insert(row.digits.clone(), line);
                    rows.push((line, row));
                }
            },
        }
    }
    Ok((rows, refused))
}

/// Imports a file of contacts onto one of the account's numbers: every good line adds a contact or
/// updates the one there (a name or tags left empty keep what it has), all in one transaction; the
/// report names every refused line. A file refused as a whole changes nothing.
pub async fn import(
    db: &Db,
    account: AccountId,
    actor: Actor,
    connection: ConnectionId,
    bytes: Vec<u8>,
) -> Result<std::result::Result<Report, FileRefusal>> {
    let key_db = db.clone();
    let read = crate::blocking::run("contacts import", move || {
        let (rows, refused) = match read(&bytes) {
            Ok(read) => read,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let keyring = key_db.keyring();
        let indexed = rows
            .into_iter()
            .map(|(_, row)| Ok((keyring.phone_index(account, &row.digits)?, row)))
            .collect::<Result<Vec<_>>>()?;
        Ok::<_, Error>(Ok((indexed, refused)))
    })
    .await??;
    let (rows, refused) = match read {
        Ok(read) => read,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let write_db = db.clone();
    let report = db
        .write_async(move |conn| {
            connections::find(conn, account, connection)?
                .ok_or_else(|| Error::invalid("connection_id", "contacts.refused.connection"))?;
            let mut report = Report {
                refused,
                ..Report::default()
            };
            let now = now_ms();
            for (index, row) in &rows {
                let entry = Entry {
                    connection,
                    digits: &row.digits,
                    index,
                    name: row.name.as_deref(),
                    tags: row.tags.as_deref(),
                };
                match contacts::save(conn, write_db.keyring(), account, &entry, now)? {
                    (_, true) => report.added += 1,
                    (_, false) => report.updated += 1,
                }
            }
            let detail = format!(
                "{} added, {} updated, {} refused",
                report.added,
                report.updated,
                report.refused.len()
            );
            record(conn, account, &actor, "contacts_imported", &detail)?;
            Ok(report)
        })
        .await?;
    Ok(Ok(report))
}

/// Records in the activity log that a person exported the contacts (before the file goes).
pub async fn exported(db: &Db, account: AccountId, actor: Actor) -> Result<()> {
    db.write_async(move |conn| record(conn, account, &actor, "contacts_exported", ""))
        .await
}

/// The header an export writes.
pub const HEADER: &str = "number,name,tags,opted_out,last_message,whatsapp_name";

/// "2026-12-08T09:30:00Z", for a file.
fn utc(at_ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One contact as a line of the export.
pub fn line(contact: &Contact) -> String {
    let number = if contact.phone.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{}", contact.phone)
    } else {
        contact.phone.clone()
    };
    [
        cell(&number),
        cell(contact.name.as_deref().unwrap_or_default()),
        cell(&contact.tags.join(";")),
        contact
            .opted_out
            .as_ref()
            .map(|(at, _)| utc(*at))
            .unwrap_or_default(),
        contact.last_message_at.map(utc).unwrap_or_default(),
        cell(contact.profile_name.as_deref().unwrap_or_default()),
    ]
    .join(",")
}

/// Writes every contact of the account as CSV (UTF-8 with a byte-order mark, so spreadsheets read Arabic
/// right), reading a batch at a time; how many it wrote. Blocking.
pub fn export(db: &Db, account: AccountId, out: &mut dyn Write) -> Result<u64> {
    let io = |e: std::io::Error| Error::Internal(e.into());
    out.write_all(format!("\u{feff}{HEADER}\r\n").as_bytes())
        .map_err(io)?;
    let (mut after, mut written) = (0, 0);
    loop {
        let batch = db.read(|conn| contacts::batch(conn, db.keyring(), account, after, 500))?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for contact in &batch {
            out.write_all(format!("{}\r\n", line(contact)).as_bytes())
                .map_err(io)?;
            written += 1;
        }
    }
    out.flush().map_err(io)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_rfc_4180() {
        let text =
            "number,name\r\n+96550001234,\"Ali, \"\"the\"\" trader\"\n\n\"+9655\n0001235\",Sara";
        let read = records(text);
        assert_eq!(read.len(), 3);
        assert_eq!(
            read[1],
            (2, vec!["+96550001234".into(), "Ali, \"the\" trader".into()])
        );
        assert_eq!(read[2], (4, vec!["+9655\n0001235".into(), "Sara".into()]));
        let semicolons = records("number;name\n+96550001234;Ali");
        assert_eq!(semicolons[1].1, ["+96550001234", "Ali"]);
    }

    #[test]
    fn formulas_are_guarded_and_read_back() {
        for text in [
            "=cmd|'/c calc'!A1",
            "+96550001234",
            "-1",
            "@SUM(A1)",
            "Sara",
            "a,b",
        ] {
            let written = cell(text);
            if text.starts_with(['=', '+', '-', '@']) {
                assert!(
                    written.starts_with("'") || written.starts_with("\"'"),
                    "{written}"
                );
            }
            let read = records(&format!("x\n{written}"));
            assert_eq!(unguard(&read[1].1[0]), text);
        }
    }

    #[test]
    fn a_file_of_more_lines_than_one_import_takes_is_refused_whole() {
        let lines = |n: usize| format!("number\n{}", "x\n".repeat(n));
        // At the limit every line is read (and, here, refused one by one)...
        assert_eq!(read(lines(MAX_ROWS).as_bytes()).unwrap().1.len(), MAX_ROWS);
        // ... one more and the file is refused, so a report never grows past the limit.
        assert_eq!(
            read(lines(MAX_ROWS + 1).as_bytes()).err(),
            Some(FileRefusal::TooManyRows)
        );
    }

    #[test]
    fn every_refused_line_is_named_with_why() {
        let file = "Name,Number,Tags\nAli,+96550001234,vip\nBad,hello,\nDup,96550001234,\nNone,,\nTags,+96550001235,a;b;c;d;e;f;g;h;i;j;k\nSara,+96550001236,";
        let (rows, refused) = read(file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        let lines: Vec<(usize, &str)> = refused.iter().map(|r| (r.line, r.why.key())).collect();
        assert_eq!(
            lines,
            [
                (3, "contacts.refused.number_unreadable"),
                (4, "contacts.refused.duplicate"),
                (5, "contacts.refused.no_number"),
                (6, "contacts.refused.too_many_tags"),
            ]
        );
        assert_eq!(refused[1].why, Why::Duplicate(2));
        assert_eq!(read(b"name\nAli"), Err(FileRefusal::NoNumberColumn));
        assert_eq!(read(&[0xff, 0xfe, 0x00]), Err(FileRefusal::NotText));
    }
}
