//! Blob and blobmsg attributes to bytes and back: alignment, the extended-length bit, nesting
//! depth, C strings. Every read is bounds-checked and ends in a `WireError`, never a panic.

use super::{
    attr_id, byte, Attr, Blobmsg, BlobmsgType, Field, WireError, ATTR_EXTENDED, ATTR_HEADER_LEN,
    ATTR_ID_MASK, ATTR_ID_SHIFT, ATTR_LEN_MASK, MAX_DEPTH,
};

// ---- encoding ----

pub(super) fn align4(len: usize) -> usize {
    len.saturating_add(3) & !3
}

/// Starts an attribute: a placeholder header, patched by `close_attr`.
pub(super) fn open_attr(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; ATTR_HEADER_LEN]);
    start
}

/// Writes the header of the attribute started at `start` (its raw length is what follows
/// it so far) and pads to 4 bytes with zeros.
pub(super) fn close_attr(
    out: &mut Vec<u8>,
    start: usize,
    id: u8,
    extended: bool,
) -> Result<(), WireError> {
    let raw_len = out.len() - start;
    let len = u32::try_from(raw_len)
        .ok()
        .filter(|l| *l <= ATTR_LEN_MASK)
        .ok_or(WireError::TooLarge(raw_len))?;
    let mut word = (u32::from(id) & ATTR_ID_MASK) << ATTR_ID_SHIFT | len;
    if extended {
        word |= ATTR_EXTENDED;
    }
    if let Some(slot) = out.get_mut(start..start + ATTR_HEADER_LEN) {
        slot.copy_from_slice(&word.to_be_bytes());
    }
    out.resize(start + align4(raw_len), 0);
    Ok(())
}

pub(super) fn put_plain(out: &mut Vec<u8>, id: u8, payload: &[u8]) -> Result<(), WireError> {
    let start = open_attr(out);
    out.extend_from_slice(payload);
    close_attr(out, start, id, false)
}

pub(super) fn put_plain_string(out: &mut Vec<u8>, id: u8, text: &str) -> Result<(), WireError> {
    let start = open_attr(out);
    out.extend_from_slice(text.as_bytes());
    out.push(0);
    close_attr(out, start, id, false)
}

pub(super) fn put_attr(out: &mut Vec<u8>, attr: &Attr) -> Result<(), WireError> {
    use attr_id::*;
    match attr {
        Attr::Status(s) => put_plain(out, STATUS, &s.to_be_bytes()),
        Attr::ObjPath(p) => put_plain_string(out, OBJPATH, p),
        Attr::ObjId(id) => put_plain(out, OBJID, &id.to_be_bytes()),
        Attr::Method(m) => put_plain_string(out, METHOD, m),
        Attr::ObjType(t) => put_plain(out, OBJTYPE, &t.to_be_bytes()),
        Attr::Signature(fields) | Attr::Data(fields) => {
            let id = if matches!(attr, Attr::Signature(_)) {
                SIGNATURE
            } else {
                DATA
            };
            let start = open_attr(out);
            for field in fields {
                put_blobmsg(out, &field.name, &field.value, 1)?;
            }
            close_attr(out, start, id, false)
        }
        Attr::Target(t) => put_plain(out, TARGET, &t.to_be_bytes()),
        Attr::Active(on) => put_plain(out, ACTIVE, &[u8::from(*on)]),
        Attr::NoReply(on) => put_plain(out, NO_REPLY, &[u8::from(*on)]),
        Attr::Subscribers(ids) => {
            let start = open_attr(out);
            for id in ids {
                put_plain(out, 0, &id.to_be_bytes())?;
            }
            close_attr(out, start, SUBSCRIBERS, false)
        }
        Attr::User(u) => put_plain_string(out, USER, u),
        Attr::Group(g) => put_plain_string(out, GROUP, g),
        Attr::Other { id, payload } => put_plain(out, *id, payload),
    }
}

