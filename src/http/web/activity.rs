//! The Activity page: who did what in the account, when, from which address and browser. Owners and
//! admins see the whole account's log and filter it by person; members see their own entries. Both
//! filter by action and by dates, newest first, a page at a time.

use super::context::Ctx;
use super::i18n::normalise_digits;
use super::page::{Page, render};
use crate::error::Result;
use crate::http::auth::Member;
use crate::http::pager::Pager;
use crate::store::activity::{self, ACTIONS, Cursor, Entry, Filter};
use crate::store::users::{self, UserId};
use askama::Template;
use rocket::form::FromForm;
use rocket::response::content::RawHtml;
use rocket::{get, routes};
use std::collections::HashMap;

/// Entries on one page.
const PAGE: usize = 50;

const DAY_MS: i64 = 86_400_000;

pub fn routes() -> Vec<rocket::Route> {
    routes![activity_page]
}

/// The filters, as the page's form and its "older" link send them. Anything unreadable is left out
/// (a stale or edited link shows the whole log rather than an error).
#[derive(FromForm, Default)]
struct Query {
    person: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
}

/// The filters read, and kept as they were asked for so the form shows them again.
#[derive(Default)]
struct Chosen {
    person: Option<i64>,
    action: Option<&'static str>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
}

impl Chosen {
    fn of(query: &Query) -> Chosen {
        let day = |text: &Option<String>| {
            text.as_deref().and_then(|t| {
                chrono::NaiveDate::parse_from_str(normalise_digits(t).trim(), "%Y-%m-%d").ok()
            })
        };
        Chosen {
            person: query
                .person
                .as_deref()
                .and_then(|p| normalise_digits(p).trim().parse().ok()),
            action: query
                .action
                .as_deref()
                .and_then(|a| ACTIONS.iter().find(|known| **known == a.trim()).copied()),
            from: day(&query.from),
            to: day(&query.to),
        }
    }

    fn any(&self) -> bool {
        self.person.is_some() || self.action.is_some() || self.from.is_some() || self.to.is_some()
    }

    /// The query string of these filters, for the link to older entries.
    fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(person) = self.person {
            parts.push(format!("person={person}"));
        }
        if let Some(action) = self.action {
            parts.push(format!("action={action}"));
        }
        if let Some(from) = self.from {
            parts.push(format!("from={from}"));
        }
        if let Some(to) = self.to {
            parts.push(format!("to={to}"));
        }
        parts.join("&")
    }
}

/// The first millisecond (UTC) of a day.
fn day_start(day: chrono::NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map_or(0, |start| start.and_utc().timestamp_millis())
}

/// An entry as the page shows it, in the page's language.
struct Row {
    when: String,
    who: String,
    what: String,
    detail: String,
    ip: String,
    browser: String,
}

fn row(page: &Page, entry: &Entry, names: &HashMap<UserId, String>) -> Row {
    let shown = entry.display();
    let who = match entry.user_id {
        Some(user) => names
            .get(&user)
            .cloned()
            .unwrap_or_else(|| page.t("activity.former_member").to_owned()),
        None => page.t("activity.no_person").to_owned(),
    };
    let nobody = entry.ip.is_empty() && entry.user_agent.is_empty();
    Row {
        when: page.datetime(&entry.created_at),
        who,
        what: page.term("activity.action", &entry.action),
        detail: entry.detail.clone(),
        ip: if entry.ip.is_empty() {
            page.t("activity.none_given").to_owned()
        } else {
            entry.ip.clone()
        },
        browser: if nobody {
            page.t("activity.none_given").to_owned()
        } else {
            shown
                .agent
                .words(page.t("activity.on"), page.t("activity.unknown_browser"))
        },
    }
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage<'a> {
    page: &'a Page,
    /// What the page is, and for owners and admins how long entries are kept.
    intro: String,
    rows: Vec<Row>,
    /// The people to filter by (owners and admins only): id and name.
    people: Vec<(i64, String)>,
    /// Every action, with its words.
    actions: Vec<(&'static str, String)>,
    person: String,
    action: &'a str,
    from: String,
    to: String,
    filtered: bool,
    older: Option<String>,
}

#[get("/activity?<query..>")]
async fn activity_page(query: Query, ctx: Ctx<'_>, member: Member<'_>) -> Result<RawHtml<String>> {
    let (page, db, account) = (ctx.page, ctx.db, member.account);
    let chosen = Chosen::of(&query);
    let manager = member.manages_account();
    // A member sees their own entries only, whatever the link asks for.
    let user = if manager {
        chosen.person.map(UserId::from_raw)
    } else {
        Some(member.user().id)
    };
    let pager = Pager::lenient(query.before.as_deref(), PAGE, Cursor::parse);
    let filter = Filter {
        account,
        user,
        action: chosen.action.map(str::to_owned),
        from: chosen.from.map(day_start),
        to: chosen.to.map(|day| day_start(day) + DAY_MS),
        before: pager.after,
        limit: pager.limit,
    };
    let (entries, people) = db
        .read_async(move |conn| {
            Ok((
                activity::list(conn, &filter)?,
                users::list_for_account(conn, account)?,
            ))
        })
        .await?;
    let names: HashMap<UserId, String> = people.iter().map(|u| (u.id, u.name.clone())).collect();
    let older = pager
        .next_cursor(&entries, |e| Some(e.cursor().to_string()))
        .map(|cursor| {
            let filters = chosen.query();
            if filters.is_empty() {
                format!("/activity?before={cursor}")
            } else {
                format!("/activity?{filters}&before={cursor}")
            }
        });
    let rows = entries.iter().map(|e| row(&page, e, &names)).collect();
    let people = if manager {
        people.into_iter().map(|u| (u.id.get(), u.name)).collect()
    } else {
        Vec::new()
    };
    let actions = ACTIONS
        .iter()
        .map(|a| (*a, page.term("activity.action", a)))
        .collect();
    let intro = if manager {
        let days = page
            .lang
            .days(i64::from(ctx.config.retention.activity_days));
        page.t("activity.intro_manager").replace("{days}", &days)
    } else {
        page.t("activity.intro_member").to_owned()
    };
    render(ActivityPage {
        page: &page,
        intro,
        rows,
        people,
        actions,
        person: chosen.person.map(|p| p.to_string()).unwrap_or_default(),
        action: chosen.action.unwrap_or(""),
        from: chosen.from.map(|d| d.to_string()).unwrap_or_default(),
        to: chosen.to.map(|d| d.to_string()).unwrap_or_default(),
        filtered: chosen.any(),
        older,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lang::Lang;

    #[test]
    fn every_action_is_worded_in_both_languages() {
        for action in ACTIONS {
            let key = format!("activity.action.{action}");
            let (en, ar) = (Lang::En.t(&key), Lang::Ar.t(&key));
            assert_ne!(en, key, "no English words for {action}");
            assert_ne!(ar, key, "no Arabic words for {action}");
            assert_ne!(en, ar, "{action} is not translated");
        }
    }

    #[test]
    fn filters_are_read_leniently_and_written_back() {
        let query = Query {
            person: Some("12".into()),
            action: Some("signed_in".into()),
            from: Some("2026-01-31".into()),
            to: Some("31/01/2026".into()),
            before: None,
        };
        let chosen = Chosen::of(&query);
        assert_eq!(chosen.query(), "person=12&action=signed_in&from=2026-01-31");
        let odd = Query {
            action: Some("drop table".into()),
            ..<Query as Default>::default()
        };
        assert!(!Chosen::of(&odd).any());
        assert_eq!(
            day_start(chrono::NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()),
            DAY_MS
        );
    }
}
