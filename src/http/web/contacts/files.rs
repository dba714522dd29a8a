//! The Contacts page's files: a CSV import (a multipart upload, answered with the list and a report
//! naming every refused line) and the export, streamed as it is written.

use super::{ListQuery, Outcome, ReportView, actor, connection_of, list_page};
use crate::error::{Error, Result};
use crate::http::auth::{CsrfForm, HasCsrf, Member};
use crate::http::web::CsrfOnly;
use crate::http::web::Reply;
use crate::http::web::context::Ctx;
use crate::http::web::page::Page;
use crate::services::contacts::csv::{self, FileRefusal, Report};
use crate::store::now_ms;
use rocket::form::FromForm;
use rocket::fs::TempFile;
use rocket::http::{ContentType, Header, Status};
use rocket::post;
use rocket::request::Request;
use rocket::response::{self, Responder};

#[derive(FromForm)]
pub(crate) struct ImportForm<'r> {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    connection_id: String,
    file: Option<TempFile<'r>>,
}

impl HasCsrf for ImportForm<'_> {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The uploaded file's bytes, at most one more than an import takes (so a larger one is named so).
async fn read_upload(file: &TempFile<'_>) -> Result<Vec<u8>> {
    use rocket::tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let opened = file.open().await.map_err(|e| Error::Internal(e.into()))?;
    opened
        .take(csv::MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    Ok(bytes)
}

#[post("/contacts/import", data = "<form>")]
pub(super) async fn import_contacts(
    form: CsrfForm<ImportForm<'_>>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let form = form.0;
    let page = &ctx.page;
    let refused = |key: &str| Outcome {
        status: Status::UnprocessableEntity,
        import_error: Some(page.t(key).to_owned()),
        ..Outcome::default()
    };
    let query = <ListQuery as Default>::default();
    let Some(file) = form.file.as_ref().filter(|f| f.len() > 0) else {
        return list_page(
            &ctx,
            member.account,
            &query,
            refused("contacts.refused.file_missing"),
        )
        .await;
    };
    let connection = match connection_of(&form.connection_id) {
        Ok(connection) => connection,
        Err(_) => {
            return list_page(
                &ctx,
                member.account,
                &query,
                refused("contacts.refused.connection"),
            )
            .await;
        }
    };
    let bytes = read_upload(file).await?;
    let done = csv::import(
        ctx.db,
        member.account,
        actor(&ctx, &member),
        connection,
        bytes,
    )
    .await;
    let outcome = match done {
        Ok(Ok(report)) => Outcome {
            report: Some(report_view(page, &report)),
            ..Outcome::default()
        },
        Ok(Err(refusal)) => refused(file_key(refusal)),
        Err(Error::Invalid { message, .. }) => refused(&message),
        Err(e) => return Err(e),
    };
    list_page(&ctx, member.account, &query, outcome).await
}

fn file_key(refusal: FileRefusal) -> &'static str {
    refusal.key()
}

fn report_view(page: &Page, report: &Report) -> ReportView {
    ReportView {
        counts: page
            .t("contacts.report_counts")
            .replace("{added}", &page.number(&(report.added as i64)))
            .replace("{updated}", &page.number(&(report.updated as i64)))
            .replace("{refused}", &page.number(&(report.refused.len() as i64))),
        refused: report
            .refused
            .iter()
            .map(|r| {
                let words = match r.why {
                    csv::Why::Duplicate(line) => page
                        .t(r.why.key())
                        .replace("{line}", &page.number(&(line as i64))),
                    _ => page.t(r.why.key()).to_owned(),
                };
                (r.line, words)
            })
            .collect(),
    }
}

/// A CSV file streamed as it is written.
pub struct CsvDownload {
    name: String,
    chunks: rocket::tokio::sync::mpsc::Receiver<Vec<u8>>,
}

impl<'r> Responder<'r, 'r> for CsvDownload {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'r> {
        let stream = rocket::futures::stream::unfold(self.chunks, |mut chunks| async move {
            chunks.recv().await.map(|chunk| (chunk, chunks))
        });
        let mut response =
            rocket::response::stream::ByteStream::from(Box::pin(stream)).respond_to(req)?;
        response.set_header(ContentType::new("text", "csv").with_params(("charset", "utf-8")));
        response.set_header(Header::new("Cache-Control", "no-store"));
        response.set_header(Header::new(
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", self.name),
        ));
        Ok(response)
    }
}

#[post("/contacts/export", data = "<_form>")]
pub(super) async fn export_contacts(
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<CsvDownload> {
    let (db, account) = (ctx.db.clone(), member.account);
    csv::exported(ctx.db, account, actor(&ctx, &member)).await?;
    // Only digits and dashes: a name no browser or shell reads as anything but a file name.
    let day = chrono::DateTime::from_timestamp_millis(now_ms())
        .map(|at| at.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let name = format!("contacts-{day}.csv");
    let (tx, chunks) = rocket::tokio::sync::mpsc::channel(4);
    crate::blocking::detach(move || {
        let mut out = crate::store::export::ChannelWriter::new(tx);
        match csv::export(&db, account, &mut out) {
            Ok(rows) => tracing::info!(rows, "contacts exported"),
            Err(e) => tracing::error!(error = ?e, "the contacts export failed part-way"),
        }
    });
    Ok(CsvDownload { name, chunks })
}
