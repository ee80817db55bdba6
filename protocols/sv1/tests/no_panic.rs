//! Fuzz-style property tests: arbitrary input never panics, buffering stays
//! bounded, and whatever the tolerant parser accepts re-serializes to a line
//! that parses to the same value.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};
use sv1::{
    parse_client_line, parse_server_line, OutgoingMessage, Sv1ClientCodec, Sv1Error, Sv1LineCodec,
    Sv1ServerCodec,
};
use tokio_util::codec::Decoder;

const METHODS: &[&str] = &[
    "mining.subscribe",
    "mining.authorize",
    "mining.configure",
    "mining.extranonce.subscribe",
    "mining.suggest_difficulty",
    "mining.suggest_target",
    "mining.submit",
    "mining.notify",
    "mining.set_difficulty",
    "mining.set_extranonce",
    "mining.set_version_mask",
    "client.reconnect",
    "client.show_message",
    "mining.other",
];

/// Values biased towards what the parsers look for: hex strings, numbers as
/// strings, extension names and parameter keys.
fn fuzz_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[0-9a-fA-F]{0,70}".prop_map(Value::from),
        "0x[0-9a-f]{0,9}".prop_map(Value::from),
        "-?[0-9]{1,25}(\\.[0-9]{0,5})?(e[0-9]{1,3})?".prop_map(Value::from),
        prop_oneof![
            Just("version-rolling"),
            Just("minimum-difficulty"),
            Just("subscribe-extranonce"),
            Just("info"),
            Just("true"),
            Just("nan"),
            Just("inf"),
        ]
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn fuzz_value() -> impl Strategy<Value = Value> {
    fuzz_leaf().prop_recursive(4, 40, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..10).prop_map(Value::Array),
            vec(
                (
                    prop_oneof![
                        Just("version-rolling.mask".to_string()),
                        Just("version-rolling.min-bit-count".to_string()),
                        Just("minimum-difficulty.value".to_string()),
                        Just("version-rolling".to_string()),
                        Just("code".to_string()),
                        Just("message".to_string()),
                        "[a-z.-]{0,12}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn fuzz_message() -> impl Strategy<Value = String> {
    (
        fuzz_leaf(),
        proptest::option::of(proptest::sample::select(METHODS)),
        proptest::option::of(fuzz_value()),
        proptest::option::of(fuzz_value()),
        proptest::option::of(fuzz_value()),
    )
        .prop_map(|(id, method, params, result, error)| {
            let mut obj = serde_json::Map::new();
            obj.insert("id".into(), id);
            if let Some(m) = method {
                obj.insert("method".into(), json!(m));
            }
            if let Some(p) = params {
                obj.insert("params".into(), p);
            }
            if let Some(r) = result {
                obj.insert("result".into(), r);
            }
            if let Some(e) = error {
                obj.insert("error".into(), e);
            }
            Value::Object(obj).to_string()
        })
}

/// Valid messages of every kind, as templates for mutation.
fn templates() -> Vec<Value> {
    vec![
        json!({"id": 1, "method": "mining.subscribe", "params": ["bmminer/2.0.0", "0a0b0c0d"]}),
        json!({"id": 2, "method": "mining.authorize", "params": ["acct.worker", "x"]}),
        json!({"id": 3, "method": "mining.configure", "params": [["version-rolling", "minimum-difficulty", "info"], {"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2, "minimum-difficulty.value": 2048, "info.hw-version": "S19"}]}),
        json!({"id": 4, "method": "mining.suggest_difficulty", "params": [1024]}),
        json!({"id": 5, "method": "mining.suggest_target", "params": ["00000000ffff0000000000000000000000000000000000000000000000000000"]}),
        json!({"id": 6, "method": "mining.submit", "params": ["w", "1a", "00000001", "504e86ed", "b2957c02", "1fffe000"]}),
        json!({"id": null, "method": "mining.notify", "params": ["bf", "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000", "01000000010000", "072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000", ["57351e8569cb9d036187a79fd1844fd930c1309efcd16c46af9bb9713b6ee734"], "00000002", "1c2ac4af", "504e86b9", false]}),
        json!({"id": null, "method": "mining.set_difficulty", "params": [16]}),
        json!({"id": null, "method": "mining.set_extranonce", "params": ["08000002", 4]}),
        json!({"id": null, "method": "mining.set_version_mask", "params": ["1fffe000"]}),
        json!({"id": null, "method": "client.reconnect", "params": ["pool.example.com", 3333, 5]}),
        json!({"id": 1, "result": [[["mining.set_difficulty", "a"], ["mining.notify", "b"]], "08000002", 4], "error": null}),
        json!({"id": 2, "result": {"version-rolling": true, "version-rolling.mask": "1fffe000"}, "error": null}),
        json!({"id": 3, "result": null, "error": [21, "Job not found", null]}),
    ]
}

/// A valid message with a few parameters (or result items) replaced,
/// removed or added.
fn mutated_message() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(templates()),
        vec(
            (0usize..3, any::<proptest::sample::Index>(), fuzz_leaf()),
            1..4,
        ),
    )
        .prop_map(|(mut msg, edits)| {
            let key = if msg.get("params").is_some() {
                "params"
            } else {
                "result"
            };
            for (op, at, leaf) in edits {
                let Some(Value::Array(items)) = msg.get_mut(key) else {
                    if let Some(slot) = msg.get_mut(key) {
                        *slot = leaf;
                    }
                    continue;
                };
                match op {
                    0 if !items.is_empty() => {
                        let i = at.index(items.len());
                        items[i] = leaf;
                    }
                    1 if !items.is_empty() => {
                        let i = at.index(items.len());
                        items.remove(i);
                    }
                    _ => items.push(leaf),
                }
            }
            msg.to_string()
        })
}

fn drain<D>(codec: &mut D, input: &[u8], chunk: usize, max_line: usize) -> usize
where
    D: Decoder<Error = Sv1Error>,
{
    let mut buf = BytesMut::new();
    let mut items = 0;
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(_)) => items += 1,
                Ok(None) => break,
                Err(Sv1Error::LineTooLong { .. }) => continue,
                Err(Sv1Error::InvalidUtf8) => continue,
                Err(e) => panic!("unexpected framing error {e}"),
            }
        }
        // Never more than one line's worth (plus the chunk just added) is kept.
        assert!(
            buf.len() <= max_line + 1 + chunk,
            "buffer grew to {}",
            buf.len()
        );
    }
    while let Ok(Some(_)) = codec.decode_eof(&mut buf) {
        items += 1;
    }
    items
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let _ = parse_client_line(&s);
        let _ = parse_server_line(&s);
    }

    #[test]
    fn arbitrary_bytes_through_codecs(input in vec(any::<u8>(), 0..600), chunk in 1usize..64, max_line in 0usize..80) {
        drain(&mut Sv1LineCodec::new(max_line), &input, chunk, max_line);
        drain(&mut Sv1ServerCodec::new(max_line), &input, chunk, max_line);
        drain(&mut Sv1ClientCodec::new(max_line), &input, chunk, max_line);
    }

    #[test]
    fn lines_with_newlines_sprinkled_in(parts in vec("[ -~]{0,40}", 0..12), chunk in 1usize..32) {
        let input = parts.join("\n");
        let mut codec = Sv1LineCodec::new(32);
        let items = drain(&mut codec, input.as_bytes(), chunk, 32);
        let expected = parts.iter().filter(|p| !p.trim().is_empty() && p.len() <= 32).count();
        // Lines over the limit are dropped, every other non-blank line comes out.
        prop_assert_eq!(items, expected);
    }

    /// Structured fuzz: whatever the tolerant parser accepts is normalized,
    /// and the normalized form is a fixed point.
    #[test]
    fn accepted_messages_are_stable(line in prop_oneof![fuzz_message(), mutated_message()]) {
        if let Ok(req) = parse_client_line(&line) {
            let again = parse_client_line(&req.to_line().unwrap()).unwrap();
            prop_assert_eq!(again, req);
        }
        if let Ok(msg) = parse_server_line(&line) {
            let again = parse_server_line(&msg.to_line().unwrap()).unwrap();
            prop_assert_eq!(again, msg);
        }
    }
}
