//! Contacts: the customers of the account's numbers as an address book. The list (search by the whole
//! number through its blind index, filter by tag, a page at a time), adding one by hand, importing a
//! CSV file (with a report naming every refused line) and exporting one; a contact's page to give a name
//! and tags, to opt the customer out of messages or back in, and (owners and admins) to erase them.

use super::context::Ctx;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};

mod files;
use crate::error::{Error, Result};
use crate::http::auth::{Admin, CsrfForm, Member};
use crate::http::pager::Pager;
use crate::services::contacts::{self as service, Actor, NewContact};
use crate::store::AccountId;
use crate::store::connections::{self, ConnectionId};
use crate::store::contacts::{self, Contact, Cursor, Filter};
use askama::Template;
use files::{export_contacts, import_contacts};
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![
        contacts_page,
        add_contact,
        import_contacts,
        export_contacts,
        contact_page,
        edit_contact,
        opt_out,
        opt_in,
        erase_contact
    ]
}

const PAGE_SIZE: usize = 50;

fn actor(ctx: &Ctx<'_>, member: &Member<'_>) -> Actor {
    (
        Some(member.user().id),
        ctx.client.ip.clone(),
        ctx.client.user_agent.clone(),
    )
}

/// `+<digits>` for a number, the id itself for a customer Meta names only by a username.
fn shown_phone(contact: &Contact) -> String {
    let phone = &contact.phone;
    if !phone.is_empty() && phone.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{phone}")
    } else {
        phone.clone()
    }
}

/// A query string's value, percent-encoded.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// What the list asks for.
#[derive(FromForm, Default, Debug)]
pub(crate) struct ListQuery {
    #[field(default = String::new())]
    q: String,
    #[field(default = String::new())]
    tag: String,
    cursor: Option<String>,
    done: Option<String>,
}

/// A contact in the list.
struct Row {
    id: i64,
    name: String,
    phone: String,
    tags: Vec<String>,
    number: String,
    last_message_at: Option<i64>,
    opted_out: bool,
}

/// What the add form held, given back with its mistake.
#[derive(Default)]
pub(super) struct AddValues {
    connection_id: String,
    number: String,
    name: String,
    tags: String,
}

/// An import's report, in words.
pub(super) struct ReportView {
    pub(super) counts: String,
    pub(super) refused: Vec<(usize, String)>,
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct ContactsPage<'a> {
    page: &'a Page,
    rows: Vec<Row>,
    next: Option<String>,
    q: &'a str,
    tag: &'a str,
    filtered: bool,
    search_error: Option<String>,
    tags: Vec<String>,
    numbers: Vec<(String, String)>,
    notice: Option<String>,
    add: AddValues,
    /// The add form's mistake: its field and words.
    add_error: Option<(String, String)>,
    import_error: Option<String>,
    report: Option<ReportView>,
}

/// What the list page shows besides its forms' outcomes.
pub(super) struct Outcome {
    pub(super) status: Status,
    add: AddValues,
    add_error: Option<(String, String)>,
    pub(super) import_error: Option<String>,
    pub(super) report: Option<ReportView>,
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome {
            status: Status::Ok,
            add: AddValues::default(),
            add_error: None,
            import_error: None,
            report: None,
        }
    }
}

