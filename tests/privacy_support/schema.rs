//! A checker for the subset of JSON Schema the export's schema (`assets/export-schema.json`) uses.

use serde_json::Value;

/// Checks `value` against the JSON Schema `schema` (the subset `assets/export-schema.json` uses: type,
/// const, enum, pattern prefix/digits, required, properties, additionalProperties, items, oneOf, $ref).
/// Returns the first mismatch with its path.
pub fn validate(root: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').expect("local references only");
        let target = root.pointer(pointer).expect("the reference resolves");
        return validate(root, target, value, path);
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = choices
            .iter()
            .filter(|c| validate(root, c, value, path).is_ok())
            .count();
        if passing != 1 {
            let why: Vec<String> = choices
                .iter()
                .filter_map(|c| validate(root, c, value, path).err())
                .collect();
            return Err(format!(
                "{path}: {passing} of the oneOf choices match: {why:?}"
            ));
        }
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        return Err(format!("{path}: {value} is not {expected}"));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in the schema at {path}"),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let number = actual == "integer" && types.contains(&"number");
        if !types.contains(&actual) && !number {
            return Err(format!("{path}: {actual} is not {types:?}"));
        }
    }
    if let (Some(pattern), Some(text)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) {
        let ok = match pattern {
            "^[0-9]+$" => !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
            "^[0-9]{4}-[0-9]{2}$" => {
                text.len() == 7
                    && text.as_bytes()[4] == b'-'
                    && text.bytes().filter(u8::is_ascii_digit).count() == 6
            }
            other => panic!("the checker does not know the pattern {other}"),
        };
        if !ok {
            return Err(format!("{path}: {text:?} does not match {pattern}"));
        }
    }
    if let Value::Object(fields) = value {
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = required.as_str().unwrap();
            if !fields.contains_key(name) {
                return Err(format!("{path}: {name} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in fields {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => validate(root, sub, field, &format!("{path}.{name}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{path}: {name} is not in the schema"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
        for (i, element) in items.iter().enumerate() {
            validate(root, item, element, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

/// The shipped schema.
pub fn schema() -> Value {
    serde_json::from_str(include_str!("../../assets/export-schema.json")).unwrap()
}
