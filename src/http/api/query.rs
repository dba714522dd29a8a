//! The query string of a list request, read strictly: a parameter the route does not take, one given
//! twice, or a value that does not parse is a 400 `invalid_field` naming the parameter and saying what
//! it takes. (Rocket's own `Option<T>` query parameters turn a value that does not parse into "absent",
//! so `?since=abc` used to list everything.)

use crate::error::{Error, Result};
use crate::http::pager::Pager;
use rocket::request::{FromRequest, Outcome, Request};
use std::ops::RangeInclusive;

/// The decoded `name=value` pairs of the request's query, in order.
#[derive(Debug)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Query {
    type Error = Error;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Error> {
        let pairs = req
            .uri()
            .query()
            .map(|q| {
                q.segments()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Outcome::Success(Query { pairs })
    }
}

/// A page size: 1 to `max`, `default` when absent.
#[derive(Debug, Clone, Copy)]
pub struct PageSize {
    pub default: usize,
    pub max: usize,
}

impl Query {
    #[cfg(test)]
    pub(super) fn of(pairs: &[(&str, &str)]) -> Query {
        Query {
            pairs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// Refuses any parameter not in `allowed`, and any given more than once.
    pub fn allow(&self, allowed: &[&str]) -> Result<&Query> {
        for (at, (name, _)) in self.pairs.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                let shown: String = name.chars().take(100).collect();
                let takes = if allowed.is_empty() {
                    "this request takes no query parameters".to_owned()
                } else {
                    format!(
                        "is not a parameter of this request (it takes {})",
                        allowed.join(", ")
                    )
                };
                return Err(Error::invalid(shown, takes));
            }
            if self.pairs[..at].iter().any(|(earlier, _)| earlier == name) {
                return Err(Error::invalid(name.as_str(), "is given more than once"));
            }
        }
        Ok(self)
    }

    /// The value of a parameter, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A whole number within `range`; `what` says what it is when it is not one.
    pub fn number(
        &self,
        name: &str,
        range: RangeInclusive<i64>,
        what: &str,
    ) -> Result<Option<i64>> {
        self.text(name)
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| Error::invalid(name, format!("must be {what}")))
            })
            .transpose()
    }

    /// A time in milliseconds since 1970-01-01 UTC, as every time in the API is given.
    pub fn time(&self, name: &str) -> Result<Option<i64>> {
        self.number(
            name,
            0..=i64::MAX,
            "a time in milliseconds since 1970-01-01 UTC (a whole number, 0 or more)",
        )
    }

    /// An id (ids travel as strings of digits).
    pub fn id(&self, name: &str) -> Result<Option<i64>> {
        self.number(name, 0..=i64::MAX, "an id (digits)")
    }

    /// How many items a page holds.
    pub fn limit(&self, size: PageSize) -> Result<usize> {
        let max = i64::try_from(size.max).unwrap_or(i64::MAX);
        Ok(self
            .number(
                "limit",
                1..=max,
                &format!("a whole number from 1 to {}", size.max),
            )?
            .map_or(size.default, |n| n as usize))
    }

    /// One of a fixed list of words.
    pub fn one_of(&self, name: &str, words: &[&str]) -> Result<Option<String>> {
        self.text(name)
            .map(|v| {
                words.contains(&v).then(|| v.to_owned()).ok_or_else(|| {
                    Error::invalid(name, format!("must be one of {}", words.join(", ")))
                })
            })
            .transpose()
    }
}

impl<C> Pager<C> {
    /// The `cursor` and `limit` query parameters of an API list; a cursor `parse` does not take is a
    /// 400 `invalid_field` naming `cursor`, a limit out of `size` one naming `limit`.
    pub fn from_query(
        query: &Query,
        size: PageSize,
        parse: impl Fn(&str) -> Option<C>,
    ) -> Result<Pager<C>> {
        let after = query
            .text("cursor")
            .map(|text| {
                parse(text).ok_or_else(|| {
                    Error::invalid("cursor", "must be the next_cursor of an earlier page")
                })
            })
            .transpose()?;
        Ok(Pager {
            after,
            limit: query.limit(size)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_that_do_not_parse_are_refused_by_name() {
        let page = PageSize {
            default: 50,
            max: 200,
        };
        assert_eq!(field(Query::of(&[("since", "abc")]).time("since")), "since");
        assert_eq!(field(Query::of(&[("since", "-1")]).time("since")), "since");
        assert_eq!(field(Query::of(&[("limit", "-5")]).limit(page)), "limit");
        assert_eq!(field(Query::of(&[("limit", "201")]).limit(page)), "limit");
        assert_eq!(field(Query::of(&[("limit", "")]).limit(page)), "limit");
        assert_eq!(Query::of(&[("limit", "7")]).limit(page).unwrap(), 7);
        assert_eq!(Query::of(&[]).limit(page).unwrap(), 50);
        assert_eq!(field(Query::of(&[("limt", "5")]).allow(&["limit"])), "limt");
        let twice = Query::of(&[("limit", "5"), ("limit", "6")]);
        assert_eq!(field(twice.allow(&["limit"])), "limit");
    }

    const PAGE_SIZE: PageSize = PageSize {
        default: 50,
        max: 200,
    };

    fn digits(text: &str) -> Option<i64> {
        text.parse().ok().filter(|n| *n >= 0)
    }

    #[test]
    fn reads_the_cursor_and_limit_and_names_the_one_that_does_not_parse() {
        let pager = Pager::from_query(
            &Query::of(&[("cursor", "42"), ("limit", "3")]),
            PAGE_SIZE,
            digits,
        );
        assert_eq!(
            pager.unwrap(),
            Pager {
                after: Some(42),
                limit: 3
            }
        );
        let first = Pager::from_query(&Query::of(&[]), PAGE_SIZE, digits).unwrap();
        assert_eq!(
            first,
            Pager {
                after: None,
                limit: 50
            }
        );
        for (pairs, field) in [
            (vec![("cursor", "x")], "cursor"),
            (vec![("cursor", "-1")], "cursor"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "201")], "limit"),
        ] {
            match Pager::from_query(&Query::of(&pairs), PAGE_SIZE, digits) {
                Err(Error::Invalid { field: named, .. }) => assert_eq!(named, field),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
    }
}
