//! `/usage.csv`: the Usage page's table as a file, for spreadsheets: a header row, one row per row of
//! the report and the totals, numbers in ASCII digits. A text a person chose (a number's name) that a
//! spreadsheet would read as a formula is written as text.

use super::{Asked, names};
use crate::error::Result;
use crate::http::auth::Member;
use crate::http::web::context::Ctx;
use crate::services::usage::{self, GroupBy, UsageRow};
use crate::store::now_ms;
use rocket::get;
use rocket::http::{ContentType, Header};

#[derive(rocket::Responder)]
pub(super) struct CsvFile {
    body: (ContentType, String),
    disposition: Header<'static>,
}

#[get("/usage.csv?<asked..>")]
pub(super) async fn usage_csv(ctx: Ctx<'_>, member: Member<'_>, asked: Asked) -> Result<CsvFile> {
    let range = asked.check(now_ms()).map_err(|refusal| refusal.error())?;
    let report =
        usage::report(ctx.db, member.account, range.from, range.to, range.group_by).await?;
    let names = names(ctx.db, member.account, range.group_by).await?;
    let named = range.group_by == GroupBy::Connection;
    let mut out = String::new();
    let mut header = vec![super::group_name(range.group_by)];
    if named {
        header.push("name");
    }
    header.extend([
        "accepted",
        "sent",
        "delivered",
        "read",
        "failed",
        "inbound",
        "api_calls",
    ]);
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in report.rows.iter().chain([&report.totals]) {
        let name = names.get(&row.key).map_or("", String::as_str);
        write_row(&mut out, row, named.then_some(name));
    }
    Ok(CsvFile {
        body: (
            ContentType::new("text", "csv").with_params(("charset", "utf-8")),
            out,
        ),
        disposition: Header::new(
            "Content-Disposition",
            format!(
                "attachment; filename=\"usage-{}-{}.csv\"",
                range.from, range.to
            ),
        ),
    })
}

fn write_row(out: &mut String, row: &UsageRow, name: Option<&str>) {
    let mut cells = vec![field(&row.key)];
    if let Some(name) = name {
        cells.push(field(name));
    }
    cells.extend(
        [
            row.accepted,
            row.sent,
            row.delivered,
            row.read,
            row.failed,
            row.inbound,
            row.api_calls,
        ]
        .map(|n| n.to_string()),
    );
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// A text cell: quoted when it holds a comma, a quote or a line break; prefixed with `'` when it starts
/// like a formula (`=`, `+`, `-`, `@`, a tab or a carriage return).
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn formulas_are_written_as_text_and_separators_are_quoted() {
        assert_eq!(field("Sales"), "Sales");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-2"), "'-2");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("2026-12-01"), "2026-12-01");
    }
}
