//! Literal message samples in the shapes real firmware and pools send.
//!
//! Miner-side samples follow the formatting of the three common firmware
//! families: cgminer/bmminer (Antminer: `"key": value` with spaces, params
//! first in submit), btminer (Whatsminer: compact JSON, version bits on
//! every submit) and cgminer-avalon (Canaan Avalon: string numbers, empty
//! session ids, CRLF line endings). Pool-side samples include a capture from
//! solo.ckpool.org.

use bytes::BytesMut;
use sv1::{
    parse_client_line, parse_server_line, Authorize, ClientMethod, ClientRequest, Configure,
    ConfigureExtension, ErrorCode, Id, Notification, OutgoingMessage, ParamError, Response,
    ResponseResult, ServerMessage, Submit, Subscribe, Sv1Error, Sv1ServerCodec,
};
use tokio_util::codec::Decoder;

fn req(line: &str) -> ClientRequest {
    parse_client_line(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn submit(line: &str) -> Submit {
    match req(line).method {
        ClientMethod::Submit(s) => s,
        m => panic!("not a submit: {m:?}"),
    }
}

// ---------------------------------------------------------------- Antminer

const BMMINER_SESSION: &str = concat!(
    "{\"id\": 1, \"method\": \"mining.configure\", \"params\": [[\"version-rolling\"], {\"version-rolling.mask\": \"1fffe000\", \"version-rolling.min-bit-count\": 2}]}\n",
    "{\"id\": 2, \"method\": \"mining.subscribe\", \"params\": [\"bmminer/2.0.0\"]}\n",
    "{\"id\": 3, \"method\": \"mining.authorize\", \"params\": [\"acct.s9-rack2-14\", \"x\"]}\n",
    "{\"id\": 4, \"method\": \"mining.extranonce.subscribe\", \"params\": []}\n",
    "{\"params\": [\"acct.s9-rack2-14\", \"1a3f\", \"00000000\", \"65f2c1d0\", \"1d2e3f40\", \"00c00000\"], \"id\": 5, \"method\": \"mining.submit\"}\n",
);

#[test]
fn antminer_session() {
    let mut codec = Sv1ServerCodec::default();
    let mut buf = BytesMut::from(BMMINER_SESSION.as_bytes());
    let mut got = Vec::new();
    while let Some(item) = codec.decode(&mut buf).unwrap() {
        got.push(item.unwrap());
    }
    assert_eq!(got.len(), 5);
    assert_eq!(
        got[0].method,
        ClientMethod::Configure(Configure {
            extensions: vec![ConfigureExtension::VersionRolling {
                mask: Some(0x1fffe000),
                min_bit_count: Some(2)
            }]
        })
    );
    assert_eq!(
        got[1].method,
        ClientMethod::Subscribe(Subscribe {
            user_agent: Some("bmminer/2.0.0".into()),
            session_id: None
        })
    );
    assert_eq!(
        got[2].method,
        ClientMethod::Authorize(Authorize {
            username: "acct.s9-rack2-14".into(),
            password: Some("x".into())
        })
    );
    assert_eq!(got[3].method, ClientMethod::ExtranonceSubscribe);
    assert_eq!(got[4].id, Id::from(5u64));
    assert_eq!(
        got[4].method,
        ClientMethod::Submit(Submit {
            worker: "acct.s9-rack2-14".into(),
            job_id: "1a3f".into(),
            extranonce2: vec![0; 4],
            ntime: 0x65f2c1d0,
            nonce: 0x1d2e3f40,
            version_bits: Some(0x00c00000),
        })
    );
}

#[test]
fn antminer_variants() {
    // Resuming a session: subscribe with the previous extranonce1.
    let r =
        req(r#"{"id": 1, "method": "mining.subscribe", "params": ["bmminer/2.0.0", "0a0b0c0d"]}"#);
    assert!(
        matches!(r.method, ClientMethod::Subscribe(Subscribe { session_id: Some(ref s), .. }) if s == "0a0b0c0d")
    );
    // Classic cgminer submit without version rolling.
    let s = submit(
        r#"{"params": ["acct.s9", "bf", "00000001", "504e86ed", "b2957c02"], "id": 4, "method": "mining.submit"}"#,
    );
    assert_eq!(
        (s.ntime, s.nonce, s.version_bits),
        (0x504e86ed, 0xb2957c02, None)
    );
    // Old S9 ASICBoost negotiation: unmodelled, answered with an error by the server.
    let r = req(r#"{"id": 1, "method": "mining.multi_version", "params": [1]}"#);
    assert_eq!(r.method.name(), "mining.multi_version");
    assert!(matches!(r.method, ClientMethod::Other { .. }));
    // S19 firmware also sends a configure with an "info" block and a full mask.
    let r = req(
        r#"{"id": 1, "method": "mining.configure", "params": [["version-rolling", "info"], {"version-rolling.mask": "ffffffff", "version-rolling.min-bit-count": 16, "info.connection-url": "stratum+tcp://stratum.example.net:3333", "info.hw-version": "Antminer S19j Pro", "info.sw-version": "bmminer 1.0.0"}]}"#,
    );
    let ClientMethod::Configure(c) = r.method else {
        panic!()
    };
    assert_eq!(c.version_rolling(), Some((Some(0xffffffff), Some(16))));
    assert!(
        matches!(&c.extensions[1], ConfigureExtension::Other { name, params } if name == "info" && params.len() == 3)
    );
    // Numeric suggest_difficulty.
    let r = req(r#"{"id": 5, "method": "mining.suggest_difficulty", "params": [4096]}"#);
    assert_eq!(
        r.method,
        ClientMethod::SuggestDifficulty { difficulty: 4096.0 }
    );
}

// -------------------------------------------------------------- Whatsminer

#[test]
fn whatsminer_samples() {
    let r = req(
        r#"{"id":1,"method":"mining.subscribe","params":["btminer/3.1.0",null,"stratum.example.net","3333"]}"#,
    );
    assert_eq!(
        r.method,
        ClientMethod::Subscribe(Subscribe {
            user_agent: Some("btminer/3.1.0".into()),
            session_id: None
        })
    );
    let r = req(
        r#"{"id":2,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":0}]}"#,
    );
    assert!(
        matches!(r.method, ClientMethod::Configure(ref c) if c.version_rolling() == Some((Some(0x1fffe000), Some(0))))
    );
    // Password omitted entirely.
    let r = req(r#"{"id":3,"method":"mining.authorize","params":["acct.m30s-001"]}"#);
    assert_eq!(
        r.method,
        ClientMethod::Authorize(Authorize {
            username: "acct.m30s-001".into(),
            password: None
        })
    );
    // Version bits on every submit, 8-byte extranonce2, upper-case hex.
    let s = submit(
        r#"{"id":10,"method":"mining.submit","params":["acct.m30s-001","1b7","6F1A00000000C2D4","65F2C1D0","9A3B7C5E","04DE0000"]}"#,
    );
    assert_eq!(s.extranonce2, vec![0x6f, 0x1a, 0, 0, 0, 0, 0xc2, 0xd4]);
    assert_eq!(
        (s.ntime, s.nonce, s.version_bits),
        (0x65f2c1d0, 0x9a3b7c5e, Some(0x04de0000))
    );
    // Responses to a server's client.get_version come back on the same socket.
    assert!(matches!(
        parse_client_line(r#"{"id":100,"result":"btminer/3.1.0","error":null}"#),
        Err(Sv1Error::UnexpectedResponse { .. })
    ));
}

// ------------------------------------------------------------------- Avalon

#[test]
fn avalon_samples() {
    let lines = concat!(
        "{\"id\": 1, \"method\": \"mining.subscribe\", \"params\": [\"cgminer/4.11.1\", \"\"]}\r\n",
        "{\"id\": 2, \"method\": \"mining.configure\", \"params\": [[\"version-rolling\"], {\"version-rolling.mask\": \"1fffe000\", \"version-rolling.min-bit-count\": \"2\"}]}\r\n",
        "{\"id\": 3, \"method\": \"mining.suggest_difficulty\", \"params\": [\"65536\"]}\r\n",
        "{\"id\": \"4\", \"method\": \"mining.authorize\", \"params\": [\"acct.avalon1246\", \"\"]}\r\n",
        "{\"params\": [\"acct.avalon1246\", \"2c\", \"0000a1b2\", \"65f2c1d0\", \"07d2e8a1\", \"0a43e000\"], \"id\": 5, \"method\": \"mining.submit\"}\r\n",
    );
    let mut codec = Sv1ServerCodec::new(4096);
    let mut buf = BytesMut::from(lines.as_bytes());
    let mut got = Vec::new();
    while let Some(item) = codec.decode(&mut buf).unwrap() {
        got.push(item.unwrap());
    }
    assert_eq!(got.len(), 5);
    assert_eq!(
        got[0].method,
        ClientMethod::Subscribe(Subscribe {
            user_agent: Some("cgminer/4.11.1".into()),
            session_id: Some(String::new())
        })
    );
    assert!(
        matches!(&got[1].method, ClientMethod::Configure(c) if c.version_rolling() == Some((Some(0x1fffe000), Some(2))))
    );
    assert_eq!(
        got[2].method,
        ClientMethod::SuggestDifficulty {
            difficulty: 65536.0
        }
    );
    // String id is echoed as a string.
    assert_eq!(got[3].id, Id::from("4"));
    let reply = Response::bool(got[3].id.clone(), true).to_line().unwrap();
    assert_eq!(reply, "{\"id\":\"4\",\"result\":true,\"error\":null}\n");
    assert!(
        matches!(&got[4].method, ClientMethod::Submit(s) if s.version_bits == Some(0x0a43e000))
    );
}

#[test]
fn misc_tolerance() {
    // JSON-RPC 2.0 envelope, empty authorize params.
    let r = req(r#"{"jsonrpc":"2.0","id":7,"method":"mining.authorize","params":[]}"#);
    assert_eq!(r.method, ClientMethod::Authorize(Authorize::default()));
    // Null id, params missing.
    let r = req(r#"{"id":null,"method":"mining.extranonce.subscribe"}"#);
    assert_eq!(
        (r.id, r.method),
        (Id::Null, ClientMethod::ExtranonceSubscribe)
    );
    // Numbers as strings, decimal difficulty.
    let r = req(r#"{"id":8,"method":"mining.suggest_difficulty","params":["0.5"]}"#);
    assert_eq!(
        r.method,
        ClientMethod::SuggestDifficulty { difficulty: 0.5 }
    );
    // A numeric job id.
    let s = submit(
        r#"{"id":9,"method":"mining.submit","params":["w",1234,"00","00000001","00000002"]}"#,
    );
    assert_eq!(s.job_id, "1234");
    // Garbage in a known method yields an answerable error.
    let e =
        parse_client_line(r#"{"id":11,"method":"mining.submit","params":["w","j","zz","0","0"]}"#)
            .unwrap_err();
    assert!(matches!(
        e,
        Sv1Error::InvalidParams {
            field: "extranonce2",
            reason: ParamError::Hex(_),
            ..
        }
    ));
    let answer = Response::error(
        e.request_id().cloned().unwrap_or_default(),
        e.to_stratum_error(),
    );
    assert!(answer
        .to_line()
        .unwrap()
        .starts_with("{\"id\":11,\"result\":null,\"error\":[20,"));
}

// ------------------------------------------------------------------- Pools

/// solo.ckpool.org, April 2024 (block 840,361 template).
const CKPOOL_SUBSCRIBE: &str =
    r#"{"result":[[["mining.notify","71ae8ae6"]],"5324fa6e",8],"id":1,"error":null}"#;
const CKPOOL_NOTIFY: &str = r#"{"params":["64851638000ea04d","6a2be50e9bfb43f4973d1b2a84fc5fa27a11730b000209b00000000000000000","01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff3503a9d20c0004b8852666047a773e130c","0a636b706f6f6c112f736f6c6f2e636b706f6f6c2e6f72672fffffffff03c432eb1b000000001976a914c987a18977a2139835193b3df2eea097f834966888ac76dc91000000000016001451ed61d2f6aa260cc72cdf743e4e436a82c010270000000000000000266a24aa21a9ed5c2c1c347c20b2c0818daeda78f4d407f55b405e5652265bbc0b5ab948c615cb00000000",["3d14cb3882afe1cdb6121b77a1c6fe1ace1cfb4f56796875c0e5dc7475d794e5","90107e0ab73bfb0cb540cf129823a3fdd4d2df2d1cfb8a50f2ec4f10da6e4e3f","ce46e565beea4882ea532dfaecb83cc879a60c36a298ab40ec2a3c4e5ae42d65","afbead8f037a81818082f0d276e4a438a3456f0dfcce87255c349264a77ffdf1","67dcbd833c2676450e1f388da5781f902c6c4ca423a88fac6cf2a16827ebd567","7ffff8567be6efa8acd37a27b3c60bd194ca990bca74c9e71dd673d3e0c3f621","53514468979f077ace9ba497d3fa44e5091150188d29ed3dcb80a89f36662839","ff0c843842dde895d2ee8e698d35240517de66bdd839ec3f88d7c3a2b2337724","81a08847bb764ec45481a3e491640d5557fc78276091b69534af71267d1610a5","fb60c793ec790c71bb5b54e93cd8db5f134d9730754ec7c88f71862e07151d7f","bcd9c2f483e5a422e735f23610a40d07790f0ef47bea1218a4fbc1489865202c","b9a275e502fab0f76cb10e9d791a16ef18cf8addbf2ebdc92ede9a07a62dee84"],"20000000","17034219","662685b8",true],"id":null,"method":"mining.notify"}"#;

#[test]
fn ckpool_capture() {
    let ServerMessage::Response(r) = parse_server_line(CKPOOL_SUBSCRIBE).unwrap() else {
        panic!()
    };
    let ResponseResult::Subscribe(s) = r.result else {
        panic!()
    };
    assert_eq!(
        s.subscriptions,
        vec![("mining.notify".into(), "71ae8ae6".into())]
    );
    assert_eq!(s.extranonce1, vec![0x53, 0x24, 0xfa, 0x6e]);
    assert_eq!(s.extranonce2_size, 8);

    let ServerMessage::Notification(Notification::Notify(n)) =
        parse_server_line(CKPOOL_NOTIFY).unwrap()
    else {
        panic!()
    };
    assert_eq!(n.job_id, "64851638000ea04d");
    assert_eq!(n.merkle_branch.len(), 12);
    assert_eq!(n.merkle_branch[0][..2], [0x3d, 0x14]);
    assert_eq!(
        (n.version, n.nbits, n.ntime, n.clean_jobs),
        (0x20000000, 0x17034219, 0x662685b8, true)
    );
    assert_eq!(n.coinb1.len(), 58);
    assert!(n.coinb2.ends_with(&[0, 0, 0, 0]));
    // Serializing gives back exactly the pool's hex fields.
    let line = Notification::Notify(n).to_line().unwrap();
    for field in [
        "6a2be50e9bfb43f4973d1b2a84fc5fa27a11730b000209b00000000000000000",
        "\"20000000\",\"17034219\",\"662685b8\",true]",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}

#[test]
fn pool_replies_and_notifications() {
    let samples = [
        r#"{"id":null,"method":"mining.set_difficulty","params":[10000]}"#,
        r#"{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}"#,
        r#"{"id":null,"method":"mining.set_extranonce","params":["f8002c90",4]}"#,
        r#"{"id":null,"method":"client.reconnect","params":["stratum.example.net",3333,0]}"#,
        r#"{"id":null,"method":"client.show_message","params":["Pool maintenance at 12:00 UTC"]}"#,
        r#"{"id":2,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000"},"error":null}"#,
        r#"{"id":3,"result":true,"error":null}"#,
        r#"{"id":5,"result":null,"error":[21,"Job not found",null]}"#,
        r#"{"id":6,"result":null,"error":[23,"Low difficulty share",null]}"#,
        r#"{"id":7,"result":false,"error":{"code":22,"message":"Duplicate share"}}"#,
    ];
    let parsed: Vec<ServerMessage> = samples
        .iter()
        .map(|l| parse_server_line(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(
        parsed[0],
        ServerMessage::Notification(Notification::SetDifficulty {
            difficulty: 10000.0
        })
    );
    let ServerMessage::Response(cfg) = &parsed[5] else {
        panic!()
    };
    assert!(
        matches!(&cfg.result, ResponseResult::Configure(c) if c.version_rolling == Some(true) && c.version_rolling_mask == Some(0x1fffe000))
    );
    let kinds: Vec<Option<ErrorCode>> = parsed[7..]
        .iter()
        .map(|m| match m {
            ServerMessage::Response(r) => r.error.as_ref().and_then(|e| e.kind()),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            Some(ErrorCode::JobNotFound),
            Some(ErrorCode::LowDifficulty),
            Some(ErrorCode::Duplicate)
        ]
    );
    // Every sample re-serializes to a line that parses to the same value.
    for m in &parsed {
        assert_eq!(&parse_server_line(&m.to_line().unwrap()).unwrap(), m);
    }
}
