//! One way to page through a list: the `cursor` a page continues from (the `next_cursor` of the page
//! before), how many items it holds (`limit`), and the `next_cursor` it hands out, set only when the page
//! came back full. The API's lists read both strictly; the inbox's pages read the cursor leniently (a
//! stale link starts from the top).

use super::query::{PageSize, Query};
use crate::error::{Error, Result};

/// The page a list request asks for: the item to continue after, and at most how many items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pager<C> {
    pub after: Option<C>,
    pub limit: usize,
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

    /// A page of `limit` items after `cursor`, a cursor `parse` does not take reading as the first page.
    pub fn lenient(
        cursor: Option<&str>,
        limit: usize,
        parse: impl Fn(&str) -> Option<C>,
    ) -> Pager<C> {
        Pager {
            after: cursor.and_then(parse),
            limit,
        }
    }

    /// The `next_cursor` for `page`: the cursor of its last item, when the page is full (a shorter page
    /// is the last one).
    pub fn next_cursor<T>(
        &self,
        page: &[T],
        cursor_of: impl FnOnce(&T) -> Option<String>,
    ) -> Option<String> {
        if page.len() < self.limit {
            return None;
        }
        page.last().and_then(cursor_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: PageSize = PageSize {
        default: 50,
        max: 200,
    };

    fn digits(text: &str) -> Option<i64> {
        text.parse().ok().filter(|n| *n >= 0)
    }

    fn query(pairs: &[(&str, &str)]) -> Query {
        Query::of(pairs)
    }

    #[test]
    fn reads_the_cursor_and_limit_and_names_the_one_that_does_not_parse() {
        let pager = Pager::from_query(&query(&[("cursor", "42"), ("limit", "3")]), SIZE, digits);
        assert_eq!(
            pager.unwrap(),
            Pager {
                after: Some(42),
                limit: 3
            }
        );
        let first = Pager::from_query(&query(&[]), SIZE, digits).unwrap();
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
            match Pager::from_query(&query(&pairs), SIZE, digits) {
                Err(Error::Invalid { field: named, .. }) => assert_eq!(named, field),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn only_a_full_page_has_a_next_cursor() {
        let pager = Pager::<i64> {
            after: None,
            limit: 2,
        };
        let cursor = |n: &i64| Some(n.to_string());
        assert_eq!(pager.next_cursor(&[7, 8], cursor), Some("8".into()));
        assert_eq!(pager.next_cursor(&[7], cursor), None);
        assert_eq!(pager.next_cursor::<i64>(&[], cursor), None);
    }

    #[test]
    fn a_stale_cursor_in_a_page_link_reads_as_the_first_page() {
        assert_eq!(Pager::lenient(Some("x"), 5, digits).after, None);
        assert_eq!(Pager::lenient(Some("9"), 5, digits).after, Some(9));
    }
}
