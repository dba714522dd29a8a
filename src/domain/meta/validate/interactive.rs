//! Interactive messages (reply buttons, lists, call-to-action URLs): their own rules, read the same way
//! as the other types (the first mistake, in a fixed order, is the one answered).

use super::{array, given, https_url, invalid, object, optional, required, rest, text};
use crate::domain::meta::message::{
    Action, Button, CtaParameters, Header, Interactive, InteractiveType, Reply, Row, Section,
    TextPart,
};
use crate::error::Result;
use serde_json::Value;

pub(super) fn read_interactive(content: &Value) -> Result<Interactive> {
    let kind = required(content, "type", "interactive.type", 32)?;
    let body = object(content, "body", "interactive.body")?;
    let body_limit = if kind == "list" { 4096 } else { 1024 };
    let body = TextPart {
        text: required(body, "text", "interactive.body.text", body_limit)?,
        more: rest(body, &["text"]),
    };
    let footer = match content.get("footer") {
        None => None,
        Some(_) => {
            let footer = object(content, "footer", "interactive.footer")?;
            Some(TextPart {
                text: required(footer, "text", "interactive.footer.text", 60)?,
                more: rest(footer, &["text"]),
            })
        }
    };
    let header = match content.get("header") {
        None => None,
        Some(_) => {
            let header = object(content, "header", "interactive.header")?;
            Some(Header {
                kind: required(header, "type", "interactive.header.type", 32)?,
                text: optional(header, "text", "interactive.header.text", 60)?,
                more: rest(header, &["type", "text"]),
            })
        }
    };
    let action = object(content, "action", "interactive.action")?;
    let (kind, action) = match kind.as_str() {
        "button" => (InteractiveType::Button, read_buttons(action)?),
        "list" => (InteractiveType::List, read_list(action)?),
        "cta_url" => (InteractiveType::CtaUrl, read_cta_url(action)?),
        _ => {
            return Err(invalid(
                "interactive.type",
                "must be button, list or cta_url",
            ));
        }
    };
    Ok(Interactive {
        kind,
        header,
        body,
        footer,
        action,
        more: rest(content, &["type", "header", "body", "footer", "action"]),
    })
}

/// An action with none of its fields typed yet.
fn action_of(action: &Value, typed: &[&str]) -> Action {
    Action {
        buttons: None,
        button: None,
        sections: None,
        name: None,
        parameters: None,
        more: rest(action, typed),
    }
}

fn read_buttons(action: &Value) -> Result<Action> {
    let buttons = array(action, "buttons", "interactive.action.buttons")?;
    if buttons.is_empty() || buttons.len() > 3 {
        return Err(invalid("interactive.action.buttons", "give 1 to 3 buttons"));
    }
    let mut read: Vec<Button> = Vec::with_capacity(buttons.len());
    for (i, button) in buttons.iter().enumerate() {
        let field = format!("interactive.action.buttons[{i}].reply");
        let reply = object(button, "reply", &field)?;
        let id = required(reply, "id", &format!("{field}.id"), 256)?;
        let title = required(reply, "title", &format!("{field}.title"), 20)?;
        if read.iter().any(|b| b.reply.title == title) {
            return Err(invalid(&format!("{field}.title"), "titles must differ"));
        }
        read.push(Button {
            reply: Reply {
                id,
                title,
                more: rest(reply, &["id", "title"]),
            },
            more: rest(button, &["reply"]),
        });
    }
    Ok(Action {
        buttons: Some(read),
        ..action_of(action, &["buttons"])
    })
}

fn read_list(action: &Value) -> Result<Action> {
    let button = required(action, "button", "interactive.action.button", 20)?;
    let sections = array(action, "sections", "interactive.action.sections")?;
    if sections.is_empty() || sections.len() > 10 {
        return Err(invalid(
            "interactive.action.sections",
            "give 1 to 10 sections",
        ));
    }
    let mut rows = 0;
    let mut read = Vec::with_capacity(sections.len());
    for (s, section) in sections.iter().enumerate() {
        let field = format!("interactive.action.sections[{s}]");
        if !section.is_object() {
            return Err(invalid(&field, "must be an object"));
        }
        let title = text(
            section,
            "title",
            &format!("{field}.title"),
            24,
            sections.len() > 1,
        )?
        .map(str::to_owned);
        let rows_field = format!("{field}.rows");
        let mut section_rows = Vec::new();
        for (r, row) in array(section, "rows", &rows_field)?.iter().enumerate() {
            let field = format!("{rows_field}[{r}]");
            section_rows.push(Row {
                id: required(row, "id", &format!("{field}.id"), 200)?,
                title: required(row, "title", &format!("{field}.title"), 24)?,
                description: optional(row, "description", &format!("{field}.description"), 72)?,
                more: rest(row, &["id", "title", "description"]),
            });
            rows += 1;
        }
        read.push(Section {
            title,
            rows: given(section, "rows").then_some(section_rows),
            more: rest(section, &["title", "rows"]),
        });
    }
    if !(1..=10).contains(&rows) {
        return Err(invalid(
            "interactive.action.sections",
            "give 1 to 10 rows across all sections",
        ));
    }
    Ok(Action {
        button: Some(button),
        sections: Some(read),
        ..action_of(action, &["button", "sections"])
    })
}

fn read_cta_url(action: &Value) -> Result<Action> {
    if action.get("name").and_then(Value::as_str) != Some("cta_url") {
        return Err(invalid("interactive.action.name", "must be cta_url"));
    }
    let parameters = object(action, "parameters", "interactive.action.parameters")?;
    let display_text = required(
        parameters,
        "display_text",
        "interactive.action.parameters.display_text",
        20,
    )?;
    let url = required(parameters, "url", "interactive.action.parameters.url", 2000)?;
    https_url(&url, "interactive.action.parameters.url")?;
    Ok(Action {
        name: Some("cta_url".to_owned()),
        parameters: Some(CtaParameters {
            display_text,
            url,
            more: rest(parameters, &["display_text", "url"]),
        }),
        ..action_of(action, &["name", "parameters"])
    })
}
