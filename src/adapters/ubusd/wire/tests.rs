//! Tests of the wire format: hand-derived byte vectors, round trips, limits, and junk that
//! must give typed errors.

use serde_json::json;

use super::codec::*;
use super::*;

/// Hex to bytes, ignoring whitespace and `|` separators, for vectors written as in the doc.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| b.is_ascii_hexdigit())
        .map(|b| (b as char).to_digit(16).unwrap() as u8)
        .collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

fn field_bytes(name: &str, value: Blobmsg) -> Vec<u8> {
    let mut out = Vec::new();
    put_blobmsg(&mut out, name, &value, 1).unwrap();
    out
}

fn decode_field(bytes: &[u8]) -> Field {
    let fields = decode_fields(bytes, 1).unwrap();
    assert_eq!(fields.len(), 1);
    fields.into_iter().next().unwrap()
}

#[track_caller]
fn check_field(name: &str, value: Blobmsg, expected_hex: &str) {
    let bytes = field_bytes(name, value.clone());
    assert_eq!(bytes, hex(expected_hex), "encoding of {name}: {value:?}");
    assert_eq!(decode_field(&bytes), Field::new(name, value));
}

fn add_object(name: &str, methods: Vec<Field>) -> Message {
    Message::new(
        MsgType::AddObject,
        1,
        0,
        vec![Attr::ObjPath(name.into()), Attr::Signature(methods)],
    )
}