/// One blobmsg attribute: header, `u16 namelen | name | NUL | pad to 4`, value.
pub(super) fn put_blobmsg(
    out: &mut Vec<u8>,
    name: &str,
    value: &Blobmsg,
    depth: usize,
) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    let name_len = u16::try_from(name.len()).map_err(|_| WireError::NameTooLong(name.len()))?;
    let start = open_attr(out);
    out.extend_from_slice(&name_len.to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(start + ATTR_HEADER_LEN + align4(2 + name.len() + 1), 0);
    match value {
        Blobmsg::Unspec => {}
        Blobmsg::Array(items) => {
            for item in items {
                put_blobmsg(out, "", item, depth + 1)?;
            }
        }
        Blobmsg::Table(fields) => {
            for field in fields {
                put_blobmsg(out, &field.name, &field.value, depth + 1)?;
            }
        }
        Blobmsg::String(s) => {
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        Blobmsg::Int64(v) => out.extend_from_slice(&v.to_be_bytes()),
        Blobmsg::Int32(v) => out.extend_from_slice(&v.to_be_bytes()),
        Blobmsg::Int16(v) => out.extend_from_slice(&v.to_be_bytes()),
        Blobmsg::Int8(v) => out.push(*v),
        Blobmsg::Double(v) => out.extend_from_slice(&v.to_bits().to_be_bytes()),
    }
    close_attr(out, start, value.kind() as u8, true)
}

// ---- decoding ----

/// One attribute as found in a buffer, not yet interpreted.
pub(super) struct RawAttr<'a> {
    pub(super) id: u8,
    pub(super) extended: bool,
    pub(super) payload: &'a [u8],
}

/// Iterates over the attributes packed in `buf`.
pub(super) fn attrs_of(buf: &[u8]) -> impl Iterator<Item = Result<RawAttr<'_>, WireError>> {
    let mut rest = buf;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let item = split_attr(rest).map(|(attr, next)| {
            rest = next;
            attr
        });
        failed = item.is_err();
        Some(item)
    })
}

/// The first attribute of `buf` and what follows it (after its padding).
pub(super) fn split_attr(buf: &[u8]) -> Result<(RawAttr<'_>, &[u8]), WireError> {
    let head = buf.get(..ATTR_HEADER_LEN).ok_or(WireError::Truncated)?;
    let word = u32::from_be_bytes([byte(head, 0), byte(head, 1), byte(head, 2), byte(head, 3)]);
    let raw_len = (word & ATTR_LEN_MASK) as usize;
    if raw_len < ATTR_HEADER_LEN {
        return Err(WireError::BadLength(raw_len));
    }
    let payload = buf
        .get(ATTR_HEADER_LEN..raw_len)
        .ok_or(WireError::Truncated)?;
    let next = buf.get(align4(raw_len)..).ok_or(WireError::Truncated)?;
    let attr = RawAttr {
        id: ((word >> ATTR_ID_SHIFT) & ATTR_ID_MASK) as u8,
        extended: word & ATTR_EXTENDED != 0,
        payload,
    };
    Ok((attr, next))
}

pub(super) fn int32(payload: &[u8]) -> Result<u32, WireError> {
    let b: [u8; 4] = payload
        .try_into()
        .map_err(|_| WireError::BadValue("int32 not 4 bytes"))?;
    Ok(u32::from_be_bytes(b))
}

pub(super) fn int8(payload: &[u8]) -> Result<u8, WireError> {
    match payload {
        [b] => Ok(*b),
        _ => Err(WireError::BadValue("int8 not 1 byte")),
    }
}

/// A NUL-terminated string, read as C reads it: up to the first NUL.
pub(super) fn c_string(payload: &[u8]) -> Result<String, WireError> {
    if payload.last() != Some(&0) {
        return Err(WireError::BadValue("string without NUL"));
    }
    let end = payload.iter().position(|b| *b == 0).unwrap_or(0);
    let text = payload.get(..end).unwrap_or(&[]);
    String::from_utf8(text.to_vec()).map_err(|_| WireError::NotUtf8)
}

