//! The treasury dashboard in a real browser: a pool with a ledger runs against the bitcoind
//! stand-in, a CPU miner finds blocks on two sites, and headless Chromium loads the dashboard
//! (with the access token) from the pool's HTTP port. The figures in the rendered DOM must
//! match the ledger; a screenshot is saved to `target/tmp/treasury-dashboard.png` (Cargo's
//! `CARGO_TARGET_TMPDIR`, wherever the target directory is).
//! Skipped, with a message, only where `/usr/bin/chromium` is absent.

mod treasury_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bitcoin::hashes::Hash;
use pool::accounting::WorkSink;
use pool::config::PoolConfig;
use pool::treasury::reports;
use test_utils::bitcoind::{StandIn, StandInConfig};
use treasury_support::miner::Miner;
use treasury_support::{authority, temp_dir, treasury_config};

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new("timeout");
    cmd.arg("90").arg(CHROMIUM).args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--virtual-time-budget=3000",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd.args(args);
    cmd.output().expect("chromium runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium_matches_the_ledger() {
    if !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} must exist under CI (.ci/run installs Debian's chromium)"
        );
        eprintln!(
            "\n!!!!!!!! {CHROMIUM} not found: SKIPPING the browser test of the dashboard \
             (.ci/run installs Debian's chromium) !!!!!!!!\n"
        );
        return;
    }
    let standin = StandIn::start(StandInConfig::default())
        .await
        .expect("stand-in");
    let dir = temp_dir("dash");
    let (key, pub_s, sec_s) = authority();
    let mut text = treasury_config(
        &standin.url(),
        "127.0.0.1:0",
        &pub_s,
        &sec_s,
        &dir.join("ledger.db").display().to_string(),
    );
    text.push_str("\n[dashboard]\ntoken = \"t0k3n-dash\"\n");
    let cfg = PoolConfig::parse(&text).expect("config");
    let ledger = tokio::task::block_in_place(|| pool::treasury::open_ledger(&cfg))
        .expect("ledger")
        .expect("configured");
    let sink: Arc<dyn WorkSink> = ledger.clone();
    let mut handle = pool::start_pool(cfg.clone(), sink).await.expect("pool");
    assert!(handle.wait_for_job(Duration::from_secs(10)).await);
    let _tracker = pool::treasury::start_tracker(&cfg, ledger.clone())
        .await
        .expect("tracker");
    let (http, _task) = pool::dashboard::serve(
        "127.0.0.1:0".parse().unwrap(),
        pool::dashboard::HttpState {
            readiness: pool::dashboard::Readiness::default(),
            prometheus: pool::telemetry::install_recorder().ok(),
            ledger: Some(ledger.clone()),
            dashboard: cfg.dashboard.clone(),
        },
    )
    .expect("http");

    // Three blocks: fra1, ams2, fra1; then the last one is reorged away.
    let mut fra = Miner::connect(handle.local_addr, key, "fra1.rig-01")
        .await
        .unwrap();
    let mut ams = Miner::connect(handle.local_addr, key, "ams2.rig-07")
        .await
        .unwrap();
    for (i, use_fra) in [true, false, true].into_iter().enumerate() {
        let m = if use_fra { &mut fra } else { &mut ams };
        m.sync_to(standin.tip().hash.to_byte_array()).await.unwrap();
        assert!(m.submit_share().await.unwrap());
        let before = i + 1;
        let l = ledger.clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let b = reports::blocks(&l, None, 10).unwrap();
            if b.len() == before && b.iter().all(|b| b.status == "immature") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "block credited");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    standin.reorg(1).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while reports::block_counts(&ledger).unwrap()["orphaned"] != 1 {
        assert!(std::time::Instant::now() < deadline, "orphaned in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Without the token the dashboard is refused.
    let url = format!("http://{http}/?token=t0k3n-dash");
    let profile = dir.join("chromium-profile");
    let denied = {
        let p = profile.clone();
        let u = format!("http://{http}/");
        tokio::task::spawn_blocking(move || chromium(&p, &["--dump-dom", &u]))
            .await
            .unwrap()
    };
    let denied_dom = String::from_utf8_lossy(&denied.stdout);
    assert!(denied_dom.contains("token required"), "{denied_dom}");

    let out = {
        let p = profile.clone();
        let u = url.clone();
        tokio::task::spawn_blocking(move || chromium(&p, &["--dump-dom", &u]))
            .await
            .unwrap()
    };
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("Treasury dashboard"),
        "chromium rendered the page; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains("data-js=\"ready\""),
        "the page's script ran in the browser"
    );
    // Every balance shown equals the ledger's, in BTC and in satoshis.
    let balances = reports::balances(&ledger).unwrap();
    assert!(balances.iter().any(|b| b.orphaned > 0));
    for b in &balances {
        for (bucket, sats) in [
            ("immature", b.immature),
            ("mature", b.mature),
            ("orphaned", b.orphaned),
        ] {
            let needle = format!(
                "data-account=\"{}\" data-bucket=\"{bucket}\" data-sats=\"{sats}\">{}</td>",
                b.account,
                reports::btc(sats)
            );
            assert!(dom.contains(&needle), "DOM lacks {needle}");
        }
    }
    // Site figures: 24 h uptime per site and the quarter's mined amounts.
    let now = pool::accounting::unix_now();
    let day = pool::treasury::period::Range {
        from: now - 86_400,
        to: now,
    };
    for a in reports::activity(&ledger, day, now).unwrap() {
        let needle = format!("data-site=\"{}\" data-uptime=\"", a.site);
        assert!(dom.contains(&needle), "DOM lacks uptime of {}", a.site);
    }
    let quarter =
        pool::treasury::period::period_containing(pool::treasury::period::Period::Quarter, now);
    let (mined, _) = reports::mined(&ledger, quarter).unwrap();
    for m in mined.iter().filter(|m| m.site != "unassigned") {
        let needle = format!(
            "data-site=\"{}\" data-mined=\"quarter\" data-sats=\"{}\">{}</td>",
            m.site,
            m.mined_sats,
            reports::btc(m.mined_sats)
        );
        assert!(dom.contains(&needle), "DOM lacks {needle}");
    }
    assert!(dom.contains("data-block-status=\"orphaned\""));
    assert!(dom.contains("data-status=\"immature\" data-count=\"2\""));
    assert_eq!(
        dom.matches("<polyline").count(),
        2,
        "one chart line per site"
    );

    // Screenshot for people.
    let shot: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("treasury-dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let s = shot.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        chromium(
            &profile,
            &[
                "--window-size=1280,1500",
                &format!("--screenshot={s}"),
                &url,
            ],
        )
    })
    .await
    .unwrap();
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "screenshot {}: {e}; stderr: {}",
            shot.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
    eprintln!("dashboard screenshot: {}", shot.display());
    handle.shutdown();
    let _ = &mut handle;
}
