//! A message as Meta's Cloud API takes it, typed: the object named by `type` is one variant of
//! [`Content`]. [`super::validate`] reads these types from a request and checks Meta's rules on them;
//! the sender posts [`Outgoing`] to Meta; the API's OpenAPI document describes them.
//!
//! Only the fields the server checks are typed. Meta's message has many more (template parameter kinds,
//! interactive headers with media, ...): each object keeps those in `more`, exactly as given, and passes
//! them on for Meta to judge. A field given as `null` stays there too, so a message reads back as it was
//! sent (what the Idempotency-Key compares, and what `GET /api/v1/messages/<id>` shows). The schemas
//! leave `more` out: they do not forbid other properties, which is how JSON Schema says "more may come".

use serde::Serialize;
use serde_json::{Number, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Meta's fields that the server does not check, passed on as given.
pub type More = BTreeMap<String, Value>;

/// The kinds of message, as `type` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Text,
    Template,
    Image,
    Audio,
    Video,
    Document,
    Sticker,
    Location,
    Contacts,
    Interactive,
    Reaction,
}

impl MessageType {
    pub const ALL: [MessageType; 11] = [
        MessageType::Text,
        MessageType::Template,
        MessageType::Image,
        MessageType::Audio,
        MessageType::Video,
        MessageType::Document,
        MessageType::Sticker,
        MessageType::Location,
        MessageType::Contacts,
        MessageType::Interactive,
        MessageType::Reaction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Text => "text",
            MessageType::Template => "template",
            MessageType::Image => "image",
            MessageType::Audio => "audio",
            MessageType::Video => "video",
            MessageType::Document => "document",
            MessageType::Sticker => "sticker",
            MessageType::Location => "location",
            MessageType::Contacts => "contacts",
            MessageType::Interactive => "interactive",
            MessageType::Reaction => "reaction",
        }
    }

    pub fn parse(name: &str) -> Option<MessageType> {
        MessageType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// `messaging_product`: always `whatsapp`; may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum MessagingProduct {
    #[serde(rename = "whatsapp")]
    Whatsapp,
}

/// `recipient_type`: always `individual`; may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum RecipientType {
    #[serde(rename = "individual")]
    Individual,
}

/// Meta's message JSON as a request gives it (without the API's own `connection_id`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<MessagingProduct>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_type: Option<RecipientType>,
    /// The customer's number in international format, e.g. `+96550001234` (spaces, dashes, dots and
    /// parentheses are ignored; `00` works as `+`).
    #[schema(example = "+96550001234")]
    pub to: String,
    /// Which object the message carries; `text` when left out.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageType>,
    /// Makes the message a reply to an earlier one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    #[serde(flatten)]
    pub content: Content,
    /// `to` in E.164 digits, without the "+".
    #[serde(skip)]
    pub recipient: String,
}

impl Message {
    pub fn kind(&self) -> MessageType {
        self.content.kind()
    }

    /// What is posted to Meta for this message.
    pub fn outgoing(&self) -> Outgoing<'_> {
        Outgoing {
            messaging_product: MessagingProduct::Whatsapp,
            recipient_type: RecipientType::Individual,
            to: &self.recipient,
            kind: self.kind(),
            content: &self.content,
            context: self.context.as_ref(),
        }
    }
}

/// The body of Meta's `POST /<phone-number-id>/messages`, as stored in the outbox.
#[derive(Debug, Serialize)]
pub struct Outgoing<'a> {
    pub messaging_product: MessagingProduct,
    pub recipient_type: RecipientType,
    pub to: &'a str,
    #[serde(rename = "type")]
    pub kind: MessageType,
    #[serde(flatten)]
    pub content: &'a Content,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<&'a Context>,
}

/// The object named by `type`, under that name (`"text": {...}`, `"contacts": [...]`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Content {
    Text(Text),
    Template(Template),
    Image(Media),
    Audio(Media),
    Video(Media),
    Document(Media),
    Sticker(Media),
    Location(Location),
    Contacts(Vec<Contact>),
    Interactive(Box<Interactive>),
    Reaction(Reaction),
}

impl Content {
    pub fn kind(&self) -> MessageType {
        match self {
            Content::Text(_) => MessageType::Text,
            Content::Template(_) => MessageType::Template,
            Content::Image(_) => MessageType::Image,
            Content::Audio(_) => MessageType::Audio,
            Content::Video(_) => MessageType::Video,
            Content::Document(_) => MessageType::Document,
            Content::Sticker(_) => MessageType::Sticker,
            Content::Location(_) => MessageType::Location,
            Content::Contacts(_) => MessageType::Contacts,
            Content::Interactive(_) => MessageType::Interactive,
            Content::Reaction(_) => MessageType::Reaction,
        }
    }
}

/// What a form (the compose page, an inbox reply) gives: the number and connection as typed, the type
/// as chosen, and the message's object. Checked only when read as a request
/// (`services::messages::SendMessage::compose`), so a form gets the API's answers.
#[derive(Debug, Clone, Serialize)]
pub struct Draft<'a> {
    pub connection_id: &'a str,
    pub to: &'a str,
    /// Normally `content.kind()`; a form's own word otherwise, for the request to refuse.
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(flatten)]
    pub content: &'a Content,
}

/// `context`: the message this one replies to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Context {
    /// The wamid of the earlier message, up to 256 characters.
    pub message_id: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