pub(super) async fn list_page(
    ctx: &Ctx<'_>,
    account: AccountId,
    query: &ListQuery,
    outcome: Outcome,
) -> Result<Reply> {
    let (page, db) = (&ctx.page, ctx.db);
    let (q, tag) = (query.q.trim(), query.tag.trim());
    let mut search_error = None;
    let mut filter = Filter {
        tag: (!tag.is_empty()).then(|| tag.to_lowercase()),
        ..Filter::default()
    };
    if !q.is_empty() {
        match service::number(q) {
            Ok(digits) => filter.phone_index = Some(db.keyring().phone_index(account, &digits)?),
            Err(refusal) => search_error = Some(page.t(refusal.key()).to_owned()),
        }
    }
    let pager = Pager::lenient(query.cursor.as_deref(), PAGE_SIZE, Cursor::parse);
    let after = pager.after;
    let key_db = db.clone();
    let searchable = search_error.is_none();
    let (list, tags, numbers) = db
        .read_async(move |conn| {
            let list = if searchable {
                contacts::list(conn, key_db.keyring(), account, &filter, after, PAGE_SIZE)?
            } else {
                Vec::new()
            };
            let tags = contacts::tags_in_use(conn, account)?;
            let numbers: Vec<(String, String)> = connections::list_for_account(conn, account)?
                .into_iter()
                .map(|c| (c.id.get().to_string(), c.name))
                .collect();
            Ok((list, tags, numbers))
        })
        .await?;
    let next = pager
        .next_cursor(&list, |c| Some(Cursor::of(c).text()))
        .map(|cursor| {
            format!(
                "/contacts?q={}&tag={}&cursor={cursor}",
                encode(q),
                encode(tag)
            )
        });
    let rows = list
        .iter()
        .map(|c| Row {
            id: c.id,
            name: c.display_name().unwrap_or_default().to_owned(),
            phone: shown_phone(c),
            tags: c.tags.clone(),
            number: numbers
                .iter()
                .find(|(id, _)| *id == c.connection_id.get().to_string())
                .map(|(_, name)| name.clone())
                .unwrap_or_default(),
            last_message_at: c.last_message_at,
            opted_out: c.opted_out.is_some(),
        })
        .collect();
    let status = if search_error.is_some() {
        Status::UnprocessableEntity
    } else {
        outcome.status
    };
    Ok(Reply::Page((
        status,
        render(ContactsPage {
            page,
            rows,
            next,
            q,
            tag,
            filtered: !q.is_empty() || !tag.is_empty(),
            search_error,
            tags,
            numbers,
            notice: page.notice("contacts", query.done.as_deref()),
            add: outcome.add,
            add_error: outcome.add_error,
            import_error: outcome.import_error,
            report: outcome.report,
        })?,
    )))
}

#[get("/contacts?<query..>")]
async fn contacts_page(ctx: Ctx<'_>, member: Member<'_>, query: ListQuery) -> Result<Reply> {
    list_page(&ctx, member.account, &query, Outcome::default()).await
}

csrf_form!(AddForm {
    connection_id,
    number,
    name,
    tags
});

pub(super) fn connection_of(id: &str) -> Result<ConnectionId> {
    id.trim()
        .parse()
        .map(ConnectionId::from_raw)
        .map_err(|_| Error::invalid("connection_id", "contacts.refused.connection"))
}

