//! The Templates page (`/templates`): each number's templates as Meta last reported them (status, the
//! reason of a rejection, category, language), each previewed as a WhatsApp bubble; a sync from Meta; a
//! new template submitted for review through Meta's template API, each mistake named next to its
//! field; deleting one. Review results arrive by Meta's webhook (`services::meta_events`) and show on
//! the next load (templates.js reloads the page while a template is pending).

pub mod bubble;

use super::field_errors::FieldErrors;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::error::{Error, Result};
use crate::http::auth::{CsrfForm, HasCsrf, Member};
use crate::services::templates::draft::{
    BUTTON_KINDS, ButtonDraft, CATEGORIES, HEADERS, LANGUAGES, TemplateDraft, numbered_variables,
};
use crate::services::templates::{self as service, Refused};
use crate::store::connections::{self, ConnectionId};
use crate::store::{AccountId, Db, templates};
use askama::Template;
use bubble::Bubble;
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![
        show_templates,
        create_template,
        sync_templates,
        delete_template
    ]
}

/// How many buttons the form offers (Meta allows up to 10; three cover quick replies, a link and a call).
const BUTTON_SLOTS: usize = 3;

#[derive(FromForm, Default, Clone)]
pub(crate) struct TemplateForm {
    #[field(default = String::new())]
    csrf: String,
    #[field(default = String::new())]
    connection_id: String,
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    category: String,
    #[field(default = String::new())]
    language: String,
    #[field(default = String::from("none"))]
    header: String,
    #[field(default = String::new())]
    header_text: String,
    #[field(default = String::new())]
    header_example: String,
    #[field(default = String::new())]
    body: String,
    #[field(default = Vec::new())]
    body_examples: Vec<String>,
    #[field(default = String::new())]
    footer: String,
    #[field(default = Vec::new())]
    button_kind: Vec<String>,
    #[field(default = Vec::new())]
    button_text: Vec<String>,
    #[field(default = Vec::new())]
    button_value: Vec<String>,
}

impl HasCsrf for TemplateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl TemplateForm {
    fn draft(&self) -> TemplateDraft {
        let buttons = (0..self.button_kind.len())
            .map(|i| ButtonDraft {
                kind: self.button_kind[i].clone(),
                text: self.button_text.get(i).cloned().unwrap_or_default(),
                value: self.button_value.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        TemplateDraft {
            name: self.name.clone(),
            category: self.category.clone(),
            language: self.language.clone(),
            header: self.header.clone(),
            header_text: self.header_text.clone(),
            header_example: self.header_example.clone(),
            body: self.body.clone(),
            body_examples: self.body_examples.clone(),
            footer: self.footer.clone(),
            buttons,
        }
    }

    /// The button slots as the form shows them: (kind, text, value).
    fn slots(&self) -> Vec<(String, String, String)> {
        (0..BUTTON_SLOTS)
            .map(|i| {
                (
                    self.button_kind
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| "none".into()),
                    self.button_text.get(i).cloned().unwrap_or_default(),
                    self.button_value.get(i).cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// One example field per variable of the body (as typed so far; at least those already filled).
    fn examples(&self) -> Vec<String> {
        let wanted = numbered_variables(self.body.trim()).map_or(0, |v| v.len());
        (0..wanted.max(self.body_examples.iter().filter(|e| !e.is_empty()).count()))
            .map(|i| self.body_examples.get(i).cloned().unwrap_or_default())
            .collect()
    }
}

/// A template as the page shows it.
pub struct TemplateView {
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    /// The reason of a rejection in words (Meta's code translated, and Meta's advice as it gave it).
    pub reason: Option<(String, String)>,
    pub bubble: Bubble,
}

impl TemplateView {
    pub fn status_class(&self) -> &'static str {
        match self.status.as_str() {
            "APPROVED" => "success",
            "PENDING" | "IN_APPEAL" | "PENDING_DELETION" => "warning",
            "REJECTED" | "DISABLED" | "PAUSED" => "danger",
            _ => "neutral",
        }
    }
}

pub struct NumberView {
    pub id: String,
    pub name: String,
    pub templates: Vec<TemplateView>,
}

#[derive(Template)]
#[template(path = "templates.html")]
struct TemplatesPage<'a> {
    page: &'a Page,
    numbers: Vec<NumberView>,
    form: &'a TemplateForm,
    /// Field and words of each mistake.
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<String>,
    /// Whether a template is waiting for Meta's review (templates.js reloads the page meanwhile).
    pending: bool,
}

impl TemplatesPage<'_> {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors.words(field)
    }

    fn described(&self, field: &str, hint: bool) -> String {
        self.errors.attrs(field, hint)
    }

    /// The attributes of an example's field: marked refused only when the examples were and it is empty.
    fn example_attrs(&self, value: &str) -> String {
        if value.trim().is_empty() {
            self.described("body_examples", true)
        } else {
            " aria-describedby=\"t-body-examples-hint\"".to_owned()
        }
    }

    /// `{{n}}`, as a variable is written.
    fn var_label(&self, n: &usize) -> String {
        format!("{{{{{n}}}}}")
    }

    /// The field name of the `n`th button (1-based) in errors.
    fn button_field(&self, n: &usize) -> String {
        format!("button_{n}")
    }

    fn languages(&self) -> Vec<(&'static str, String)> {
        language_names(self.page)
    }

    fn categories(&self) -> &'static [&'static str] {
        &CATEGORIES
    }

