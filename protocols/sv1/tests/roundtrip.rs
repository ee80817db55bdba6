//! Property tests: serialize -> parse gives back the same value, for every
//! message type in both directions.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::Value;
use sv1::{
    parse_client_line, parse_server_line, Authorize, ClientMethod, ClientRequest, Configure,
    ConfigureExtension, ConfigureResult, Id, Notification, Notify, OutgoingMessage, PrevHash,
    Reconnect, Response, ResponseResult, ServerMessage, StratumError, Submit, Subscribe,
    SubscribeResult, MAX_EXTRANONCE2_SIZE,
};

const CLIENT_METHODS: &[&str] = &[
    "mining.subscribe",
    "mining.authorize",
    "mining.configure",
    "mining.extranonce.subscribe",
    "mining.suggest_difficulty",
    "mining.suggest_target",
    "mining.submit",
];
const SERVER_METHODS: &[&str] = &[
    "mining.notify",
    "mining.set_difficulty",
    "mining.set_extranonce",
    "mining.set_version_mask",
    "client.reconnect",
    "client.show_message",
];
const KNOWN_EXTENSIONS: &[&str] = &[
    "version-rolling",
    "minimum-difficulty",
    "subscribe-extranonce",
];

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![
        Just(Id::Null),
        any::<u64>().prop_map(Id::from),
        any::<i64>().prop_map(Id::from),
        (-1e12f64..1e12).prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Id::Number)),
        any::<String>().prop_map(Id::String),
    ]
}

/// Finite, non-negative difficulties across many magnitudes.
fn difficulty() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u64..1 << 40).prop_map(|v| v as f64),
        (1e-9f64..1e15),
        any::<f64>().prop_filter("finite positive", |f| f.is_finite() && *f > 0.0),
    ]
}

fn simple_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    simple_value().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-z.]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn configure() -> impl Strategy<Value = Configure> {
    let others = btree_map(
        "[a-z][a-z-]{0,8}".prop_filter("unknown name", |n| !KNOWN_EXTENSIONS.contains(&n.as_str())),
        btree_map("[a-z][a-z.-]{0,8}", simple_value(), 0..3),
        0..3,
    );
    (
        proptest::option::of((
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
        )),
        proptest::option::of(proptest::option::of(difficulty())),
        any::<bool>(),
        others,
    )
        .prop_map(|(vr, md, se, others)| {
            let mut extensions = Vec::new();
            if let Some((mask, min_bit_count)) = vr {
                extensions.push(ConfigureExtension::VersionRolling {
                    mask,
                    min_bit_count,
                });
            }
            if let Some(value) = md {
                extensions.push(ConfigureExtension::MinimumDifficulty { value });
            }
            if se {
                extensions.push(ConfigureExtension::SubscribeExtranonce);
            }
            for (name, params) in others {
                extensions.push(ConfigureExtension::Other { name, params });
            }
            Configure { extensions }
        })
}

fn client_method() -> impl Strategy<Value = ClientMethod> {
    prop_oneof![
        (
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<String>())
        )
            .prop_map(
                |(user_agent, session_id)| ClientMethod::Subscribe(Subscribe {
                    user_agent,
                    session_id
                })
            ),
        (any::<String>(), proptest::option::of(any::<String>())).prop_map(
            |(username, password)| { ClientMethod::Authorize(Authorize { username, password }) }
        ),
        configure().prop_map(ClientMethod::Configure),
        Just(ClientMethod::ExtranonceSubscribe),
        difficulty().prop_map(|difficulty| ClientMethod::SuggestDifficulty { difficulty }),
        any::<[u8; 32]>().prop_map(|target| ClientMethod::SuggestTarget { target }),
        (
            any::<String>(),
            any::<String>(),
            bytes(17),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(any::<u32>())
        )
            .prop_map(
                |(worker, job_id, extranonce2, ntime, nonce, version_bits)| {
                    ClientMethod::Submit(Submit {
                        worker,
                        job_id,
                        extranonce2,
                        ntime,
                        nonce,
                        version_bits,
                    })
                }
            ),
        (
            "[a-z]{1,8}\\.[a-z_]{1,12}"
                .prop_filter("unknown", |m| !CLIENT_METHODS.contains(&m.as_str())),
            vec(json_value(), 0..4)
        )
            .prop_map(|(method, params)| ClientMethod::Other {
                method,
                params: Value::Array(params)
            }),
    ]
}

fn notify() -> impl Strategy<Value = Notify> {
    (
        any::<String>(),
        any::<[u8; 32]>(),
        bytes(120),
        bytes(200),
        vec(any::<[u8; 32]>(), 0..14),
        any::<[u32; 3]>(),
        any::<bool>(),
    )
        .prop_map(
            |(job_id, prev, coinb1, coinb2, merkle_branch, [version, nbits, ntime], clean_jobs)| {
                Notify {
                    job_id,
                    prev_hash: PrevHash::from_header_bytes(prev),
                    coinb1,
                    coinb2,
                    merkle_branch,
                    version,
                    nbits,
                    ntime,
                    clean_jobs,
                }
            },
        )
}

