//! A template as the customer will see it, a WhatsApp bubble: the header (text or the kind of media),
//! the body with its variables, the footer and the buttons. Variables are pieces of their own, so a page
//! shows `{{1}}` marked, or the value filled in, and compose.js can fill them as they are typed.

use serde_json::Value;

/// A run of text, or a variable (`var`: its number) with what stands in it.
#[derive(Debug, Clone)]
pub struct Piece {
    pub var: Option<usize>,
    pub text: String,
    /// Whether a value was given for the variable (else its `{{n}}` is shown).
    pub filled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Bubble {
    pub header_text: Vec<Piece>,
    /// `IMAGE`, `VIDEO`, `DOCUMENT` or `LOCATION` for a media header.
    pub header_media: Option<String>,
    pub body: Vec<Piece>,
    pub footer: String,
    /// (Meta's kind: `QUICK_REPLY`, `URL`, `PHONE_NUMBER`, ..., its text).
    pub buttons: Vec<(String, String)>,
}

/// A text cut into pieces at its `{{n}}`, each filled from `values` (1-based) when one is given.
pub fn pieces(text: &str, values: &[String]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let Ok(number) = after[..end].trim().parse::<usize>() else {
            out.push(plain(&rest[..start + 2]));
            rest = after;
            continue;
        };
        if start > 0 {
            out.push(plain(&rest[..start]));
        }
        let value = values
            .get(number.wrapping_sub(1))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty());
        out.push(Piece {
            var: Some(number),
            text: value.map_or_else(|| format!("{{{{{number}}}}}"), str::to_owned),
            filled: value.is_some(),
        });
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(plain(rest));
    }
    out
}

fn plain(text: &str) -> Piece {
    Piece {
        var: None,
        text: text.to_owned(),
        filled: false,
    }
}

impl Bubble {
    /// The bubble of Meta's components, its variables filled from `header` and `body` where given.
    pub fn of(components: &Value, header: &[String], body: &[String]) -> Bubble {
        let mut bubble = Bubble::default();
        for component in components.as_array().into_iter().flatten() {
            let kind = component["type"].as_str().unwrap_or_default();
            let text = component["text"].as_str().unwrap_or_default();
            match kind.to_ascii_uppercase().as_str() {
                "HEADER" => match component["format"].as_str().unwrap_or("TEXT") {
                    "TEXT" | "text" => bubble.header_text = pieces(text, header),
                    format => bubble.header_media = Some(format.to_ascii_uppercase()),
                },
                "BODY" => bubble.body = pieces(text, body),
                "FOOTER" => bubble.footer = text.to_owned(),
                "BUTTONS" => {
                    bubble.buttons = component["buttons"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|b| {
                            (
                                b["type"].as_str().unwrap_or_default().to_owned(),
                                b["text"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                }
                _ => {}
            }
        }
        bubble
    }

    /// How many variables the header and the body have (the highest number of each).
    pub fn variables(&self) -> (usize, usize) {
        let highest = |pieces: &[Piece]| pieces.iter().filter_map(|p| p.var).max().unwrap_or(0);
        (highest(&self.header_text), highest(&self.body))
    }

    /// The catalog key of a media header's kind.
    pub fn media_key(&self) -> String {
        format!(
            "templates.media.{}",
            self.header_media
                .as_deref()
                .unwrap_or_default()
                .to_ascii_lowercase()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_pieces_filled_when_given() {
        let got = pieces("Hi {{1}}, order {{2}}.", &["Sara".into()]);
        let texts: Vec<(&str, bool)> = got.iter().map(|p| (p.text.as_str(), p.filled)).collect();
        assert_eq!(
            texts,
            [
                ("Hi ", false),
                ("Sara", true),
                (", order ", false),
                ("{{2}}", false),
                (".", false)
            ]
        );
        assert_eq!(got[3].var, Some(2));
    }
}
