//! Meta's rules, one request at a time: what passes, and the field and words of what does not.

use super::*;
use serde_json::json;

#[test]
fn phone_numbers_normalise_to_e164_digits() {
    assert_eq!(
        normalize_phone("+965 5000-1234").as_deref(),
        Some("96550001234")
    );
    assert_eq!(
        normalize_phone("00965 (500) 01234").as_deref(),
        Some("96550001234")
    );
    assert_eq!(
        normalize_phone("+٩٦٥ ٥٠٠٠-١٢٣٤").as_deref(),
        Some("96550001234")
    );
    assert_eq!(
        normalize_phone("۰۰۹۶۵۵۰۰۰۱۲۳۴").as_deref(),
        Some("96550001234")
    );
    assert_eq!(normalize_phone("0500"), None);
    assert_eq!(normalize_phone("+1234567890123456"), None);
    assert_eq!(normalize_phone("+9655000abcd"), None);
    let once = normalize_phone("+44 20 7946 0958").unwrap();
    assert_eq!(
        normalize_phone(&once).as_deref(),
        Some(once.as_str()),
        "idempotent"
    );
}

#[test]
fn each_kind_of_mistake_names_its_field() {
    let cases = [
        (
            json!({"to": "123", "type": "text", "text": {"body": "hi"}}),
            "to",
        ),
        (
            json!({"to": "+96550001234", "type": "fax", "fax": {}}),
            "type",
        ),
        (
            json!({"to": "+96550001234", "type": "text", "text": {"body": ""}}),
            "text.body",
        ),
        (
            json!({"to": "+96550001234", "type": "text", "text": {"body": "x".repeat(4097)}}),
            "text.body",
        ),
        (
            json!({"to": "+96550001234", "type": "image", "image": {}}),
            "image.id",
        ),
        (
            json!({"to": "+96550001234", "type": "image", "image": {"link": "http://x.test/a.png"}}),
            "image.link",
        ),
        (
            json!({"to": "+96550001234", "type": "sticker", "sticker": {"id": "1", "caption": "no"}}),
            "sticker.caption",
        ),
        (
            json!({"to": "+96550001234", "type": "location", "location": {"latitude": 91, "longitude": 0}}),
            "location.latitude",
        ),
        (
            json!({"to": "+96550001234", "type": "template", "template": {"name": "x"}}),
            "template.language",
        ),
        (
            json!({"to": "+96550001234", "type": "reaction", "reaction": {"emoji": "👍"}}),
            "reaction.message_id",
        ),
    ];
    for (request, field) in cases {
        match check(&request) {
            Err(Error::Invalid { field: got, .. }) => assert_eq!(got, field, "{request}"),
            other => panic!("{request} gave {other:?}"),
        }
    }
}