/// docs/ubus-wire.md, Worked bytes: the 48-byte ADD_OBJECT with one arg-less method
/// `status`. The bytes spell the path "capportal" (10 bytes with its NUL, length 14), which is
/// what makes the total 48, and are self-consistent for it.
#[test]
fn the_doc_example_add_object_is_self_consistent_for_capportal() {
    let doc = hex("00 06 00 01  00 00 00 00
         00 00 00 28
         02 00 00 0e  63 61 70 70 6f 72 74 61 6c 00 00 00
         06 00 00 14
         82 00 00 10  00 06 73 74 61 74 75 73 00 00 00 00");
    assert_eq!(doc.len(), 48);
    let msg = add_object(
        "capportal",
        vec![Field::new("status", Blobmsg::Table(vec![]))],
    );
    assert_eq!(msg.encode().unwrap(), doc);
    assert_eq!(Message::decode(&doc).unwrap(), msg);
}

/// The same message for "lango", worked out from the rules: OBJPATH is 4 + 6 ("lango\0") =
/// 10 bytes, padded to 12; the root is 4 + 12 + 20 = 36 (0x24); 44 bytes in all.
#[test]
fn add_object_lango_with_one_argless_method() {
    let expected = hex("00 06 00 01  00 00 00 00
         00 00 00 24
         02 00 00 0a  6c 61 6e 67 6f 00 00 00
         06 00 00 14
         82 00 00 10  00 06 73 74 61 74 75 73 00 00 00 00");
    let msg = add_object("lango", vec![Field::new("status", Blobmsg::Table(vec![]))]);
    assert_eq!(msg.encode().unwrap(), expected);
    assert_eq!(expected.len(), 44);
    assert_eq!(Message::decode(&expected).unwrap(), msg);
}

/// docs/ubus-wire.md, Worked bytes: method `auth` with argument `mac: string` in a signature.
#[test]
fn signature_method_with_one_argument() {
    check_field(
        "auth",
        Blobmsg::Table(vec![Field::new("mac", Blobmsg::Int32(3))]),
        "82 00 00 1c 00 04 61 75 74 68 00 00 | 85 00 00 10 00 03 6d 61 63 00 00 00 00 00 00 03",
    );
}

#[test]
fn each_blobmsg_type_against_hand_derived_bytes() {
    // UNSPEC "n": header 4 + name header align4(2+1+1)=4, no value: raw 8.
    check_field("n", Blobmsg::Unspec, "80 00 00 08 00 01 6e 00");
    // STRING "s" = "hi": raw 4 + 4 + 3 = 11 (0x0b), padded with one zero.
    check_field(
        "s",
        Blobmsg::String("hi".into()),
        "83 00 00 0b 00 01 73 00 68 69 00 00",
    );
    // INT64 "big" = -2: name header align4(2+3+1)=8, raw 4 + 8 + 8 = 20.
    check_field(
        "big",
        Blobmsg::Int64(-2),
        "84 00 00 14 00 03 62 69 67 00 00 00 ff ff ff ff ff ff ff fe",
    );
    // INT32 "i" = 0x01020304: raw 4 + 4 + 4 = 12.
    check_field(
        "i",
        Blobmsg::Int32(0x0102_0304),
        "85 00 00 0c 00 01 69 00 01 02 03 04",
    );
    // INT16 "h" = -1: raw 4 + 4 + 2 = 10, two bytes of padding.
    check_field(
        "h",
        Blobmsg::Int16(-1),
        "86 00 00 0a 00 01 68 00 ff ff 00 00",
    );
    // INT8 (bool) "b" = 1: raw 9, three bytes of padding.
    check_field("b", Blobmsg::Int8(1), "87 00 00 09 00 01 62 00 01 00 00 00");
    // DOUBLE "d" = 1.5 = 0x3ff8000000000000: raw 4 + 4 + 8 = 16.
    check_field(
        "d",
        Blobmsg::Double(1.5),
        "88 00 00 10 00 01 64 00 3f f8 00 00 00 00 00 00",
    );
    // ARRAY "a" = [7, "x"]: elements have empty names (4-byte name header "00 00 00 00").
    // INT32 element: 4 + 4 + 4 = 12; STRING "x": 4 + 4 + 2 = 10, padded to 12.
    // Array raw = 4 + 4 + 12 + 12 = 32 (0x20).
    check_field(
        "a",
        Blobmsg::Array(vec![Blobmsg::Int32(7), Blobmsg::String("x".into())]),
        "81 00 00 20 00 01 61 00 | 85 00 00 0c 00 00 00 00 00 00 00 07 \
         | 83 00 00 0a 00 00 00 00 78 00 00 00",
    );
    // TABLE "t" = {"k": true}: child 4 + 4 + 1 = 9 padded to 12; table 4 + 4 + 12 = 20.
    check_field(
        "t",
        Blobmsg::Table(vec![Field::new("k", Blobmsg::Int8(1))]),
        "82 00 00 14 00 01 74 00 | 87 00 00 09 00 01 6b 00 01 00 00 00",
    );
    // An empty name takes the 4-byte header; a 2-byte name needs 2+2+1=5 → 8.
    check_field("", Blobmsg::Int8(0), "87 00 00 09 00 00 00 00 00 00 00 00");
    check_field(
        "ab",
        Blobmsg::Int8(0),
        "87 00 00 0d 00 02 61 62 00 00 00 00 00 00 00 00",
    );
}

#[test]
fn message_attributes_round_trip_in_order() {
    let msg = Message::new(
        MsgType::Invoke,
        0xbeef,
        0x0102_0304,
        vec![
            Attr::ObjId(7),
            Attr::Method("status".into()),
            Attr::User("root".into()),
            Attr::Group("root".into()),
            Attr::Data(vec![Field::new("x", Blobmsg::Int32(1))]),
            Attr::NoReply(true),
            Attr::Active(false),
            Attr::Target(9),
            Attr::ObjType(11),
            Attr::Status(-3),
            Attr::Subscribers(vec![1, 2]),
            Attr::Other {
                id: 42,
                payload: vec![1, 2, 3],
            },
        ],
    );
    let bytes = msg.encode().unwrap();
    assert_eq!(&bytes[..8], &hex("00 05 be ef 01 02 03 04")[..]);
    assert_eq!(Message::decode(&bytes).unwrap(), msg);
    assert_eq!(Header::decode(&bytes).unwrap(), (msg.header, bytes.len()));
}

/// STATUS as libubus sends it (`ubus_complete_deferred_request`): STATUS then OBJID.
#[test]
fn status_reply_bytes() {
    let msg = Message::new(
        MsgType::Status,
        5,
        0x77,
        vec![Attr::Status(3), Attr::ObjId(0x1234)],
    );
    assert_eq!(
        msg.encode().unwrap(),
        hex(
            "00 01 00 05 00 00 00 77 | 00 00 00 14 | 01 00 00 08 00 00 00 03 \
             | 03 00 00 08 00 00 12 34"
        )
    );
}

/// HELLO from ubusd: seq 0, peer = our client id, empty root.
#[test]
fn hello_is_an_empty_root() {
    let hello = hex("00 00 00 00 8a 2b 3c 4d 00 00 00 04");
    let msg = Message::decode(&hello).unwrap();
    assert_eq!(msg.header, Header::new(MsgType::Hello, 0, 0x8a2b_3c4d));
    assert!(msg.attrs.is_empty());
    assert_eq!(msg.encode().unwrap(), hello);
}

#[test]
fn json_to_blobmsg_follows_the_ubus_cli() {
    let value = json!({
        "small": 5, "neg": -2147483648_i64, "big": 2147483648_i64, "huge": u64::MAX,
        "f": 0.5, "t": true, "n": null, "s": "x", "a": [1, "y"], "o": {"k": {}}
    });
    let Blobmsg::Table(fields) = from_json(&value).unwrap() else {
        panic!("an object is a table")
    };
    let get = |n: &str| fields.iter().find(|f| f.name == n).unwrap().value.clone();
    assert_eq!(get("small"), Blobmsg::Int32(5));
    assert_eq!(get("neg"), Blobmsg::Int32(i32::MIN));
    assert_eq!(get("big"), Blobmsg::Int64(2_147_483_648));
    assert_eq!(get("huge"), Blobmsg::Int64(i64::MAX));
    assert_eq!(get("f"), Blobmsg::Double(0.5));
    assert_eq!(get("t"), Blobmsg::Int8(1));
    assert_eq!(get("n"), Blobmsg::Unspec);
    assert_eq!(get("s"), Blobmsg::String("x".into()));
    assert_eq!(
        get("a"),
        Blobmsg::Array(vec![Blobmsg::Int32(1), Blobmsg::String("y".into())])
    );
    assert_eq!(
        get("o"),
        Blobmsg::Table(vec![Field::new("k", Blobmsg::Table(vec![]))])
    );
}

#[test]
fn blobmsg_to_json_accepts_every_integer_width() {
    let fields = vec![
        Field::new("a", Blobmsg::Int64(-5)),
        Field::new("b", Blobmsg::Int32(-5)),
        Field::new("c", Blobmsg::Int16(-5)),
        Field::new("d", Blobmsg::Int8(1)),
        Field::new("e", Blobmsg::Int8(0)),
        Field::new("f", Blobmsg::Double(f64::NAN)),
        Field::new("g", Blobmsg::Unspec),
        Field::new("a", Blobmsg::Int32(99)),
    ];
    assert_eq!(
        table_to_json(&fields),
        json!({"a": -5, "b": -5, "c": -5, "d": true, "e": false, "f": null, "g": null})
    );
}

#[test]
fn json_round_trips_through_the_wire() {
    let value = json!({"id": 7, "mac": "aa:bb:cc:dd:ee:ff", "list": [{"x": 1.25}, [], null],
                       "on": false, "big": -9_000_000_000_i64, "empty": ""});
    let msg = Message::new(
        MsgType::Data,
        1,
        2,
        vec![Attr::Data(table_from_json(&value).unwrap())],
    );
    let back = Message::decode(&msg.encode().unwrap()).unwrap();
    assert_eq!(table_to_json(back.data().unwrap()), value);
    assert_eq!(
        table_from_json(&json!(3)).unwrap(),
        vec![Field::new("value", Blobmsg::Int32(3))]
    );
}

#[test]
fn limits_are_enforced_when_encoding() {
    let long_name = "x".repeat(70_000);
    assert_eq!(
        from_json(&json!({ long_name.clone(): 1 })).and_then(|v| field_bytes_checked("t", v)),
        Err(WireError::NameTooLong(70_000))
    );
    let mut deep = json!(1);
    for _ in 0..MAX_DEPTH + 1 {
        deep = json!([deep]);
    }
    assert_eq!(from_json(&deep), Err(WireError::TooDeep));
    let big = json!({"s": "y".repeat(MAX_MSGLEN)});
    let msg = Message::new(
        MsgType::Data,
        1,
        2,
        vec![Attr::Data(table_from_json(&big).unwrap())],
    );
    assert!(matches!(msg.encode(), Err(WireError::TooLarge(_))));
}

fn field_bytes_checked(name: &str, value: Blobmsg) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::new();
    put_blobmsg(&mut out, name, &value, 1)?;
    Ok(out)
}

#[test]
fn malformed_input_gives_typed_errors() {
    // Version 1.
    assert_eq!(
        Message::decode(&hex("01 00 00 00 00 00 00 01 00 00 00 04")),
        Err(WireError::BadVersion(1))
    );
    // Root shorter than its own header.
    assert_eq!(
        Message::decode(&hex("00 00 00 00 00 00 00 01 00 00 00 03")),
        Err(WireError::BadLength(3))
    );
    // Root over 1 MiB.
    assert_eq!(
        Header::decode(&hex("00 02 00 00 00 00 00 01 00 10 00 04")),
        Err(WireError::TooLarge(0x10_0004))
    );
    // Root says 8 bytes, only 4 present.
    assert_eq!(
        Message::decode(&hex("00 02 00 00 00 00 00 01 00 00 00 08")),
        Err(WireError::Truncated)
    );
    // OBJID of 3 bytes.
    assert_eq!(
        Message::decode(&hex(
            "00 02 00 00 00 00 00 01 00 00 00 0c 03 00 00 07 00 00 01 00"
        )),
        Err(WireError::BadValue("int32 not 4 bytes"))
    );
    // METHOD without its NUL.
    assert_eq!(
        Message::decode(&hex(
            "00 05 00 00 00 00 00 01 00 00 00 0c 04 00 00 06 61 62 00 00"
        )),
        Err(WireError::BadValue("string without NUL"))
    );
    // DATA holding a plain attribute.
    assert_eq!(
        Message::decode(&hex(
            "00 05 00 00 00 00 00 01 00 00 00 10 07 00 00 0c 05 00 00 08 00 00 00 01"
        )),
        Err(WireError::NotBlobmsg)
    );
    // A blobmsg whose name overruns it.
    assert_eq!(
        decode_fields(&hex("85 00 00 08 00 09 61 00"), 1),
        Err(WireError::BadName)
    );
    // Type 9.
    assert_eq!(
        decode_fields(&hex("89 00 00 08 00 01 61 00"), 1),
        Err(WireError::BadType(9))
    );
    // INT32 of 2 bytes.
    assert_eq!(
        decode_fields(&hex("85 00 00 0a 00 01 61 00 00 01 00 00"), 1),
        Err(WireError::BadValue("int32 not 4 bytes"))
    );
    // Name not UTF-8.
    assert_eq!(
        decode_fields(&hex("80 00 00 08 00 01 ff 00"), 1),
        Err(WireError::NotUtf8)
    );
    // Trailing bytes after the root.
    assert_eq!(
        Message::decode(&hex("00 00 00 00 00 00 00 01 00 00 00 04 00")),
        Err(WireError::BadLength(13))
    );
}

#[test]
fn nesting_past_the_limit_is_refused_when_decoding() {
    // 40 nested empty-named tables, built inside out.
    let mut inner: Vec<u8> = Vec::new();
    for _ in 0..40 {
        let word = 0x8200_0000 | (8 + inner.len()) as u32;
        let mut outer = word.to_be_bytes().to_vec();
        outer.extend_from_slice(&[0, 0, 0, 0]);
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    assert_eq!(decode_fields(&inner, 1), Err(WireError::TooDeep));
}

/// Deterministic xorshift64*, so that a failure reproduces without a rand crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Junk, truncations and bit flips of valid messages never panic; every outcome is either
/// a message or a `WireError`, and whatever decodes re-encodes and decodes the same.
#[test]
fn junk_truncations_and_bit_flips_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let sample = Message::new(
        MsgType::Invoke,
        3,
        0x77,
        vec![
            Attr::ObjId(0x1234),
            Attr::Method("kick".into()),
            Attr::Data(
                table_from_json(&json!({"id": 5, "mac": "aa:bb:cc:dd:ee:ff",
                                        "deep": {"a": [1, 2.5, null, true, {"z": "w"}]}}))
                .unwrap(),
            ),
            Attr::NoReply(false),
        ],
    )
    .encode()
    .unwrap();
    let mut decoded = 0;
    for round in 0..20_000 {
        let mut bytes = sample.clone();
        match round % 4 {
            0 => bytes.truncate((rng.next() as usize) % sample.len()),
            1 => {
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() as usize) % bytes.len();
                    bytes[at] ^= 1 << (rng.next() % 8);
                }
            }
            2 => {
                let len = (rng.next() % 64) as usize;
                bytes = (0..len).map(|_| rng.next() as u8).collect();
                if bytes.len() >= 12 && round % 8 == 2 {
                    // A valid header so that the junk reaches the attribute parser.
                    bytes[0] = 0;
                    bytes[8..12].copy_from_slice(&((len - 8) as u32).to_be_bytes());
                }
            }
            _ => {
                let at = 12 + (rng.next() as usize) % (sample.len() - 12);
                bytes[at] = rng.next() as u8;
            }
        }
        let _ = Header::decode(&bytes);
        if let Ok(msg) = Message::decode(&bytes) {
            decoded += 1;
            // Compared as bytes: a NaN double is not equal to itself.
            let again = msg.encode().unwrap();
            let twice = Message::decode(&again).unwrap().encode().unwrap();
            assert_eq!(twice, again, "round {round}");
        }
        for attr in attrs_of(&bytes).flatten() {
            let _ = decode_attr(attr.id, attr.payload);
            let _ = decode_blobmsg(attr.id, attr.payload, 1);
        }
    }
    assert!(decoded > 0, "some mutations must still decode");
}

#[test]
fn read_frame_reads_exactly_one_message() {
    let first = Message::new(MsgType::Hello, 0, 9, vec![]).encode().unwrap();
    let second = Message::new(MsgType::Status, 1, 0, vec![Attr::Status(0)])
        .encode()
        .unwrap();
    let mut stream = io::Cursor::new([first.clone(), second.clone()].concat());
    assert_eq!(read_frame(&mut stream).unwrap(), first);
    assert_eq!(read_frame(&mut stream).unwrap(), second);
    assert_eq!(
        read_frame(&mut stream).unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof
    );
    let mut bad = io::Cursor::new(hex("02 00 00 00 00 00 00 01 00 00 00 04"));
    assert_eq!(
        read_frame(&mut bad).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
}