#[post("/contacts", data = "<form>")]
async fn add_contact(form: CsrfForm<AddForm>, ctx: Ctx<'_>, member: Member<'_>) -> Result<Reply> {
    let form = form.0;
    let added = match connection_of(&form.connection_id) {
        Ok(connection) => {
            let new = NewContact {
                connection,
                number: &form.number,
                name: &form.name,
                tags: &form.tags,
            };
            service::add(ctx.db, member.account, actor(&ctx, &member), &new).await
        }
        Err(e) => Err(e),
    };
    match added {
        Ok(id) => Ok(Reply::Redirect(Redirect::to(format!(
            "/contacts/{id}?done=added"
        )))),
        Err(Error::Invalid { field, message }) => {
            let outcome = Outcome {
                status: Status::UnprocessableEntity,
                add_error: Some((field, ctx.page.t(&message).to_owned())),
                add: AddValues {
                    connection_id: form.connection_id,
                    number: form.number,
                    name: form.name,
                    tags: form.tags,
                },
                ..Outcome::default()
            };
            list_page(
                &ctx,
                member.account,
                &<ListQuery as Default>::default(),
                outcome,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage<'a> {
    page: &'a Page,
    contact: &'a Contact,
    title: String,
    phone: String,
    number: String,
    name: String,
    tags: String,
    opted_out: Option<String>,
    notice: Option<String>,
    /// The edit form's mistake: its field and words.
    error: Option<(String, String)>,
}

fn contact_id(id: &str) -> Result<i64> {
    id.parse().map_err(|_| Error::NotFound)
}

async fn show_contact(
    ctx: &Ctx<'_>,
    account: AccountId,
    id: i64,
    done: Option<&str>,
    edit: Option<(&EditForm, (String, String))>,
) -> Result<Reply> {
    let page = &ctx.page;
    let contact = service::find(ctx.db, account, id).await?;
    let connection = contact.connection_id;
    let number = ctx
        .db
        .read_async(move |conn| Ok(connections::find(conn, account, connection)?.map(|c| c.name)))
        .await?
        .unwrap_or_default();
    let phone = shown_phone(&contact);
    let opted_out = contact.opted_out.as_ref().map(|(at, by)| {
        let by = match by.as_str() {
            "keyword" => page.t("contacts.by_keyword"),
            _ => page.t("contacts.by_person"),
        };
        page.t("contacts.opted_out_since")
            .replace("{when}", &page.datetime(at))
            .replace("{by}", by)
    });
    let (name, tags, error, status) = match edit {
        Some((form, error)) => (
            form.name.clone(),
            form.tags.clone(),
            Some(error),
            Status::UnprocessableEntity,
        ),
        None => (
            contact.name.clone().unwrap_or_default(),
            contact.tags.join(" "),
            None,
            Status::Ok,
        ),
    };
    Ok(Reply::Page((
        status,
        render(ContactPage {
            page,
            title: contact
                .display_name()
                .map(str::to_owned)
                .unwrap_or_else(|| phone.clone()),
            contact: &contact,
            phone,
            number,
            name,
            tags,
            opted_out,
            notice: page.notice("contacts", done),
            error,
        })?,
    )))
}

#[get("/contacts/<id>?<done>")]
async fn contact_page(
    id: &str,
    done: Option<&str>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    show_contact(&ctx, member.account, contact_id(id)?, done, None).await
}

csrf_form!(EditForm { name, tags });

#[post("/contacts/<id>", data = "<form>")]
async fn edit_contact(
    id: &str,
    form: CsrfForm<EditForm>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Reply> {
    let id = contact_id(id)?;
    let form = form.0;
    let who = actor(&ctx, &member);
    match service::edit(ctx.db, member.account, who, id, (&form.name, &form.tags)).await {
        Ok(()) => Ok(Reply::Redirect(Redirect::to(format!(
            "/contacts/{id}?done=saved"
        )))),
        Err(Error::Invalid { field, message }) => {
            let error = (field, ctx.page.t(&message).to_owned());
            show_contact(&ctx, member.account, id, None, Some((&form, error))).await
        }
        Err(e) => Err(e),
    }
}

#[post("/contacts/<id>/opt-out", data = "<_form>")]
async fn opt_out(
    id: &str,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Redirect> {
    let id = contact_id(id)?;
    service::opt_out_by_hand(ctx.db, member.account, actor(&ctx, &member), id, true).await?;
    Ok(Redirect::to(format!("/contacts/{id}?done=opted_out")))
}

#[post("/contacts/<id>/opt-in", data = "<_form>")]
async fn opt_in(
    id: &str,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    member: Member<'_>,
) -> Result<Redirect> {
    let id = contact_id(id)?;
    service::opt_out_by_hand(ctx.db, member.account, actor(&ctx, &member), id, false).await?;
    Ok(Redirect::to(format!("/contacts/{id}?done=opted_in")))
}

/// Erases the contact's customer (owners and admins): every message to and from the number on all of
/// the account's numbers, and the contact (`store::erasure::erase_customer`).
#[post("/contacts/<id>/erase", data = "<_form>")]
async fn erase_contact(
    id: &str,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Redirect> {
    let who = (
        Some(admin.user().id),
        ctx.client.ip.clone(),
        ctx.client.user_agent.clone(),
    );
    service::erase_contact(ctx.db, admin.account, contact_id(id)?, who).await?;
    Ok(Redirect::to("/contacts?done=erased"))
}
