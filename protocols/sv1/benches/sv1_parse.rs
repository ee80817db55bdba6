//! Parse / serialize throughput of the messages a translator sees most.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sv1::{parse_client_line, parse_server_line, OutgoingMessage, Response, StratumError};

const SUBMIT: &str = r#"{"params": ["acct.s19-rack4-07", "5f3a", "00a1b2c3", "679ac169", "ff05fb02", "0e596000"], "id": 4817, "method": "mining.submit"}"#;

const NOTIFY: &str = r#"{"id":null,"method":"mining.notify","params":["64851638000ea04d","6a2be50e9bfb43f4973d1b2a84fc5fa27a11730b000209b00000000000000000","01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff3503a9d20c0004b8852666047a773e130c","0a636b706f6f6c112f736f6c6f2e636b706f6f6c2e6f72672fffffffff03c432eb1b000000001976a914c987a18977a2139835193b3df2eea097f834966888ac76dc91000000000016001451ed61d2f6aa260cc72cdf743e4e436a82c010270000000000000000266a24aa21a9ed5c2c1c347c20b2c0818daeda78f4d407f55b405e5652265bbc0b5ab948c615cb00000000",["3d14cb3882afe1cdb6121b77a1c6fe1ace1cfb4f56796875c0e5dc7475d794e5","90107e0ab73bfb0cb540cf129823a3fdd4d2df2d1cfb8a50f2ec4f10da6e4e3f","ce46e565beea4882ea532dfaecb83cc879a60c36a298ab40ec2a3c4e5ae42d65","afbead8f037a81818082f0d276e4a438a3456f0dfcce87255c349264a77ffdf1","67dcbd833c2676450e1f388da5781f902c6c4ca423a88fac6cf2a16827ebd567","7ffff8567be6efa8acd37a27b3c60bd194ca990bca74c9e71dd673d3e0c3f621","53514468979f077ace9ba497d3fa44e5091150188d29ed3dcb80a89f36662839","ff0c843842dde895d2ee8e698d35240517de66bdd839ec3f88d7c3a2b2337724","81a08847bb764ec45481a3e491640d5557fc78276091b69534af71267d1610a5","fb60c793ec790c71bb5b54e93cd8db5f134d9730754ec7c88f71862e07151d7f","bcd9c2f483e5a422e735f23610a40d07790f0ef47bea1218a4fbc1489865202c","b9a275e502fab0f76cb10e9d791a16ef18cf8addbf2ebdc92ede9a07a62dee84"],"20000000","17034219","662685b8",true]}"#;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sv1");

    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_submit", |b| {
        b.iter(|| parse_client_line(black_box(SUBMIT)).map(|r| r.id))
    });

    let notify = match parse_server_line(NOTIFY) {
        Ok(sv1::ServerMessage::Notification(n)) => n,
        other => panic!("bench fixture does not parse: {other:?}"),
    };
    g.bench_function("parse_notify", |b| {
        b.iter(|| parse_server_line(black_box(NOTIFY)).is_ok())
    });
    g.bench_function("serialize_notify", |b| {
        b.iter(|| black_box(&notify).to_line().map(|l| l.len()))
    });

    let reply = Response::error(
        sv1::Id::from(4817u64),
        StratumError::from(sv1::ErrorCode::Duplicate),
    );
    g.bench_function("serialize_error_reply", |b| {
        b.iter(|| black_box(&reply).to_line().map(|l| l.len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
