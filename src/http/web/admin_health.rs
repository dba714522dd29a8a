//! The system's health for operators, `/admin/health`: the outbox (its depth, and how long the earliest
//! message that may be sent has been due), deliveries to customers' webhooks waiting, whether the
//! sender's and the deliveries' threads are alive, the store writer's queue and commit latency, the last
//! run of every scheduled job, the database's and its log's size, free disk, and the master key and the
//! keystore's mirrors (read as `whatsapi doctor` reads them: `store::keystore::mirror_state`). Each line
//! has a verdict (fine, to watch, to act on) and its figures in words.

use super::Reply;
use super::admin_accounts::tenths;
use super::context::Ctx;
use super::page::{Page, render};
use crate::error::Result;
use crate::http::auth::Operator;
use crate::services::health::{self, Beat, Seen};
use crate::store::console::{self, Deliveries, Outbox};
use crate::store::job_runs::{self, JobRun};
use crate::store::keystore::{self, Known, MirrorState};
use crate::store::{connections, keys, messages, now_ms};
use askama::Template;
use rocket::http::Status;
use rocket::{get, routes};
use std::collections::HashSet;
use std::time::Duration;

pub fn routes() -> Vec<rocket::Route> {
    routes![show_health]
}

/// Fine, to watch, or to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }

    /// The badge's class.
    pub fn class(self) -> &'static str {
        match self {
            Verdict::Ok => "success",
            Verdict::Warn => "warning",
            Verdict::Fail => "danger",
        }
    }
}

/// One line of the page: what, its state in words, and its verdict.
pub struct Line {
    pub id: String,
    pub label: String,
    pub value: String,
    pub verdict: Verdict,
}

/// A group of lines under a title.
pub struct Group {
    pub id: &'static str,
    pub title: &'static str,
    pub lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "admin_health.html")]
struct HealthPage<'a> {
    page: &'a Page,
    groups: Vec<Group>,
    jobs: Vec<JobRun>,
}

/// What the page reads from the store.
struct Read {
    outbox: Outbox,
    /// When the earliest message of a number that may send now came due.
    sendable_due: Option<i64>,
    deliveries: Deliveries,
    jobs: Vec<JobRun>,
    database_master: Option<u32>,
    rotation_pending: bool,
}

#[get("/admin/health")]
async fn show_health(ctx: Ctx<'_>, _operator: Operator<'_>) -> Result<Reply> {
    let (page, db) = (&ctx.page, ctx.db);
    let now = now_ms();
    let read = db
        .read_async(move |conn| {
            let sendable: HashSet<_> = connections::active_paces(conn)?
                .into_iter()
                .map(|(connection, ..)| connection)
                .collect();
            let sendable_due = messages::queued_connections(conn)?
                .into_iter()
                .filter(|(connection, due)| sendable.contains(connection) && *due <= now)
                .map(|(_, due)| due)
                .min();
            Ok(Read {
                outbox: console::outbox(conn, now)?,
                sendable_due,
                deliveries: console::deliveries(conn, now)?,
                jobs: job_runs::latest_of_each(conn)?,
                database_master: keys::database_master_key_id(conn)?,
                rotation_pending: keys::rotation_pending(conn)?,
            })
        })
        .await?;
    let store = db.clone();
    let known = crate::blocking::run("reading the keystore", move || {
        let keystore = store.keyring().keystore();
        let known = keystore.known()?;
        let mirrors: Vec<_> = keystore
            .files()
            .mirrors
            .iter()
            .map(|m| (m.display().to_string(), keystore::mirror_state(m, &known)))
            .collect();
        Ok::<_, crate::error::Error>((known, mirrors))
    })
    .await??;
    let groups = vec![
        sending(page, &read, now),
        threads(page, now),
        store_lines(page, &ctx),
        keys_lines(page, &ctx, &read, known),
    ];
    let html = render(HealthPage {
        page,
        groups,
        jobs: read.jobs,
    })?;
    Ok(Reply::Page((Status::Ok, html)))
}

fn line(id: &str, label: &str, value: String, verdict: Verdict) -> Line {
    Line {
        id: id.to_owned(),
        label: label.to_owned(),
        value,
        verdict,
    }
}

/// A duration in words: seconds, minutes, hours or days, whole.
pub fn span(page: &Page, took: Duration) -> String {
    let secs = took.as_secs() as i64;
    let (key, n) = match secs {
        ..120 => ("admin.seconds", secs),
        120..7_200 => ("admin.minutes", secs / 60),
        7_200..172_800 => ("admin.hours", secs / 3_600),
        _ => return page.lang.days(secs / 86_400),
    };
    page.t(key).replace("{n}", &page.number(&n))
}