/// `text`: up to 4096 characters.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Text {
    #[schema(example = "Your order has shipped")]
    pub body: String,
    /// Shows a preview of the first URL in the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<bool>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

impl Text {
    pub fn new(body: &str) -> Text {
        Text {
            body: body.to_owned(),
            preview_url: None,
            more: More::new(),
        }
    }
}

/// `template`: a template approved on the number, in one of its languages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Template {
    /// Up to 512 characters.
    pub name: String,
    pub language: Language,
    /// The values of the template's variables; the body's must be as many as it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Component>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Language {
    /// e.g. `en_US`, up to 15 characters.
    pub code: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Component {
    /// `header`, `body`, `button`, ...
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<Parameter>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

/// A template variable's value: `type` names it (`text`, `currency`, `image`, ...) and Meta judges the rest.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Parameter {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

impl Template {
    /// A template with its body's variables as text, in order (no components when there are none).
    pub fn with_body_text(name: &str, language: &str, values: &[&str]) -> Template {
        let parameters: Vec<Parameter> = values
            .iter()
            .map(|value| Parameter {
                kind: "text".to_owned(),
                more: More::from([("text".to_owned(), Value::String((*value).to_owned()))]),
            })
            .collect();
        Template {
            name: name.to_owned(),
            language: Language {
                code: language.to_owned(),
                more: More::new(),
            },
            components: (!parameters.is_empty()).then(|| {
                vec![Component {
                    kind: "body".to_owned(),
                    parameters: Some(parameters),
                    more: More::new(),
                }]
            }),
            more: More::new(),
        }
    }
}

/// Meta's fields the server passes on, from a value of known shape (a form's contact card).
pub fn more_of(fields: &[(&str, Value)]) -> More {
    fields
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

/// `image`, `audio`, `video`, `document`, `sticker`: a media id uploaded to Meta, or an https link.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Media {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Images, videos and documents only; up to 1024 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Documents only; up to 240 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

impl Media {
    pub fn link(link: &str, caption: Option<&str>) -> Media {
        Media {
            id: None,
            link: Some(link.to_owned()),
            caption: caption.map(str::to_owned),
            filename: None,
            more: More::new(),
        }
    }
}

/// `location`: a point on the map.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Location {
    /// -90 to 90.
    #[schema(value_type = f64)]
    pub latitude: Number,
    /// -180 to 180.
    #[schema(value_type = f64)]
    pub longitude: Number,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

impl Location {
    /// A point; none for a coordinate that is not a finite number.
    pub fn new(
        latitude: f64,
        longitude: f64,
        name: Option<&str>,
        address: Option<&str>,
    ) -> Option<Location> {
        Some(Location {
            latitude: Number::from_f64(latitude)?,
            longitude: Number::from_f64(longitude)?,
            name: name.map(str::to_owned),
            address: address.map(str::to_owned),
            more: More::new(),
        })
    }
}

/// One contact card of `contacts` (1 to 20 of them).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact {
    pub name: ContactName,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactName {
    pub formatted_name: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

/// The kinds of interactive message the server checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InteractiveType {
    Button,
    List,
    CtaUrl,
}

/// `interactive`: reply buttons, a list, or a call-to-action URL.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Interactive {
    #[serde(rename = "type")]
    pub kind: InteractiveType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Header>,
    /// Up to 4096 characters for a list, 1024 otherwise.
    pub body: TextPart,
    /// Up to 60 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<TextPart>,
    pub action: Action,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TextPart {
    pub text: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Header {
    /// `text`, `image`, `video` or `document`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Up to 60 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

/// What the customer can do: `buttons` (button), `button` and `sections` (list), `name` and
/// `parameters` (cta_url).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Action {
    /// 1 to 3 reply buttons with different titles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<Button>>,
    /// The list's button text, up to 20 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    /// 1 to 10 sections, with 1 to 10 rows across them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<Section>>,
    /// `cta_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<CtaParameters>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Button {
    pub reply: Reply,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reply {
    /// Up to 256 characters.
    pub id: String,
    /// Up to 20 characters.
    pub title: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Section {
    /// Up to 24 characters; required when there is more than one section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Row>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Row {
    /// Up to 200 characters.
    pub id: String,
    /// Up to 24 characters.
    pub title: String,
    /// Up to 72 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CtaParameters {
    /// Up to 20 characters.
    pub display_text: String,
    /// An https:// URL.
    pub url: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}

impl TextPart {
    pub fn new(text: &str) -> TextPart {
        TextPart {
            text: text.to_owned(),
            more: More::new(),
        }
    }
}

impl Action {
    /// An action with none of its fields: each kind of interactive message sets its own.
    pub fn empty() -> Action {
        Action {
            buttons: None,
            button: None,
            sections: None,
            name: None,
            parameters: None,
            more: More::new(),
        }
    }
}

impl Interactive {
    pub fn new(kind: InteractiveType, body: &str, action: Action) -> Interactive {
        Interactive {
            kind,
            header: None,
            body: TextPart::new(body),
            footer: None,
            action,
            more: More::new(),
        }
    }
}

impl Reaction {
    pub fn new(message_id: &str, emoji: &str) -> Reaction {
        Reaction {
            message_id: message_id.to_owned(),
            emoji: emoji.to_owned(),
            more: More::new(),
        }
    }
}

/// `reaction`: an emoji on an earlier message; an empty emoji removes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reaction {
    pub message_id: String,
    pub emoji: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub more: More,
}
