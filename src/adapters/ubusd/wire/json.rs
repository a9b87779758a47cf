//! Blobmsg to JSON and back, as the `ubus` command-line tool and libubox's
//! `blobmsg_format_json` / `blobmsg_add_json_element` convert them.

use serde_json::{Map, Number, Value};

use super::{Blobmsg, Field, WireError, MAX_DEPTH};

/// Blobmsg to JSON as libubox's `blobmsg_format_json` prints it: INT8 is a boolean, every
/// integer width a number, UNSPEC null. A double that JSON cannot hold (NaN, infinity) is null.
pub fn to_json(value: &Blobmsg) -> Value {
    match value {
        Blobmsg::Unspec => Value::Null,
        Blobmsg::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Blobmsg::Table(fields) => table_to_json(fields),
        Blobmsg::String(s) => Value::String(s.clone()),
        Blobmsg::Int64(v) => Value::from(*v),
        Blobmsg::Int32(v) => Value::from(*v),
        Blobmsg::Int16(v) => Value::from(*v),
        Blobmsg::Int8(v) => Value::Bool(*v != 0),
        Blobmsg::Double(v) => Number::from_f64(*v).map_or(Value::Null, Value::Number),
    }
}

/// A table's fields as a JSON object. A repeated name keeps its first value, as
/// `blobmsg_parse` does.
pub fn table_to_json(fields: &[Field]) -> Value {
    let mut map = Map::new();
    for field in fields {
        if !map.contains_key(&field.name) {
            map.insert(field.name.clone(), to_json(&field.value));
        }
    }
    Value::Object(map)
}

/// JSON to blobmsg with the rules of `blobmsg_add_json_element` (what `ubus call` sends): object
/// → TABLE, array → ARRAY, string → STRING, bool → INT8, an integer → INT32 if it fits, else
/// INT64, any other number → DOUBLE, null → UNSPEC. An integer above `i64::MAX` becomes
/// `i64::MAX`, as json-c's `json_object_get_int64` does.
pub fn from_json(value: &Value) -> Result<Blobmsg, WireError> {
    from_json_at(value, 1)
}

fn from_json_at(value: &Value, depth: usize) -> Result<Blobmsg, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    Ok(match value {
        Value::Null => Blobmsg::Unspec,
        Value::Bool(b) => Blobmsg::Int8(u8::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                match i32::try_from(i) {
                    Ok(small) => Blobmsg::Int32(small),
                    Err(_) => Blobmsg::Int64(i),
                }
            } else if n.is_u64() {
                Blobmsg::Int64(i64::MAX)
            } else {
                Blobmsg::Double(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Blobmsg::String(s.clone()),
        Value::Array(items) => Blobmsg::Array(
            items
                .iter()
                .map(|v| from_json_at(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Blobmsg::Table(fields_at(map, depth + 1)?),
    })
}

fn fields_at(map: &Map<String, Value>, depth: usize) -> Result<Vec<Field>, WireError> {
    map.iter()
        .map(|(name, v)| Ok(Field::new(name.clone(), from_json_at(v, depth)?)))
        .collect()
}

/// The fields of a DATA attribute from JSON. DATA is always a table: an object gives its
/// members, anything else becomes the single field `value`.
pub fn table_from_json(value: &Value) -> Result<Vec<Field>, WireError> {
    match value {
        Value::Object(map) => fields_at(map, 1),
        other => Ok(vec![Field::new("value", from_json_at(other, 1)?)]),
    }
}