/// A short time in milliseconds, with a tenth below 10 ms.
pub fn millis(page: &Page, took: Duration) -> String {
    let micros = took.as_micros() as i64;
    let text = if micros < 10_000 {
        tenths(page.lang, (micros + 50) / 100)
    } else {
        page.number(&((micros + 500) / 1_000))
    };
    page.t("admin.milliseconds").replace("{n}", &text)
}

/// A size in KiB, MiB or GiB.
pub fn bytes(page: &Page, size: u64) -> String {
    let (key, n) = match size {
        ..1_048_576 => ("admin.kib", size.div_ceil(1_024)),
        1_048_576..10_737_418_240 => ("admin.mib", size >> 20),
        _ => ("admin.gib", size >> 30),
    };
    page.t(key)
        .replace("{n}", &page.number(&i64::try_from(n).unwrap_or(i64::MAX)))
}

/// How long something has been due, and the verdict: fine within a minute, to watch within ten.
fn waiting(page: &Page, due: Option<i64>, now: i64) -> (String, Verdict) {
    match due {
        None => (page.t("admin.nothing_due").to_owned(), Verdict::Ok),
        Some(at) => {
            let ago = Duration::from_millis(now.saturating_sub(at).max(0) as u64);
            let verdict = match ago.as_secs() {
                ..60 => Verdict::Ok,
                60..600 => Verdict::Warn,
                _ => Verdict::Fail,
            };
            let text = page.t("admin.due_for").replace("{time}", &span(page, ago));
            (text, verdict)
        }
    }
}

fn sending(page: &Page, read: &Read, now: i64) -> Group {
    let Outbox {
        queued, sending, ..
    } = read.outbox;
    let depth = page
        .t("admin.outbox_depth_value")
        .replace("{queued}", &page.number(&queued))
        .replace("{sending}", &page.number(&sending));
    let (oldest, oldest_verdict) = waiting(page, read.sendable_due, now);
    let held = match read.outbox.oldest_due {
        Some(at) if read.sendable_due != Some(at) => Some(waiting(page, Some(at), now).0),
        _ => None,
    };
    let deliveries = page
        .t("admin.deliveries_value")
        .replace("{pending}", &page.number(&read.deliveries.pending))
        .replace("{delivering}", &page.number(&read.deliveries.delivering));
    let (delivery_due, delivery_verdict) = waiting(page, read.deliveries.oldest_due, now);
    let mut lines = vec![
        line(
            "outbox-depth",
            page.t("admin.outbox_depth"),
            depth,
            Verdict::Ok,
        ),
        line(
            "outbox-oldest",
            page.t("admin.outbox_oldest"),
            oldest,
            oldest_verdict,
        ),
    ];
    if let Some(held) = held {
        let text = page.t("admin.outbox_held_value").replace("{due}", &held);
        lines.push(line(
            "outbox-held",
            page.t("admin.outbox_held"),
            text,
            Verdict::Ok,
        ));
    }
    lines.push(line(
        "deliveries-pending",
        page.t("admin.deliveries"),
        deliveries,
        Verdict::Ok,
    ));
    lines.push(line(
        "deliveries-oldest",
        page.t("admin.deliveries_oldest"),
        delivery_due,
        delivery_verdict,
    ));
    Group {
        id: "health-sending",
        title: page.t("admin.health_sending"),
        lines,
    }
}

fn threads(page: &Page, now: i64) -> Group {
    let lines = Beat::ALL
        .into_iter()
        .map(|beat| {
            let (value, verdict) = match health::seen(beat, now) {
                Seen::Alive(ago) => (
                    page.t("admin.alive").replace("{time}", &span(page, ago)),
                    Verdict::Ok,
                ),
                Seen::Silent(ago) => (
                    page.t("admin.silent").replace("{time}", &span(page, ago)),
                    Verdict::Fail,
                ),
                Seen::Never => (page.t("admin.never_seen").to_owned(), Verdict::Fail),
            };
            let id = format!("thread-{}", beat.as_str());
            let key = format!("admin.thread_{}", beat.as_str());
            line(&id, page.t(&key), value, verdict)
        })
        .collect();
    Group {
        id: "health-threads",
        title: page.t("admin.health_threads"),
        lines,
    }
}

