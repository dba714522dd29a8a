//! The backups on the operators' page (`/admin`, section `#backups`, `admin_backups.html`): the schedule,
//! the last backup's result (when, file, size, how long it took, the integrity check, or the error), the
//! last success when the last one failed, and a warning when backups are behind, as `whatsapi doctor`
//! reads them (`services::backups`).

use super::admin_health::{bytes, millis, span};
use super::page::Page;
use crate::config::Config;
use crate::services::backups::{Backups, Run, Standing};
use std::time::Duration;

/// One backup run, in the page's words.
pub struct RunView {
    pub when: String,
    pub ago: String,
    pub file: String,
    pub size: String,
    pub took: String,
    pub integrity: String,
    pub error: Option<String>,
}

impl RunView {
    fn of(page: &Page, run: &Run, now: i64) -> RunView {
        let ago = Duration::from_millis(now.saturating_sub(run.finished_at).max(0) as u64);
        let unknown = || page.t("admin.unknown").to_owned();
        RunView {
            when: page.datetime(&run.finished_at),
            ago: page.t("backup.ago").replace("{time}", &span(page, ago)),
            file: run.file_name().map(str::to_owned).unwrap_or_else(unknown),
            size: run.bytes.map(|b| bytes(page, b)).unwrap_or_else(unknown),
            took: run
                .duration_ms
                .map(|ms| {
                    let took = Duration::from_millis(ms.max(0) as u64);
                    if ms < 1_000 {
                        millis(page, took)
                    } else {
                        span(page, took)
                    }
                })
                .unwrap_or_else(unknown),
            integrity: run.integrity.clone().unwrap_or_else(unknown),
            error: run.error.clone(),
        }
    }
}

/// The section as the page shows it.
pub struct BackupSection {
    /// `ok`, `off`, `waiting`, `never`, `failed` or `stale`.
    pub standing: &'static str,
    pub standing_words: &'static str,
    /// The badge's classes.
    pub badge: &'static str,
    /// The schedule, directory and `keep`, in a sentence.
    pub policy: String,
    pub warning: Option<String>,
    /// When the first backup is due, before one was made.
    pub first_due: Option<String>,
    pub last: Option<RunView>,
    /// The last success, when it is not the last run.
    pub last_success: Option<RunView>,
}

/// The section from the backups' state (`services::backups::read`, in the page's one read).
pub fn section(page: &Page, state: &Backups, config: &Config) -> BackupSection {
    let settings = &config.backup;
    let now = chrono::Utc::now();
    let schedule = settings.schedule();
    let standing = state.standing(schedule.as_ref(), now);
    let (code, badge) = match standing {
        Standing::Ok => ("ok", "badge success"),
        Standing::Off => ("off", "badge neutral"),
        Standing::Waiting => ("waiting", "badge neutral"),
        Standing::Never => ("never", "badge warning"),
        Standing::Stale => ("stale", "badge warning"),
        Standing::Failed => ("failed", "badge danger"),
    };
    let policy = if settings.schedule.trim().is_empty() {
        page.t("backup.policy_off").to_owned()
    } else {
        page.t("backup.policy_on")
            .replace("{schedule}", settings.schedule.trim())
            .replace("{dir}", &settings.dir.display().to_string())
            .replace("{keep}", &page.number(&i64::from(settings.keep)))
    };
    let warning = match standing {
        Standing::Never => Some(page.t("backup.warn_never").to_owned()),
        Standing::Stale => Some(page.t("backup.warn_stale").to_owned()),
        Standing::Failed => Some(page.t("backup.warn_failed").to_owned()),
        Standing::Ok | Standing::Off | Standing::Waiting => None,
    };
    let first_due = (standing == Standing::Waiting).then(|| {
        match schedule.as_ref().and_then(|s| state.first_due(s)) {
            Some(due) => page
                .t("backup.first_due")
                .replace("{when}", &page.datetime(&due.timestamp_millis())),
            None => page.t("backup.first_after_start").to_owned(),
        }
    });
    let now_ms = now.timestamp_millis();
    let last_failed = state.last.as_ref().is_some_and(|l| l.error.is_some());
    BackupSection {
        standing: code,
        standing_words: page.t(match standing {
            Standing::Ok => "backup.standing_ok",
            Standing::Off => "backup.standing_off",
            Standing::Waiting => "backup.standing_waiting",
            Standing::Never => "backup.standing_never",
            Standing::Stale => "backup.standing_stale",
            Standing::Failed => "backup.standing_failed",
        }),
        badge,
        policy,
        warning,
        first_due,
        last: state
            .last
            .as_ref()
            .map(|run| RunView::of(page, run, now_ms)),
        last_success: state
            .last_success
            .as_ref()
            .filter(|_| last_failed)
            .map(|run| RunView::of(page, run, now_ms)),
    }
}