fn notification() -> impl Strategy<Value = Notification> {
    prop_oneof![
        notify().prop_map(Notification::Notify),
        difficulty()
            .prop_filter("positive", |d| *d > 0.0)
            .prop_map(|difficulty| Notification::SetDifficulty { difficulty }),
        (bytes(17), 0..=MAX_EXTRANONCE2_SIZE).prop_map(|(extranonce1, extranonce2_size)| {
            Notification::SetExtranonce {
                extranonce1,
                extranonce2_size,
            }
        }),
        any::<u32>().prop_map(|mask| Notification::SetVersionMask { mask }),
        (
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u64>())
        )
            .prop_map(
                |(host, port, wait_secs)| Notification::Reconnect(Reconnect {
                    host,
                    port,
                    wait_secs
                })
            ),
        any::<String>().prop_map(|message| Notification::ShowMessage { message }),
        (
            "[a-z]{1,8}\\.[a-z_]{1,12}"
                .prop_filter("unknown", |m| !SERVER_METHODS.contains(&m.as_str())),
            vec(json_value(), 0..4)
        )
            .prop_map(|(method, params)| Notification::Other {
                method,
                params: Value::Array(params)
            }),
    ]
}

fn configure_result() -> impl Strategy<Value = ConfigureResult> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        btree_map(
            "[a-z][a-z.-]{0,10}".prop_filter("unknown key", |k| {
                !KNOWN_EXTENSIONS.contains(&k.as_str()) && k != "version-rolling.mask"
            }),
            json_value(),
            0..3,
        ),
    )
        .prop_map(
            |(
                version_rolling,
                version_rolling_mask,
                minimum_difficulty,
                subscribe_extranonce,
                other,
            )| {
                ConfigureResult {
                    version_rolling,
                    version_rolling_mask,
                    minimum_difficulty,
                    subscribe_extranonce,
                    other: other.into_iter().collect::<BTreeMap<_, _>>(),
                }
            },
        )
}

fn response_result() -> impl Strategy<Value = ResponseResult> {
    prop_oneof![
        Just(ResponseResult::Null),
        any::<bool>().prop_map(ResponseResult::Bool),
        (
            vec((any::<String>(), any::<String>()), 0..4),
            bytes(17),
            0..=MAX_EXTRANONCE2_SIZE
        )
            .prop_map(|(subscriptions, extranonce1, extranonce2_size)| {
                ResponseResult::Subscribe(SubscribeResult {
                    subscriptions,
                    extranonce1,
                    extranonce2_size,
                })
            }),
        configure_result().prop_map(ResponseResult::Configure),
        // Shapes that are none of the above: strings, numbers, string lists.
        prop_oneof![
            any::<String>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            vec(any::<String>().prop_map(Value::from), 0..4).prop_map(Value::Array),
        ]
        .prop_map(ResponseResult::Other),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        notification().prop_map(ServerMessage::Notification),
        (
            id(),
            response_result(),
            proptest::option::of(
                (any::<i64>(), any::<String>())
                    .prop_map(|(code, message)| StratumError { code, message })
            )
        )
            .prop_map(|(id, result, error)| ServerMessage::Response(Response {
                id,
                result,
                error
            })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn client_requests_round_trip(id in id(), method in client_method()) {
        let req = ClientRequest { id, method };
        let line = req.to_line().unwrap();
        prop_assert!(line.ends_with('\n'));
        prop_assert_eq!(line.matches('\n').count(), 1, "one line only: {}", line);
        let back = parse_client_line(&line).unwrap();
        prop_assert_eq!(back, req);
    }

    #[test]
    fn server_messages_round_trip(msg in server_message()) {
        let line = msg.to_line().unwrap();
        prop_assert_eq!(line.matches('\n').count(), 1, "one line only: {}", line);
        let back = parse_server_line(&line).unwrap();
        prop_assert_eq!(back, msg);
    }

    #[test]
    fn prevhash_forms_round_trip(bytes in any::<[u8; 32]>()) {
        let p = PrevHash::from_header_bytes(bytes);
        prop_assert_eq!(PrevHash::from_stratum_hex(&p.to_stratum_hex()).unwrap(), p);
        prop_assert_eq!(PrevHash::from_display_hex(&p.to_display_hex()).unwrap(), p);
        // Word swap is an involution and differs from full reversal.
        let s = p.to_stratum_bytes();
        prop_assert_eq!(PrevHash::from_stratum_bytes(s), p);
        let mut reversed = bytes;
        reversed.reverse();
        let words_reversed: Vec<u8> = reversed.chunks(4).rev().flatten().copied().collect();
        prop_assert_eq!(s.to_vec(), words_reversed);
    }

    #[test]
    fn u32_hex_round_trip(v in any::<u32>()) {
        prop_assert_eq!(sv1::encoding::parse_u32_hex(&sv1::encoding::u32_hex(v)).unwrap(), v);
        prop_assert_eq!(sv1::encoding::parse_u32_hex(&format!("{v:X}")).unwrap(), v);
        prop_assert_eq!(sv1::encoding::parse_u32_hex(&format!("0x{v:x}")).unwrap(), v);
    }
}
