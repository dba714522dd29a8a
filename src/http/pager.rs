//! One way to page through a list: the `cursor` a page continues from (the `next_cursor` of the page
//! before), how many items it holds (`limit`), and the `next_cursor` it hands out, set only when the page
//! came back full. The API's lists read both strictly (`Pager::from_query`, with the API's query string);
//! the inbox's pages read the cursor leniently (a stale link starts from the top).

/// The page a list request asks for: the item to continue after, and at most how many items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pager<C> {
    pub after: Option<C>,
    pub limit: usize,
}

impl<C> Pager<C> {
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

    fn digits(text: &str) -> Option<i64> {
        text.parse().ok().filter(|n| *n >= 0)
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
