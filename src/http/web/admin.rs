//! Operators: the first one joins through a one-time setup link that `serve` prints while there is none;
//! the administration page lists the accounts (`admin_accounts`) and the scheduled job runs, links the
//! system's health (`admin_health`), and publishes new versions of the privacy policy. One account is
//! managed on its own page (`admin_account`, `admin_holds`). Everything under `/admin` answers 404 to
//! anyone but an operator (the `Operator` guard).

use super::Reply;
use super::admin_accounts::{self, AccountRow};
use super::context::Ctx;
use super::page::{Page, render};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::auth::{CsrfForm, Operator, session};
use crate::services::billing::Billing;
use crate::services::passwords;
use crate::services::policy_mail::{OnFailure, send_due};
use crate::store::activity;
use crate::store::consents::{self, PolicyVersion};
use crate::store::job_runs::{self, JobRun};
use crate::store::retention::Counts;
use crate::store::sessions::Stage;
use crate::store::tokens::{self, NewToken, Purpose};
use crate::store::users::{self, NewUser, Role};
use crate::store::{Db, now_ms, policy_mail};
use askama::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

const SETUP_TTL_MS: i64 = 24 * 3_600_000;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        show_admin,
        publish_policy,
        setup_page,
        create_first_operator
    ]
}

/// While no operator exists, makes a fresh setup link (older ones stop working) and returns it.
pub fn setup_link(db: &Db, config: &Config) -> Result<Option<String>> {
    let token = tokens::generate()?;
    let stored = token.clone();
    let created = db.write(move |conn| {
        if users::operator_exists(conn)? {
            return Ok(false);
        }
        let now = now_ms();
        tokens::revoke_all(conn, Purpose::OperatorSetup, now)?;
        let new = NewToken {
            purpose: Purpose::OperatorSetup,
            account_id: None,
            user_id: None,
            email: "",
            role: "operator",
            now,
            ttl_ms: SETUP_TTL_MS,
        };
        tokens::insert(conn, &stored, &new)?;
        Ok(true)
    })?;
    Ok(created.then(|| format!("{}/setup/{token}", config.server.public_url)))
}