    fn headers(&self) -> &'static [&'static str] {
        &HEADERS
    }

    fn button_kinds(&self) -> &'static [&'static str] {
        &BUTTON_KINDS
    }
}

/// Meta's template languages with their names in the page's language, in alphabetical order.
pub fn language_names(page: &Page) -> Vec<(&'static str, String)> {
    let mut all: Vec<(&'static str, String)> = LANGUAGES
        .iter()
        .map(|code| (*code, page.term("templates.languages", code)))
        .collect();
    all.sort_by(|a, b| a.1.cmp(&b.1));
    all
}

/// The reason of a rejection in words: Meta's code (`INVALID_FORMAT`) translated, and what follows
/// `: ` as Meta wrote it.
fn reason_words(page: &Page, reason: &str) -> Option<(String, String)> {
    if reason.is_empty() {
        return None;
    }
    let (code, advice) = reason.split_once(": ").unwrap_or((reason, ""));
    Some((page.term("templates.reasons", code), advice.to_owned()))
}

/// Every number of the account with its templates.
pub async fn numbers(page: &Page, db: &Db, account: AccountId) -> Result<Vec<NumberView>> {
    let (numbers, all) = db
        .read_async(move |conn| {
            Ok((
                connections::list_for_account(conn, account)?,
                templates::list_for_account(conn, account)?,
            ))
        })
        .await?;
    Ok(numbers
        .into_iter()
        .map(|number| {
            let id = number.id.get().to_string();
            let templates = all
                .iter()
                .filter(|t| t.connection_id == id)
                .map(|t| TemplateView {
                    name: t.name.clone(),
                    language: t.language.clone(),
                    category: t.category.clone(),
                    status: t.status.clone(),
                    reason: reason_words(page, &t.reason),
                    bubble: Bubble::of(&t.components, &[], &[]),
                })
                .collect();
            NumberView {
                id,
                name: number.name,
                templates,
            }
        })
        .collect())
}

async fn show(
    page: &Page,
    db: &Db,
    account: AccountId,
    form: &TemplateForm,
    errors: Vec<(String, String)>,
    error: Option<String>,
) -> Result<Reply> {
    let numbers = numbers(page, db, account).await?;
    let pending = numbers
        .iter()
        .flat_map(|n| &n.templates)
        .any(|t| t.status == "PENDING");
    let status = if error.is_some() || !errors.is_empty() {
        Status::UnprocessableEntity
    } else {
        Status::Ok
    };
    Ok(Reply::Page((
        status,
        render(TemplatesPage {
            page,
            numbers,
            form,
            errors: FieldErrors::new("t-", errors),
            error,
            notice: None,
            pending,
        })?,
    )))
}

fn new_form(page: &Page) -> TemplateForm {
    TemplateForm {
        category: "UTILITY".into(),
        language: match page.lang {
            crate::domain::lang::Lang::Ar => "ar".into(),
            _ => "en_US".into(),
        },
        header: "none".into(),
        ..<TemplateForm as Default>::default()
    }
}

#[get("/templates?<done>")]
async fn show_templates(
    page: Page,
    member: Member<'_>,
    db: &State<Db>,
    done: Option<&str>,
) -> Result<Reply> {
    let form = new_form(&page);
    let numbers = numbers(&page, db, member.account).await?;
    let pending = numbers
        .iter()
        .flat_map(|n| &n.templates)
        .any(|t| t.status == "PENDING");
    let notice = page.notice("templates", done);
    Ok(Reply::Page((
        Status::Ok,
        render(TemplatesPage {
            page: &page,
            numbers,
            form: &form,
            errors: FieldErrors::new("t-", Vec::new()),
            error: None,
            notice,
            pending,
        })?,
    )))
}

/// The account's number named by a form, if it is one of its own.
async fn own_number(db: &Db, account: AccountId, raw: &str) -> Result<Option<ConnectionId>> {
    let Ok(id) = raw.trim().parse::<i64>() else {
        return Ok(None);
    };
    let id = ConnectionId::from_raw(id);
    Ok(db
        .read_async(move |conn| connections::find(conn, account, id))
        .await?
        .map(|c| c.id))
}

#[post("/templates", data = "<form>")]
async fn create_template(
    form: CsrfForm<TemplateForm>,
    page: Page,
    member: Member<'_>,
    db: &State<Db>,
    agent: &State<ureq::Agent>,
) -> Result<Reply> {
    let (account, form) = (member.account, form.0);
    let words = |mistakes: Vec<(String, &'static str)>| -> Vec<(String, String)> {
        mistakes
            .into_iter()
            .map(|(field, key)| (field, page.t(key).to_owned()))
            .collect()
    };
    let Some(connection) = own_number(db, account, &form.connection_id).await? else {
        let errors = words(vec![(
            "connection_id".into(),
            "templates.errors.connection",
        )]);
        let summary = Some(page.t("templates.errors.summary").to_owned());
        return show(&page, db, account, &form, errors, summary).await;
    };
    let (draft, db_inner, agent) = (form.draft(), db.inner().clone(), agent.inner().clone());
    let submitted = crate::blocking::run("template submission", move || {
        service::create(&db_inner, &agent, account, connection, &draft)
    })
    .await?;
    let (errors, summary) = match submitted {
        Ok(()) => return Ok(Reply::Redirect(Redirect::to("/templates?done=submitted"))),
        Err(Refused::Mistakes(mistakes)) => (
            words(mistakes),
            page.t("templates.errors.summary").to_owned(),
        ),
        Err(Refused::Meta {
            field: Some(field),
            words: meta,
        }) => (
            vec![(
                field.to_owned(),
                format!("{} {meta}", page.t("templates.errors.meta")),
            )],
            page.t("templates.errors.summary").to_owned(),
        ),
        Err(Refused::Meta { field: None, words }) => (
            Vec::new(),
            format!("{} {words}", page.t("templates.errors.meta")),
        ),
        Err(Refused::Failed(e @ Error::Unavailable(_))) => (Vec::new(), page.error_text(&e)),
        Err(Refused::Failed(e)) => return Err(e),
    };
    show(&page, db, account, &form, errors, Some(summary)).await
}

#[post("/templates/sync", data = "<_form>")]
async fn sync_templates(
    _form: CsrfForm<CsrfOnly>,
    page: Page,
    member: Member<'_>,
    db: &State<Db>,
    agent: &State<ureq::Agent>,
) -> Result<Reply> {
    let account = member.account;
    let (db_inner, agent) = (db.inner().clone(), agent.inner().clone());
    let synced = crate::blocking::run("template sync", move || {
        let numbers = db_inner.read(|conn| connections::list_for_account(conn, account))?;
        for number in &numbers {
            service::sync_connection(&db_inner, &agent, account, number)?;
        }
        Ok::<_, Error>(())
    })
    .await?;
    match synced {
        Ok(()) => Ok(Reply::Redirect(Redirect::to("/templates?done=synced"))),
        Err(e @ Error::Unavailable(_)) => {
            let error = Some(page.error_text(&e));
            show(&page, db, account, &new_form(&page), Vec::new(), error).await
        }
        Err(e) => Err(e),
    }
}

csrf_form!(DeleteForm {
    connection_id,
    name
});

#[post("/templates/delete", data = "<form>")]
async fn delete_template(
    form: CsrfForm<DeleteForm>,
    page: Page,
    member: Member<'_>,
    db: &State<Db>,
    agent: &State<ureq::Agent>,
) -> Result<Reply> {
    let account = member.account;
    let Some(connection) = own_number(db, account, &form.0.connection_id).await? else {
        return Err(Error::NotFound);
    };
    let (db_inner, agent, name) = (db.inner().clone(), agent.inner().clone(), form.0.name);
    let deleted = crate::blocking::run("template deletion", move || {
        service::delete(&db_inner, &agent, account, connection, &name)
    })
    .await?;
    match deleted {
        Ok(()) => Ok(Reply::Redirect(Redirect::to("/templates?done=deleted"))),
        Err(e @ Error::Unavailable(_)) => {
            let error = Some(page.error_text(&e));
            show(&page, db, account, &new_form(&page), Vec::new(), error).await
        }
        Err(e) => Err(e),
    }
}
