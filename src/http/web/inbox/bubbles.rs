//! A message of a thread in words, for the conversation page: what a customer sent of any type Meta
//! delivers, and what was sent to them with its status.

use crate::http::web::page::Page;
use crate::store::conversations;
use serde_json::Value;

/// Media shown in a message: fetched through `/inbox/media/...` when the page shows it.
pub(super) struct Media {
    pub(super) url: String,
    /// img, audio, video or link.
    pub(super) element: &'static str,
    pub(super) name: String,
}

/// One message of a thread, in words.
pub(super) struct Bubble {
    /// The message's id (inbound or outbound), for the live view.
    pub(super) id: String,
    pub(super) inbound: bool,
    pub(super) at: i64,
    pub(super) kind: String,
    pub(super) text: Option<String>,
    pub(super) details: Vec<String>,
    pub(super) media: Option<Media>,
    pub(super) map: Option<String>,
    pub(super) status: Option<String>,
    pub(super) error: Option<String>,
    pub(super) unread: bool,
}

pub(super) fn text_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn number_at(value: &Value, key: &str) -> Option<f64> {
    match value.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A location as words and a map link.
fn place(page: &Page, location: &Value, bubble: &mut Bubble) {
    bubble.text = text_at(location, "/name");
    bubble.details.extend(text_at(location, "/address"));
    if let (Some(lat), Some(lon)) = (
        number_at(location, "latitude"),
        number_at(location, "longitude"),
    ) {
        bubble.details.push(format!("{lat}, {lon}"));
        bubble.map = Some(format!(
            "https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"
        ));
    }
    if bubble.text.is_none() {
        bubble.text = Some(page.t("inbox.location").to_owned());
    }
}

/// Contact cards as "name: numbers" lines.
fn cards(cards: &Value) -> Vec<String> {
    cards
        .as_array()
        .into_iter()
        .flatten()
        .map(|card| {
            let name = text_at(card, "/name/formatted_name").unwrap_or_default();
            let phones: Vec<String> = card["phones"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| text_at(p, "/phone").or_else(|| text_at(p, "/wa_id")))
                .collect();
            format!("{name}: {}", phones.join(", "))
        })
        .collect()
}

pub(super) fn inbound_bubble(page: &Page, item: &Value) -> Bubble {
    let kind = item["type"].as_str().unwrap_or("unsupported").to_owned();
    let message = &item["message"];
    let inbound_id = item["id"].as_str().unwrap_or_default();
    let mut bubble = Bubble {
        id: inbound_id.to_owned(),
        inbound: true,
        at: item["at"].as_i64().unwrap_or_default(),
        kind: kind.clone(),
        text: None,
        details: Vec::new(),
        media: None,
        map: None,
        status: None,
        error: None,
        unread: item["seen_at"].is_null(),
    };
    let content = &message[kind.as_str()];
    match kind.as_str() {
        "text" => bubble.text = text_at(content, "/body"),
        "image" | "sticker" | "video" | "audio" | "document" => {
            bubble.text = text_at(content, "/caption");
            if let Some(media_id) = conversations::media_id(message) {
                let element = match kind.as_str() {
                    "image" | "sticker" => "img",
                    "video" => "video",
                    "audio" => "audio",
                    _ => "link",
                };
                bubble.media = Some(Media {
                    url: format!("/inbox/media/{inbound_id}/{media_id}"),
                    element,
                    name: text_at(content, "/filename")
                        .unwrap_or_else(|| page.term("inbox_kind", &kind)),
                });
            }
        }
        "location" => place(page, content, &mut bubble),
        "contacts" => bubble.details = cards(content),
        "interactive" => match content["type"].as_str().unwrap_or_default() {
            "button_reply" => {
                bubble.text = text_at(content, "/button_reply/title");
                bubble.details.push(page.t("inbox.reply_button").to_owned());
            }
            "list_reply" => {
                bubble.text = text_at(content, "/list_reply/title");
                bubble.details.push(page.t("inbox.list_choice").to_owned());
                bubble
                    .details
                    .extend(text_at(content, "/list_reply/description"));
            }
            _ => {
                bubble.text = Some(page.t("inbox.flow_sent").to_owned());
                bubble.details.extend(text_at(content, "/nfm_reply/body"));
            }
        },
        "button" => {
            bubble.text = text_at(content, "/text");
            bubble.details.push(page.t("inbox.reply_button").to_owned());
        }
        "reaction" => {
            bubble.text = Some(match text_at(content, "/emoji") {
                Some(emoji) => page.t("inbox.reacted").replace("{emoji}", &emoji),
                None => page.t("inbox.reaction_removed").to_owned(),
            });
        }
        "order" => {
            let items = content["product_items"].as_array().map_or(0, Vec::len) as i64;
            bubble.text = text_at(content, "/text");
            bubble.details.push(
                page.t("inbox.order_items")
                    .replace("{count}", &page.number(&items)),
            );
        }
        "system" => bubble.text = text_at(content, "/body"),
        "request_welcome" => bubble.text = Some(page.t("inbox.welcome").to_owned()),
        _ => {
            bubble.kind = "unsupported".into();
            bubble.text = Some(page.t("inbox.unsupported").to_owned());
            bubble.details.extend(
                text_at(message, "/errors/0/title")
                    .or_else(|| text_at(message, "/errors/0/message")),
            );
        }
    }
    bubble
}

pub(super) fn outbound_bubble(page: &Page, item: &Value) -> Bubble {
    let kind = item["type"].as_str().unwrap_or_default().to_owned();
    let content = &item["message"];
    let mut bubble = Bubble {
        id: item["id"].as_str().unwrap_or_default().to_owned(),
        inbound: false,
        at: item["at"].as_i64().unwrap_or_default(),
        kind: kind.clone(),
        text: None,
        details: Vec::new(),
        media: None,
        map: None,
        status: item["status"]
            .as_str()
            .map(|s| page.term("message_status", s)),
        error: item.get("error").filter(|e| !e.is_null()).map(|e| {
            let words = e["explanation"]
                .as_str()
                .or(e["title"].as_str())
                .unwrap_or_default();
            format!("#{} {words}", e["code"])
        }),
        unread: false,
    };
    match kind.as_str() {
        "text" => bubble.text = text_at(content, "/body"),
        "template" => {
            bubble.text = text_at(content, "/name");
            bubble.details.extend(text_at(content, "/language/code"));
            for parameter in content["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["parameters"].as_array().into_iter().flatten())
            {
                bubble.details.extend(text_at(parameter, "/text"));
            }
        }
        "image" | "video" | "document" | "audio" | "sticker" => {
            bubble.text = text_at(content, "/caption");
            bubble
                .details
                .extend(text_at(content, "/link").or_else(|| text_at(content, "/id")));
        }
        "interactive" => bubble.text = text_at(content, "/body/text"),
        "reaction" => bubble.text = text_at(content, "/emoji"),
        "location" => place(page, content, &mut bubble),
        "contacts" => bubble.details = cards(content),
        _ => {}
    }
    bubble
}