/// A run of the retention job as the page shows it.
struct RetentionRun {
    started_at: i64,
    finished_at: Option<i64>,
    /// Rows deleted per table, only the tables it deleted from.
    deleted: Vec<(&'static str, i64)>,
    total: i64,
    error: Option<String>,
}

impl RetentionRun {
    fn of(run: JobRun) -> RetentionRun {
        let counts = Counts::from_json(&run.outcome["deleted"]);
        RetentionRun {
            started_at: run.started_at,
            finished_at: run.finished_at,
            deleted: counts
                .iter()
                .filter(|(_, rows)| *rows > 0)
                .map(|(table, rows)| (table, rows as i64))
                .collect(),
            total: counts.total() as i64,
            error: run.error,
        }
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage<'a> {
    page: &'a Page,
    accounts: Vec<AccountRow>,
    runs: Vec<JobRun>,
    retention_policy: String,
    retention: Vec<RetentionRun>,
    /// Published versions of the privacy policy, newest first, with how many people accepted each.
    policies: Vec<(PolicyVersion, i64)>,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    /// What was typed into the publish form, shown again when it is refused.
    form: &'a PolicyForm,
    /// What keeps the store from writing, or little free space left, in words.
    storage_warning: Option<String>,
    /// The abuse signals (`admin_signals.html`), and how many each account has open.
    signals: super::admin_signals::SignalsSection,
    /// The scheduled backups and the last one's result (`admin_backups.html`).
    backups: super::admin_backups::BackupSection,
}

csrf_form!(PolicyForm { version, summary });

async fn admin_page(
    ctx: &Ctx<'_>,
    notice: Option<&str>,
    error: Option<&str>,
    form: &PolicyForm,
) -> Result<rocket::response::content::RawHtml<String>> {
    let (page, db, config) = (&ctx.page, ctx.db, ctx.config);
    let accounts = admin_accounts::rows(page, db, ctx.state::<Arc<Billing>>()?).await?;
    let (runs, retention, policies, backups) = db
        .read_async(|conn| {
            Ok((
                job_runs::recent(conn, 20)?,
                job_runs::recent_of(conn, job_runs::RETENTION, 20)?,
                consents::policy_versions(conn, 20)?,
                crate::services::backups::read(conn)?,
            ))
        })
        .await?;
    let days = |d: u32| page.lang.days(i64::from(d));
    let policy = &config.retention;
    let retention_policy = page
        .t("admin.retention_policy")
        .replace("{messages}", &days(policy.message_days))
        .replace("{activity}", &days(policy.activity_days))
        .replace("{webhooks}", &days(policy.webhook_delivery_days))
        .replace("{schedule}", &policy.schedule);
    render(AdminPage {
        page,
        accounts,
        runs,
        retention_policy,
        retention: retention.into_iter().map(RetentionRun::of).collect(),
        policies,
        notice,
        error,
        form,
        storage_warning: storage_warning(page, db, config),
        signals: super::admin_signals::section(page, db).await?,
        backups: super::admin_backups::section(page, &backups, config),
    })
}

/// A warning for the operator when the store cannot write, or its disk has under `[storage] min_free_mb`.
fn storage_warning(page: &Page, db: &Db, config: &Config) -> Option<String> {
    if let Some((trouble, _)) = db.health().trouble() {
        return Some(format!(
            "{} {}",
            page.t("admin.storage_failing"),
            trouble.describe()
        ));
    }
    let dir = db.path().parent()?;
    let free_mb = crate::store::health::free_bytes(dir).ok()? >> 20;
    (free_mb < config.storage.min_free_mb).then(|| {
        page.t("admin.storage_low")
            .replace("{free}", &page.number(&(free_mb as i64)))
            .replace("{min}", &page.number(&(config.storage.min_free_mb as i64)))
    })
}

#[get("/admin?<done>")]
async fn show_admin(ctx: Ctx<'_>, _operator: Operator<'_>, done: Option<&str>) -> Result<Reply> {
    let notice = ctx.page.notice("admin", done);
    let empty = PolicyForm {
        csrf: String::new(),
        version: String::new(),
        summary: String::new(),
    };
    let html = admin_page(&ctx, notice.as_deref(), None, &empty).await?;
    Ok(Reply::Page((Status::Ok, html)))
}

/// Publishes a new version of the privacy policy: from now on every page asks each signed-in person to
/// acknowledge it, and everyone is told by email. The emails are queued with the version and go out on a
/// blocking thread after the answer, so a large installation does not hold the request.
#[post("/admin/policy", data = "<form>")]
async fn publish_policy(
    form: CsrfForm<PolicyForm>,
    ctx: Ctx<'_>,
    operator: Operator<'_>,
) -> Result<Reply> {
    let (page, client, db, config, mailer) = (
        &ctx.page,
        ctx.client.clone(),
        ctx.db,
        ctx.config,
        ctx.mailer,
    );
    let form = form.0;
    let (by, version, summary) = (
        operator.user().id,
        form.version.clone(),
        form.summary.clone(),
    );
    let published = db
        .write_async(move |conn| {
            let now = now_ms();
            let policy = consents::publish_policy(conn, &version, &summary, Some(by), now)?;
            // The operator who publishes a version has read it.
            consents::give(conn, by, consents::PRIVACY_POLICY, &policy.version, now)?;
            let actor = client.actor(None, Some(by));
            activity::record(
                conn,
                &actor,
                "privacy_policy_published",
                &policy.version,
                now,
            )?;
            policy_mail::queue(conn, &policy.version, Some(by), now)?;
            Ok(policy)
        })
        .await;
    if let Err(e @ Error::Invalid { .. }) = published {
        let message = page.error_text(&e);
        let html = admin_page(&ctx, None, Some(&message), &form).await?;
        return Ok(Reply::Page((Status::UnprocessableEntity, html)));
    }
    let policy = published?;
    // Sent after the answer; what this does not send (a stop, the mail server down), the server's
    // policy mail thread does.
    let (db, mailer, link) = (db.clone(), mailer.clone(), config.privacy_link());
    crate::blocking::detach(move || {
        let stop = AtomicBool::new(false);
        match send_due(&db, &mailer, &link, OnFailure::RetryLater, &stop) {
            Ok(done) => {
                tracing::info!(version = %policy.version, ?done, "told everyone about the new privacy policy")
            }
            Err(e) => tracing::error!(error = %e, "cannot send the privacy policy notices"),
        }
    });
    Ok(Reply::Redirect(Redirect::to(
        "/admin?done=policy_published",
    )))
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    page: &'a Page,
    token: &'a str,
    name: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

async fn setup_is_open(db: &Db, token: &str) -> Result<bool> {
    let token = token.to_owned();
    db.read_async(move |conn| {
        Ok(!users::operator_exists(conn)?
            && tokens::peek(conn, Purpose::OperatorSetup, &token, now_ms())?.is_some())
    })
    .await
}

#[get("/setup/<token>")]
async fn setup_page(token: &str, page: Page, db: &State<Db>) -> Result<Reply> {
    if !setup_is_open(db, token).await? {
        return super::expired_link(&page);
    }
    let html = render(SetupPage {
        page: &page,
        token,
        name: "",
        email: "",
        error: None,
    })?;
    Ok(Reply::Page((Status::Ok, html)))
}

csrf_form!(SetupForm {
    name,
    email,
    password
});

#[post("/setup/<token>", data = "<form>")]
async fn create_first_operator(
    token: &str,
    form: CsrfForm<SetupForm>,
    ctx: Ctx<'_>,
) -> Result<Reply> {
    let Ctx {
        page,
        client,
        auth,
        db,
        config,
        cookies,
        ..
    } = ctx;
    if !setup_is_open(db, token).await? {
        return super::expired_link(&page);
    }
    let form = form.0;
    let refuse = |e: &Error| -> Result<Reply> {
        let message = page.error_text(e);
        let html = render(SetupPage {
            page: &page,
            token,
            name: &form.name,
            email: &form.email,
            error: Some(&message),
        })?;
        Ok(Reply::Page((Status::UnprocessableEntity, html)))
    };
    if let Err(e) = users::normalize_email(&form.email)
        .and_then(|_| passwords::check_policy(&form.password, &form.email))
    {
        return refuse(&e);
    }
    let hash = auth.hasher.hash(&form.password).await?;
    let (token_value, name, email, lang) = (
        token.to_owned(),
        form.name.clone(),
        form.email.clone(),
        page.lang,
    );
    let actor_client = client.clone();
    let created = db
        .write_async(move |conn| {
            let now = now_ms();
            if users::operator_exists(conn)?
                || tokens::consume(conn, Purpose::OperatorSetup, &token_value, now)?.is_none()
            {
                return Ok(None);
            }
            let new = NewUser {
                account_id: None,
                role: Role::Operator,
                email: &email,
                name: &name,
                password_hash: &hash,
                locale: lang.code(),
            };
            let user = users::insert(conn, &new)?;
            // The setup page says that creating the operator accepts the policy in force.
            let version = consents::privacy_policy_version(conn)?;
            consents::give(conn, user, consents::PRIVACY_POLICY, &version, now)?;
            let actor = actor_client.actor(None, Some(user));
            activity::record(conn, &actor, "operator_created", "", now)?;
            users::find(conn, user)
        })
        .await;
    let user = match created {
        Ok(Some(user)) => user,
        Ok(None) => return super::expired_link(&page),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => return refuse(&e),
        Err(e) => return Err(e),
    };
    session::start(db, config, cookies, (&user, Stage::Full), &client).await?;
    Ok(Reply::Redirect(Redirect::to("/admin")))
}