pub(super) fn decode_attr(id: u8, payload: &[u8]) -> Result<Attr, WireError> {
    use attr_id::*;
    Ok(match id {
        STATUS => Attr::Status(int32(payload)? as i32),
        OBJPATH => Attr::ObjPath(c_string(payload)?),
        OBJID => Attr::ObjId(int32(payload)?),
        METHOD => Attr::Method(c_string(payload)?),
        OBJTYPE => Attr::ObjType(int32(payload)?),
        SIGNATURE => Attr::Signature(decode_fields(payload, 1)?),
        DATA => Attr::Data(decode_fields(payload, 1)?),
        TARGET => Attr::Target(int32(payload)?),
        ACTIVE => Attr::Active(int8(payload)? != 0),
        NO_REPLY => Attr::NoReply(int8(payload)? != 0),
        SUBSCRIBERS => {
            let mut ids = Vec::new();
            for item in attrs_of(payload) {
                ids.push(int32(item?.payload)?);
            }
            Attr::Subscribers(ids)
        }
        USER => Attr::User(c_string(payload)?),
        GROUP => Attr::Group(c_string(payload)?),
        _ => Attr::Other {
            id,
            payload: payload.to_vec(),
        },
    })
}

/// The blobmsg attributes packed in `buf`, as named fields.
pub(super) fn decode_fields(buf: &[u8], depth: usize) -> Result<Vec<Field>, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    let mut fields = Vec::new();
    for item in attrs_of(buf) {
        let attr = item?;
        if !attr.extended {
            return Err(WireError::NotBlobmsg);
        }
        let (name, value) = decode_blobmsg(attr.id, attr.payload, depth)?;
        fields.push(Field { name, value });
    }
    Ok(fields)
}

/// One blobmsg attribute's name and value, checked as libubox's `blobmsg_check_attr` does.
pub(super) fn decode_blobmsg(
    id: u8,
    payload: &[u8],
    depth: usize,
) -> Result<(String, Blobmsg), WireError> {
    let name_len = match payload {
        [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => return Err(WireError::BadName),
    };
    let name = payload.get(2..2 + name_len).ok_or(WireError::BadName)?;
    if payload.get(2 + name_len) != Some(&0) {
        return Err(WireError::BadName);
    }
    let name = String::from_utf8(name.to_vec()).map_err(|_| WireError::NotUtf8)?;
    let data = payload
        .get(align4(2 + name_len + 1)..)
        .ok_or(WireError::BadName)?;
    let kind = BlobmsgType::from_code(id).ok_or(WireError::BadType(id))?;
    let value = match kind {
        BlobmsgType::Unspec => Blobmsg::Unspec,
        BlobmsgType::Array => Blobmsg::Array(
            decode_fields(data, depth + 1)?
                .into_iter()
                .map(|f| f.value)
                .collect(),
        ),
        BlobmsgType::Table => Blobmsg::Table(decode_fields(data, depth + 1)?),
        BlobmsgType::String => {
            if data.is_empty() {
                return Err(WireError::BadValue("empty string attribute"));
            }
            Blobmsg::String(c_string(data)?)
        }
        BlobmsgType::Int64 => Blobmsg::Int64(i64::from_be_bytes(
            data.try_into()
                .map_err(|_| WireError::BadValue("int64 not 8 bytes"))?,
        )),
        BlobmsgType::Int32 => Blobmsg::Int32(int32(data)? as i32),
        BlobmsgType::Int16 => Blobmsg::Int16(i16::from_be_bytes(
            data.try_into()
                .map_err(|_| WireError::BadValue("int16 not 2 bytes"))?,
        )),
        BlobmsgType::Int8 => Blobmsg::Int8(int8(data)?),
        BlobmsgType::Double => Blobmsg::Double(f64::from_bits(u64::from_be_bytes(
            data.try_into()
                .map_err(|_| WireError::BadValue("double not 8 bytes"))?,
        ))),
    };
    Ok((name, value))
}