fn store_lines(page: &Page, ctx: &Ctx<'_>) -> Group {
    let (db, config) = (ctx.db, ctx.config);
    let stats = db.writer_stats();
    let queue = stats.queue_length();
    let queue_verdict = match queue {
        ..100 => Verdict::Ok,
        _ => Verdict::Warn,
    };
    let latency = match (stats.last_commit(), stats.average_commit()) {
        (Some(last), Some(average)) => page
            .t("admin.commit_value")
            .replace("{last}", &millis(page, last))
            .replace("{average}", &millis(page, average)),
        _ => page.t("admin.no_commit").to_owned(),
    };
    let latency_verdict = match stats.last_commit() {
        Some(last) if last > Duration::from_secs(1) => Verdict::Warn,
        _ => Verdict::Ok,
    };
    let (database, wal) = console::file_sizes(db.path());
    let files = page
        .t("admin.files_value")
        .replace("{database}", &bytes(page, database))
        .replace("{wal}", &bytes(page, wal));
    let min_free = config.storage.min_free_mb << 20;
    let (free, free_verdict) = match db.path().parent().map(crate::store::health::free_bytes) {
        Some(Ok(free)) => (
            bytes(page, free),
            match free {
                _ if free < min_free => Verdict::Fail,
                _ if free < 5 * min_free => Verdict::Warn,
                _ => Verdict::Ok,
            },
        ),
        _ => (page.t("admin.unknown").to_owned(), Verdict::Warn),
    };
    let mut lines = vec![
        line(
            "writer-queue",
            page.t("admin.writer_queue"),
            page.number(&i64::try_from(queue).unwrap_or(i64::MAX)),
            queue_verdict,
        ),
        line(
            "writer-commit",
            page.t("admin.writer_commit"),
            latency,
            latency_verdict,
        ),
        line(
            "database-files",
            page.t("admin.database_files"),
            files,
            Verdict::Ok,
        ),
        line("free-disk", page.t("admin.free_disk"), free, free_verdict),
    ];
    if let Some((trouble, _)) = db.health().trouble() {
        let text = format!("{} {}", page.t("admin.storage_failing"), trouble.describe());
        lines.push(line(
            "storage",
            page.t("admin.storage"),
            text,
            Verdict::Fail,
        ));
    }
    Group {
        id: "health-store",
        title: page.t("admin.health_store"),
        lines,
    }
}

fn keys_lines(
    page: &Page,
    ctx: &Ctx<'_>,
    read: &Read,
    (known, mirrors): (Known, Vec<(String, MirrorState)>),
) -> Group {
    let master = ctx.db.keyring().master_id();
    let (master_text, master_verdict) = match (read.database_master, read.rotation_pending) {
        (_, true) => (page.t("admin.master_rotation").to_owned(), Verdict::Warn),
        (Some(id), false) if id == master => (page.t("admin.master_ok").to_owned(), Verdict::Ok),
        (Some(_), false) => (page.t("admin.master_other").to_owned(), Verdict::Warn),
        (None, false) => (page.t("admin.master_ok").to_owned(), Verdict::Ok),
    };
    let master_text = master_text.replace("{id}", &format!("{master:08x}"));
    let keystore = page
        .t("admin.keystore_value")
        .replace("{keys}", &page.number(&(known.keys.len() as i64)))
        .replace("{destroyed}", &page.number(&(known.destroyed.len() as i64)))
        .replace(
            "{retired}",
            &page.number(&(known.retired_masters.len() as i64)),
        );
    let mut lines = vec![
        line(
            "master-key",
            page.t("admin.master_key"),
            master_text,
            master_verdict,
        ),
        line("keystore", page.t("admin.keystore"), keystore, Verdict::Ok),
    ];
    if mirrors.is_empty() {
        lines.push(line(
            "mirror",
            page.t("admin.mirrors"),
            page.t("admin.no_mirrors").to_owned(),
            Verdict::Ok,
        ));
    }
    for (n, (path, state)) in mirrors.into_iter().enumerate() {
        let verdict = match &state {
            _ if state.fails() => Verdict::Fail,
            MirrorState::Empty | MirrorState::Behind => Verdict::Warn,
            _ => Verdict::Ok,
        };
        let words = match &state {
            MirrorState::UpToDate => page.t("admin.mirror_up_to_date"),
            MirrorState::NotYet => page.t("admin.mirror_not_yet"),
            MirrorState::NoDirectory => page.t("admin.mirror_no_directory"),
            MirrorState::Empty => page.t("admin.mirror_empty"),
            MirrorState::Behind => page.t("admin.mirror_behind"),
            MirrorState::Ahead(_) => page.t("admin.mirror_ahead"),
            MirrorState::Unreadable(_) => page.t("admin.mirror_unreadable"),
        };
        let detail = match state {
            MirrorState::Ahead(ahead) => format!(" ({ahead:?})"),
            MirrorState::Unreadable(e) => format!(" ({e})"),
            _ => String::new(),
        };
        let label = page.t("admin.mirror").replace("{path}", &path);
        lines.push(Line {
            id: format!("mirror-{}", n + 1),
            label,
            value: format!("{words}{detail}"),
            verdict,
        });
    }
    Group {
        id: "health-keys",
        title: page.t("admin.health_keys"),
        lines,
    }
}