#[test]
fn interactive_limits_are_meta_s() {
    let buttons = |n: usize| -> Vec<Value> {
        (0..n).map(|i| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": format!("Option {i}")}})).collect()
    };
    let message = |buttons: Vec<Value>| {
        json!({"to": "+96550001234", "type": "interactive", "interactive": {
            "type": "button", "body": {"text": "Choose"}, "action": {"buttons": buttons}}})
    };
    assert!(check(&message(buttons(3))).is_ok());
    assert!(
        check(&message(buttons(4))).is_err(),
        "at most three buttons"
    );
    let long_title = vec![json!({"type": "reply", "reply": {"id": "a", "title": "x".repeat(21)}})];
    assert!(
        check(&message(long_title)).is_err(),
        "titles up to 20 characters"
    );
}

#[test]
fn fields_outside_meta_s_message_are_refused_by_name() {
    let message = |extra: Value| {
        let mut m = json!({"connection_id": "1", "to": "+96550001234", "type": "text", "text": {"body": "hi"}});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    assert!(
        check(&message(
            json!({"messaging_product": "whatsapp", "recipient_type": "individual"})
        ))
        .is_ok()
    );
    for (extra, field) in [
        (json!({"messaging_product": "sms"}), "messaging_product"),
        (json!({"recipient_type": "group"}), "recipient_type"),
        (json!({"image": {"id": "1"}}), "image"),
        (
            json!({"biz_opaque_callback_data": "x"}),
            "biz_opaque_callback_data",
        ),
        (json!({"preview_url": true}), "preview_url"),
        (json!({"context": "wamid.1"}), "context"),
    ] {
        match check(&message(extra.clone())) {
            Err(Error::Invalid { field: got, .. }) => assert_eq!(got, field, "{extra}"),
            other => panic!("{extra} gave {other:?}"),
        }
    }
    let template = json!({"to": "+96550001234", "type": "template", "template": {
        "name": "x", "language": {"code": "en"}, "components": [{"type": "body", "parameters": ["42"]}]}});
    match check(&template) {
        Err(Error::Invalid { field, .. }) => {
            assert_eq!(field, "template.components[0].parameters[0]")
        }
        other => panic!("{other:?}"),
    }
}

/// A message reads into the types and writes back as it was given: Meta's fields the server does not
/// check, and nulls, included. The Idempotency-Key's digest and `GET /api/v1/messages/<id>` rely on it.
#[test]
fn a_message_reads_back_as_it_was_given() {
    let messages = [
        json!({"to": "+965 5000 1234", "text": {"body": "hi"}}),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+96550001234",
            "type": "text", "text": {"body": "hi", "preview_url": true}, "context": {"message_id": "wamid.1"}}),
        json!({"to": "+96550001234", "type": "template", "template": {"name": "order", "language": {"code": "en", "policy": "deterministic"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}, {"type": "currency", "currency": {"code": "KWD", "amount_1000": 1500}}]},
                           {"type": "button", "sub_type": "url", "index": "0"}]}}),
        json!({"to": "+96550001234", "type": "image", "image": {"link": "https://x.test/a.png", "caption": null}}),
        json!({"to": "+96550001234", "type": "document", "document": {"id": "55", "filename": "a.pdf", "caption": "A"}}),
        json!({"to": "+96550001234", "type": "sticker", "sticker": {"id": "1", "filename": "s.webp"}}),
        json!({"to": "+96550001234", "type": "location", "location": {"latitude": 29, "longitude": 47.97, "name": null}}),
        json!({"to": "+96550001234", "type": "contacts", "contacts": [{"name": {"formatted_name": "Sara", "first_name": "Sara"}, "phones": [{"phone": "+96550001234"}]}]}),
        json!({"to": "+96550001234", "type": "interactive", "interactive": {"type": "button",
            "header": {"type": "image", "image": {"link": "https://x.test/a.png"}}, "body": {"text": "Choose"}, "footer": {"text": "f"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}], "sections": "not read for buttons"}}}),
        json!({"to": "+96550001234", "type": "interactive", "interactive": {"type": "list", "body": {"text": "Pick"},
            "action": {"button": "Menu", "sections": [{"title": "A", "rows": [{"id": "1", "title": "One", "description": null}]},
                                                       {"title": "B", "rows": null}]}}}),
        json!({"to": "+96550001234", "type": "interactive", "interactive": {"type": "cta_url", "body": {"text": "See"},
            "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://x.test"}}}}),
        json!({"to": "+96550001234", "type": "reaction", "reaction": {"message_id": "wamid.1", "emoji": ""}}),
    ];
    for given in messages {
        let message = check(&given).unwrap_or_else(|e| panic!("{given}: {e:?}"));
        assert_eq!(serde_json::to_value(&message).unwrap(), given);
        // What goes to Meta: the normalised number, the type, and the object as given.
        let outgoing = serde_json::to_value(message.outgoing()).unwrap();
        let kind = message.kind().as_str();
        assert_eq!(outgoing["to"], "96550001234");
        assert_eq!(outgoing["type"], kind);
        assert_eq!(outgoing[kind], given[kind]);
        assert_eq!(
            outgoing["context"],
            given.get("context").cloned().unwrap_or(Value::Null)
        );
    }
}
