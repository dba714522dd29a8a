//! The template picker of the compose page: the approved templates of the account's numbers, which one
//! the form chose (the number's first when it named none), and for each one its variables' fields and
//! its own bubble, filled with what was typed.

use super::ComposeForm;
use crate::http::web::page::Page;
use crate::http::web::templates::bubble::Bubble;
use crate::store::templates::Template;

/// An approved template of one of the account's numbers.
pub struct Approved {
    pub connection_id: String,
    pub name: String,
    pub language: String,
    pub bubble: Bubble,
}

impl Approved {
    pub fn of(template: &Template) -> Approved {
        Approved {
            connection_id: template.connection_id.clone(),
            name: template.name.clone(),
            language: template.language.clone(),
            bubble: Bubble::of(&template.components, &[], &[]),
        }
    }
}

/// One template as the picker shows it: its fields and bubble (with the form's values when it is the
/// chosen one).
pub struct Choice {
    pub index: usize,
    pub connection_id: String,
    pub name: String,
    pub language: String,
    pub language_name: String,
    pub chosen: bool,
    pub header_values: Vec<String>,
    pub body_values: Vec<String>,
    pub media: Option<String>,
    pub header_link: String,
    pub bubble: Bubble,
}

/// Which approved template the form chose, if any: its number, name and language, else the first of
/// the number (and of the name).
pub fn chosen<'a>(form: &ComposeForm<'_>, approved: &'a [Approved]) -> Option<&'a Approved> {
    let of_number: Vec<&Approved> = approved
        .iter()
        .filter(|t| t.connection_id == form.connection_id)
        .collect();
    let named: Vec<&Approved> = of_number
        .iter()
        .copied()
        .filter(|t| t.name == form.template_name)
        .collect();
    let candidates = if named.is_empty() { of_number } else { named };
    candidates
        .iter()
        .find(|t| t.language == form.template_language)
        .or_else(|| candidates.first())
        .copied()
}

/// Every approved template as the picker shows it.
pub fn choices(page: &Page, form: &ComposeForm<'_>, approved: &[Approved]) -> Vec<Choice> {
    let picked = chosen(form, approved);
    approved
        .iter()
        .enumerate()
        .map(|(index, template)| {
            let is_chosen = picked.is_some_and(|p| std::ptr::eq(p, template));
            let (header_vars, body_vars) = template.bubble.variables();
            let fill = |given: &[String], wanted: usize| -> Vec<String> {
                (0..wanted)
                    .map(|i| match is_chosen {
                        true => given.get(i).cloned().unwrap_or_default(),
                        false => String::new(),
                    })
                    .collect()
            };
            let header_values = fill(&form.header_params, header_vars);
            let body_values = fill(&form.body_params, body_vars);
            let bubble = match is_chosen {
                true => {
                    let mut filled = template.bubble.clone();
                    filled.header_text = refill(&filled.header_text, &header_values);
                    filled.body = refill(&filled.body, &body_values);
                    filled
                }
                false => template.bubble.clone(),
            };
            Choice {
                index,
                connection_id: template.connection_id.clone(),
                name: template.name.clone(),
                language: template.language.clone(),
                language_name: page.term("templates.languages", &template.language),
                chosen: is_chosen,
                header_values,
                body_values,
                media: template.bubble.header_media.clone(),
                header_link: if is_chosen {
                    form.header_link.clone()
                } else {
                    String::new()
                },
                bubble,
            }
        })
        .collect()
}

/// The pieces with their variables filled from `values` (1-based).
fn refill(
    pieces: &[crate::http::web::templates::bubble::Piece],
    values: &[String],
) -> Vec<crate::http::web::templates::bubble::Piece> {
    pieces
        .iter()
        .map(|piece| match piece.var {
            Some(n) => match values.get(n.wrapping_sub(1)).map(|v| v.trim()) {
                Some(v) if !v.is_empty() => crate::http::web::templates::bubble::Piece {
                    var: Some(n),
                    text: v.to_owned(),
                    filled: true,
                },
                _ => piece.clone(),
            },
            None => piece.clone(),
        })
        .collect()
}
