//! Reading the pages: an element's HTML or text by its id, the recovery codes, HTML's escapes undone.

/// The recovery codes of a page (`<ol id="recovery-codes">`, one `<li>` each), as text.
pub fn recovery_codes(html: &str) -> Vec<String> {
    let Some(list) = element_html(html, "recovery-codes") else {
        return Vec::new();
    };
    list.split("<li")
        .skip(1)
        .map(|item| {
            let inner = &item[item.find('>').map_or(0, |at| at + 1)..];
            let inner = &inner[..inner.find("</li>").unwrap_or(inner.len())];
            strip_tags(inner).trim().to_owned()
        })
        .collect()
}

/// The HTML inside the element with this id (up to its closing tag of the same name, not nested).
pub fn element_html(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let open = html[..at].rfind('<')?;
    let tag: String = html[open + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let start = at + html[at..].find('>')? + 1;
    let close = format!("</{tag}>");
    // Counts nested elements of the same name, so a <div> holding <div>s ends at its own close.
    let (mut depth, mut cursor) = (1, start);
    let opening = format!("<{tag}");
    loop {
        let next_close = cursor + html[cursor..].find(&close)?;
        let next_open = html[cursor..next_close]
            .match_indices(&opening)
            .map(|(i, _)| cursor + i)
            .find(|&i| {
                html[i + opening.len()..].starts_with(|c: char| c.is_whitespace() || c == '>')
            });
        match next_open {
            Some(i) => {
                depth += 1;
                cursor = i + opening.len();
            }
            None => {
                depth -= 1;
                if depth == 0 {
                    return Some(html[start..next_close].to_owned());
                }
                cursor = next_close + close.len();
            }
        }
    }
}

/// The text of the element with this id, tags removed.
pub fn text_of(html: &str, id: &str) -> Option<String> {
    element_html(html, id).map(|inner| strip_tags(&inner).trim().to_owned())
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// HTML's escapes undone (those askama writes).
pub fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
