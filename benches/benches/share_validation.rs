//! Share validation: raw compression cost, naive header hashing, our standard
//! and extended share paths (single and batch), the same extended share
//! through SRI's `channels_sv2` and through our whole channel
//! (`ExtendedChannel::validate_share`: job lookup, version/ntime checks, hash,
//! target, duplicates; and `validate_shares` on 16 at once), and
//! multi-threaded throughput.
//!
//! Run: `cargo bench -p benches --bench share_validation -- --warm-up-time 1 --measurement-time 3`
//! After the criterion group a summary table (timed with `Instant` in the same
//! process) prints the ratios, followed by the thread-scaling run.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::{Amount, ScriptBuf, Transaction, TxOut};
use channels_sv2::extranonce_manager::ExtranonceAllocator;
use channels_sv2::server::extended::ExtendedChannel;
use channels_sv2::server::share_accounting::ShareValidationError;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dashmap::DashSet;
use mining_sv2::{SetCustomMiningJobOwned, SubmitSharesExtendedOwned};
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};
use sv2_mining::channel::{
    ChainTip, ChannelConfig, ExtendedChannel as OurExtendedChannel, JobTemplate, ShareError,
    ShareOutcome, SubmitExtended,
};
use sv2_mining::coinbase::CoinbaseParts;
use sv2_mining::hash::Backend;
use sv2_mining::header::{version_rolling_ok, BlockHeader, BIP320_VERSION_MASK};
use sv2_mining::merkle::merkle_root_from_path;
use sv2_mining::sha256d::{sha256d, Block, State, IV};
use sv2_mining::share::{ExtendedJobHasher, ExtendedShare, StandardJobHasher, StandardShare};
use sv2_mining::target::Target;

const MERKLE_DEPTH: usize = 12;
const JOB_VERSION: u32 = 0x2000_0000;
const MIN_NTIME: u32 = 1_745_596_910;
const NBITS: u32 = 0x1703_4219;
/// Shares per batch call in the batch benches.
const BATCH: usize = 16;

/// A realistic extended job built by SRI's channel, plus the same job in our
/// hasher.
struct Fixture {
    channel: ExtendedChannel,
    share: SubmitSharesExtendedOwned,
    job_id: u32,
    /// The channel's extranonce prefix (the end of `prefix`).
    channel_prefix: Vec<u8>,
    /// The miner's part of the extranonce.
    extranonce: Vec<u8>,
    /// Coinbase bytes before the miner's extranonce.
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    path: Vec<[u8; 32]>,
    prev_hash: [u8; 32],
    coinbase_len: usize,
}

fn fixture() -> Fixture {
    let mut allocator = ExtranonceAllocator::new(b"pool".to_vec(), 20, 256).expect("allocator");
    let rollable = allocator.rollable_extranonce_size();
    let prefix_alloc = allocator
        .allocate_extended(rollable as usize)
        .expect("prefix");
    let mut channel = ExtendedChannel::new_for_pool(
        1,
        "bench".to_string(),
        prefix_alloc,
        bitcoin::Target::from_le_bytes([0xff; 32]),
        1.0e15, // high hashrate: a hard channel target, shares rejected as low difficulty
        true,
        u16::from(rollable),
        100,
        6.0,
        "bench".to_string(),
        None,
    )
    .expect("channel");

    let prev_hash = [0x5a; 32];
    let path: Vec<[u8; 32]> = (0..MERKLE_DEPTH as u8).map(|i| sha256d(&[i])).collect();
    // Six P2WPKH payouts: a ~260-byte coinbase.
    let outputs: Vec<TxOut> = (0..6u8)
        .map(|i| {
            let mut script = vec![0x00, 0x14];
            script.extend_from_slice(&[i; 20]);
            TxOut {
                value: Amount::from_sat(50_000_000 + u64::from(i)),
                script_pubkey: ScriptBuf::from(script),
            }
        })
        .collect();
    let custom = SetCustomMiningJobOwned {
        channel_id: 1,
        request_id: 1,
        token: vec![1u8].try_into().expect("token"),
        version: JOB_VERSION,
        prev_hash: prev_hash.into(),
        min_ntime: MIN_NTIME,
        nbits: NBITS,
        coinbase_tx_version: 2,
        coinbase_prefix: vec![0x03, 0x40, 0x0d, 0x03].try_into().expect("prefix"),
        coinbase_tx_input_n_sequence: 0xffff_ffff,
        coinbase_tx_outputs: serialize(&outputs).try_into().expect("outputs"),
        coinbase_tx_locktime: 0,
        merkle_path: path
            .iter()
            .map(|p| (*p).into())
            .collect::<Vec<_>>()
            .try_into()
            .expect("path"),
    };
    let job_id = channel
        .on_set_custom_mining_job(custom)
        .expect("custom job");
    let job = channel.get_active_job().expect("active job");
    let mut prefix = job.get_coinbase_tx_prefix_without_bip141();
    let channel_prefix = job.get_extranonce_prefix().to_vec();
    prefix.extend_from_slice(&channel_prefix);
    let suffix = job.get_coinbase_tx_suffix_without_bip141();
    let extranonce: Vec<u8> = (0..rollable).collect();

    // The assembled coinbase must be a valid transaction.
    let mut coinbase = prefix.clone();
    coinbase.extend_from_slice(&extranonce);
    coinbase.extend_from_slice(&suffix);
    let tx: Transaction = deserialize(&coinbase).expect("valid coinbase");
    assert!(tx.is_coinbase());

    let share = SubmitSharesExtendedOwned {
        channel_id: 1,
        sequence_number: 0,
        job_id,
        nonce: 0x1234_5678,
        ntime: MIN_NTIME + 60,
        version: JOB_VERSION,
        extranonce: extranonce.clone().try_into().expect("extranonce"),
    };
    Fixture {
        channel,
        share,
        job_id,
        channel_prefix,
        extranonce,
        prefix,
        suffix,
        path,
        prev_hash,
        coinbase_len: coinbase.len(),
    }
}

/// The fixture's job on our own extended channel, active on the fixture's tip
/// (fixed difficulty 1e9, like the target the other paths compare against).
struct OurChannel {
    channel: OurExtendedChannel,
    job_id: u32,
    miner_extranonce: Vec<u8>,
    now_ms: u64,
}

impl OurChannel {
    fn new(fx: &Fixture) -> OurChannel {
        let miner_extranonce = fx.extranonce.clone();
        let coinbase_prefix = fx.prefix[..fx.prefix.len() - fx.channel_prefix.len()].to_vec();
        let cfg = ChannelConfig {
            vardiff: None,
            fixed_difficulty: 1.0e9,
            ..ChannelConfig::default()
        };
        let now_ms = u64::from(MIN_NTIME) * 1000;
        let mut channel = OurExtendedChannel::new(
            1,
            fx.channel_prefix.clone(),
            miner_extranonce.len(),
            0.0,
            Target::MAX,
            cfg,
            now_ms,
        )
        .expect("channel");
        let job = channel
            .new_job(&JobTemplate {
                template_id: 1,
                future: true,
                version: JOB_VERSION,
                coinbase: std::sync::Arc::new(CoinbaseParts {
                    prefix: coinbase_prefix,
                    suffix: fx.suffix.clone(),
                    extranonce_len: fx.channel_prefix.len() + fx.extranonce.len(),
                    has_witness_commitment: false,
                }),
                merkle_path: fx.path.clone().into(),
            })
            .expect("job");
        channel
            .on_new_prev_hash(
                1,
                ChainTip {
                    prev_hash: fx.prev_hash,
                    min_ntime: MIN_NTIME,
                    nbits: NBITS,
                },
            )
            .expect("tip")
            .expect("job activated");
        let mut ours = OurChannel {
            channel,
            job_id: job.job_id,
            miner_extranonce,
            now_ms,
        };
        // The bench measures the whole path: the share gets as far as the target check.
        let share = SubmitExtended {
            channel_id: 1,
            sequence_number: 0,
            job_id: ours.job_id,
            nonce: fx.share.nonce,
            ntime: fx.share.ntime,
            version: fx.share.version,
            extranonce: &ours.miner_extranonce,
        };
        assert_eq!(
            ours.channel.validate_share(&share, now_ms).error(),
            Some(ShareError::DifficultyTooLow)
        );
        ours
    }

    /// Validates the fixture's share with `nonce` (and `extranonce`, default the
    /// fixture's); true when accepted.
    #[inline]
    fn validate(
        &mut self,
        fx_share: &SubmitSharesExtendedOwned,
        nonce: u32,
        extranonce: Option<&[u8]>,
    ) -> bool {
        let share = SubmitExtended {
            channel_id: 1,
            sequence_number: nonce,
            job_id: self.job_id,
            nonce,
            ntime: fx_share.ntime,
            version: fx_share.version,
            extranonce: extranonce.unwrap_or(&self.miner_extranonce),
        };
        self.channel
            .validate_share(&share, self.now_ms)
            .accepted()
            .is_some()
    }

    /// Validates [`BATCH`] copies of the fixture's share in one `validate_shares` call, each
    /// with a fresh extranonce (`ens`, rewritten from `round`) and nonce; returns how many
    /// were accepted. `out` is reused.
    #[inline]
    fn validate_batch(
        &mut self,
        fx_share: &SubmitSharesExtendedOwned,
        round: u32,
        ens: &mut [Vec<u8>; BATCH],
        out: &mut Vec<ShareOutcome>,
    ) -> usize {
        let base = round.wrapping_mul(BATCH as u32);
        for (i, en) in ens.iter_mut().enumerate() {
            en[..4].copy_from_slice(&base.wrapping_add(i as u32).to_le_bytes());
        }
        let shares: [SubmitExtended<'_>; BATCH] = core::array::from_fn(|i| SubmitExtended {
            channel_id: 1,
            sequence_number: base.wrapping_add(i as u32),
            job_id: self.job_id,
            nonce: base.wrapping_add(i as u32),
            ntime: fx_share.ntime,
            version: fx_share.version,
            extranonce: &ens[i],
        });
        out.clear();
        self.channel.validate_shares(&shares, self.now_ms, out);
        out.iter().filter(|o| o.accepted().is_some()).count()
    }
}

impl Fixture {
    fn hasher(&self, backend: Backend) -> ExtendedJobHasher {
        ExtendedJobHasher::new(
            &self.prefix,
            &self.suffix,
            &self.path,
            self.prev_hash,
            NBITS,
        )
        .with_backend(backend)
    }

    /// Checks our hash against a naive computation and SRI's verdict.
    fn check(&mut self) {
        let mut ours = self.hasher(Backend::detect());
        let mut coinbase = self.prefix.clone();
        coinbase.extend_from_slice(&self.extranonce);
        coinbase.extend_from_slice(&self.suffix);
        let header = BlockHeader {
            version: self.share.version,
            prev_hash: self.prev_hash,
            merkle_root: merkle_root_from_path(&sha256d(&coinbase), &self.path),
            ntime: self.share.ntime,
            nbits: NBITS,
            nonce: self.share.nonce,
        };
        let hash = ours.hash(
            &self.extranonce,
            self.share.version,
            self.share.ntime,
            self.share.nonce,
        );
        assert_eq!(hash, header.hash());
        assert!(matches!(
            self.channel.validate_share(self.share.clone()),
            Err(ShareValidationError::DoesNotMeetTarget(_))
        ));
        assert_eq!(self.share.job_id, self.job_id);
    }
}

/// Our extended-share check: version rule, hash, target comparison.
#[inline]
fn validate_ours(
    h: &mut ExtendedJobHasher,
    en: &[u8],
    version: u32,
    nonce: u32,
    t: &Target,
) -> bool {
    version_rolling_ok(JOB_VERSION, version, BIP320_VERSION_MASK)
        && t.is_met_by(&h.hash(en, version, MIN_NTIME + 60, nonce))
}

fn compress_once(state: &mut State, block: &Block) {
    sha2::compress256(
        state,
        core::slice::from_ref(GenericArray::from_slice(block)),
    );
}

fn naive_header_hash(header: &[u8; 80]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(header)).into()
}

fn sample_header() -> [u8; 80] {
    BlockHeader {
        version: JOB_VERSION,
        prev_hash: [0x5a; 32],
        merkle_root: [0x33; 32],
        ntime: MIN_NTIME,
        nbits: NBITS,
        nonce: 0,
    }
    .to_bytes()
}

/// `BATCH` distinct extranonces derived from `en`.
fn distinct_extranonces(en: &[u8]) -> Vec<Vec<u8>> {
    (0..BATCH as u32)
        .map(|i| {
            let mut e = en.to_vec();
            e[..4].copy_from_slice(&i.to_le_bytes());
            e
        })
        .collect()
}

fn ext_shares(ens: &[Vec<u8>]) -> Vec<ExtendedShare<'_>> {
    (0..BATCH as u32)
        .zip(ens)
        .map(|(i, en)| ExtendedShare {
            extranonce: en,
            version: JOB_VERSION | ((i & 3) << 13),
            ntime: MIN_NTIME + 60,
            nonce: i.wrapping_mul(0x9e37_79b9),
        })
        .collect()
}

fn bench_group(c: &mut Criterion) {
    let mut fx = fixture();
    fx.check();
    let target = Target::from_difficulty(1.0e9);
    let mut g = c.benchmark_group("share_validation");

    // (a) one raw compression (sha2::compress256, SHA-NI when present).
    g.bench_function("a_sha256_compress", |b| {
        let block = [0x42u8; 64];
        let mut st = IV;
        b.iter(|| {
            compress_once(&mut st, black_box(&block));
            black_box(&st);
        })
    });
    // Four interleaved compressions on our multi-lane kernel.
    let detected = Backend::detect();
    g.throughput(Throughput::Elements(4));
    g.bench_function(format!("a_compress_x4_{}", detected.name()), |b| {
        let blocks = [[1u8; 64], [2u8; 64], [3u8; 64], [4u8; 64]];
        let refs = [&blocks[0], &blocks[1], &blocks[2], &blocks[3]];
        let mut st = [IV; 4];
        b.iter(|| {
            detected.compress_lanes(&mut st, black_box(&refs));
            black_box(&st);
        })
    });
    g.throughput(Throughput::Elements(1));

    // (b) naive: full SHA-256d of the 80-byte header.
    let header = sample_header();
    g.bench_function("b_naive_header_sha256d", |b| {
        let mut h = header;
        let mut nonce = 0u32;
        b.iter(|| {
            nonce = nonce.wrapping_add(1);
            h[76..].copy_from_slice(&nonce.to_le_bytes());
            black_box(naive_header_hash(black_box(&h)))
        })
    });

    // (c) our standard-share path, midstate cache hit.
    let mut std_hasher = StandardJobHasher::new([0x5a; 32], [0x33; 32], NBITS);
    g.bench_function("c_standard_cache_hit", |b| {
        let mut nonce = 0u32;
        b.iter(|| {
            nonce = nonce.wrapping_add(1);
            black_box(std_hasher.hash(JOB_VERSION, MIN_NTIME, black_box(nonce)))
        })
    });
    g.throughput(Throughput::Elements(BATCH as u64));
    let std_shares: Vec<StandardShare> = (0..BATCH as u32)
        .map(|i| StandardShare {
            version: JOB_VERSION,
            ntime: MIN_NTIME,
            nonce: i,
        })
        .collect();
    g.bench_function(format!("c_standard_batch{BATCH}"), |b| {
        let mut out = [[0u8; 32]; BATCH];
        b.iter(|| {
            std_hasher.hash_batch(black_box(&std_shares), &mut out);
            black_box(&out);
        })
    });
    g.throughput(Throughput::Elements(1));

    // (d) our extended-share path: 12-level path, ~260-byte coinbase.
    for backend in [Some(Backend::portable()), Backend::sha_ni()]
        .into_iter()
        .flatten()
    {
        let mut h = fx.hasher(backend);
        // A fresh extranonce every share: no merkle-root cache hits.
        let mut en = fx.extranonce.clone();
        g.bench_with_input(
            BenchmarkId::new("d_extended_single", backend.name()),
            &(),
            |b, _| {
                let mut n = 0u32;
                b.iter(|| {
                    n = n.wrapping_add(1);
                    en[..4].copy_from_slice(&n.to_le_bytes());
                    black_box(validate_ours(&mut h, &en, JOB_VERSION, n, &target))
                })
            },
        );
        let ens = distinct_extranonces(&fx.extranonce);
        let shares = ext_shares(&ens);
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_with_input(
            BenchmarkId::new(format!("d_extended_batch{BATCH}"), backend.name()),
            &(),
            |b, _| {
                let mut out = [[0u8; 32]; BATCH];
                b.iter(|| {
                    h.hash_batch(black_box(&shares), &mut out);
                    black_box(out.iter().filter(|x| target.is_met_by(x)).count())
                })
            },
        );
        g.throughput(Throughput::Elements(1));
    }

    // Repeated extranonce: merkle root cached, header only.
    let mut h = fx.hasher(Backend::detect());
    let en = fx.extranonce.clone();
    g.bench_function("d_extended_root_cached", |b| {
        let mut nonce = 0u32;
        b.iter(|| {
            nonce = nonce.wrapping_add(1);
            black_box(validate_ours(&mut h, &en, JOB_VERSION, nonce, &target))
        })
    });

    // (e) the same extended share through SRI's channels_sv2 8.0.0.
    g.bench_function("e_sri_channels_sv2_extended", |b| {
        b.iter_batched(
            || fx.share.clone(),
            |share| black_box(fx.channel.validate_share(share).is_err()),
            criterion::BatchSize::SmallInput,
        )
    });
    // (f) the same share through our whole channel.
    let mut ours = OurChannel::new(&fx);
    let share = fx.share.clone();
    g.bench_function("f_ours_channel_extended", |b| {
        let mut nonce = 0u32;
        b.iter(|| {
            nonce = nonce.wrapping_add(1);
            black_box(ours.validate(&share, nonce, None))
        })
    });
    let mut fresh = fx.extranonce.clone();
    g.bench_function("f_ours_channel_extended_fresh_extranonce", |b| {
        let mut nonce = 0u32;
        b.iter(|| {
            nonce = nonce.wrapping_add(1);
            fresh[..4].copy_from_slice(&nonce.to_le_bytes());
            black_box(ours.validate(&share, nonce, Some(&fresh)))
        })
    });
    // (f'') the same share, 16 at a time with fresh extranonces, through the batch entry.
    let mut ens: [Vec<u8>; BATCH] = core::array::from_fn(|_| fx.extranonce.clone());
    let mut outcomes = Vec::with_capacity(BATCH);
    assert_eq!(ours.validate_batch(&share, 0, &mut ens, &mut outcomes), 0);
    assert!(outcomes
        .iter()
        .all(|o| o.error() == Some(ShareError::DifficultyTooLow)));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function(format!("f_ours_channel_extended_batch{BATCH}"), |b| {
        let mut round = 0u32;
        b.iter(|| {
            round = round.wrapping_add(1);
            black_box(ours.validate_batch(&share, round, &mut ens, &mut outcomes))
        })
    });
    g.throughput(Throughput::Elements(1));
    g.finish();

    summary(&mut fx);
}

/// Median nanoseconds per call of `f` over several timed runs.
fn time_ns(mut f: impl FnMut(), per_run: Duration) -> f64 {
    // Calibrate iterations to roughly `per_run`.
    let mut iters = 16u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() >= per_run / 4 || iters >= 1 << 26 {
            break;
        }
        iters *= 2;
    }
    let mut samples: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Nanoseconds per compression when `N` independent lanes run interleaved.
fn lane_cost<const N: usize>(backend: Backend, per_run: Duration) -> f64 {
    let blocks: [Block; N] = core::array::from_fn(|l| [l as u8; 64]);
    let refs: [&Block; N] = core::array::from_fn(|l| &blocks[l]);
    let mut st = [IV; N];
    time_ns(
        || backend.compress_lanes(&mut st, black_box(&refs)),
        per_run,
    ) / N as f64
}

fn summary(fx: &mut Fixture) {
    let per_run = Duration::from_millis(60);
    let target = Target::from_difficulty(1.0e9);
    let block = [0x42u8; 64];
    let mut st = IV;
    let a = time_ns(|| compress_once(&mut st, black_box(&block)), per_run);

    let detected = Backend::detect();
    let blocks = [[1u8; 64], [2u8; 64], [3u8; 64], [4u8; 64]];
    let refs = [&blocks[0], &blocks[1], &blocks[2], &blocks[3]];
    let mut st4 = [IV; 4];
    let a4 = time_ns(
        || detected.compress_lanes(&mut st4, black_box(&refs)),
        per_run,
    ) / 4.0;

    let lane_sweep = [
        lane_cost::<1>(detected, per_run),
        lane_cost::<2>(detected, per_run),
        lane_cost::<3>(detected, per_run),
        lane_cost::<4>(detected, per_run),
        lane_cost::<5>(detected, per_run),
        lane_cost::<6>(detected, per_run),
        lane_cost::<8>(detected, per_run),
    ];

    let mut header = sample_header();
    let mut nonce = 0u32;
    let b = time_ns(
        || {
            nonce = nonce.wrapping_add(1);
            header[76..].copy_from_slice(&nonce.to_le_bytes());
            black_box(naive_header_hash(&header));
        },
        per_run,
    );

    let mut std_hasher = StandardJobHasher::new([0x5a; 32], [0x33; 32], NBITS);
    let c = time_ns(
        || {
            nonce = nonce.wrapping_add(1);
            black_box(std_hasher.hash(JOB_VERSION, MIN_NTIME, nonce));
        },
        per_run,
    );
    let std_shares: Vec<StandardShare> = (0..BATCH as u32)
        .map(|i| StandardShare {
            version: JOB_VERSION,
            ntime: MIN_NTIME,
            nonce: i,
        })
        .collect();
    let mut out = [[0u8; 32]; BATCH];
    let c_batch = time_ns(
        || {
            std_hasher.hash_batch(&std_shares, &mut out);
            black_box(&out);
        },
        per_run,
    ) / BATCH as f64;

    let mut en = fx.extranonce.clone();
    let mut h = fx.hasher(detected);
    let mut hp = fx.hasher(Backend::portable());
    let compressions = h.compressions_per_share(en.len());
    let d = time_ns(
        || {
            nonce = nonce.wrapping_add(1);
            en[..4].copy_from_slice(&nonce.to_le_bytes());
            black_box(validate_ours(&mut h, &en, JOB_VERSION, nonce, &target));
        },
        per_run,
    );
    let d_portable = time_ns(
        || {
            nonce = nonce.wrapping_add(1);
            en[..4].copy_from_slice(&nonce.to_le_bytes());
            black_box(validate_ours(&mut hp, &en, JOB_VERSION, nonce, &target));
        },
        per_run,
    );
    let fixed_en = fx.extranonce.clone();
    let d_cached = time_ns(
        || {
            nonce = nonce.wrapping_add(1);
            black_box(validate_ours(
                &mut h,
                &fixed_en,
                JOB_VERSION,
                nonce,
                &target,
            ));
        },
        per_run,
    );
    let ens = distinct_extranonces(&fx.extranonce);
    let shares = ext_shares(&ens);
    let d_batch = time_ns(
        || {
            h.hash_batch(&shares, &mut out);
            black_box(out.iter().filter(|x| target.is_met_by(x)).count());
        },
        per_run,
    ) / BATCH as f64;
    let share = fx.share.clone();
    let channel = &mut fx.channel;
    let e = time_ns(
        || {
            black_box(channel.validate_share(share.clone()).is_err());
        },
        per_run,
    );

    let mut ours = OurChannel::new(fx);
    let share = fx.share.clone();
    let f = time_ns(
        || {
            nonce = nonce.wrapping_add(1);
            black_box(ours.validate(&share, nonce, None));
        },
        per_run,
    );
    let mut fresh = fx.extranonce.clone();
    let f_fresh = time_ns(
        || {
            nonce = nonce.wrapping_add(1);
            fresh[..4].copy_from_slice(&nonce.to_le_bytes());
            black_box(ours.validate(&share, nonce, Some(&fresh)));
        },
        per_run,
    );
    let mut ens: [Vec<u8>; BATCH] = core::array::from_fn(|_| fx.extranonce.clone());
    let mut outcomes = Vec::with_capacity(BATCH);
    let f_batch = time_ns(
        || {
            nonce = nonce.wrapping_add(1);
            black_box(ours.validate_batch(&share, nonce, &mut ens, &mut outcomes));
        },
        per_run,
    ) / BATCH as f64;

    println!();
    println!(
        "== share validation summary (Instant-timed medians, backend {}) ==",
        detected.name()
    );
    println!(
        "coinbase {} bytes (prefix {} + extranonce {} + suffix {}), merkle depth {}",
        fx.coinbase_len,
        fx.prefix.len(),
        en.len(),
        fx.suffix.len(),
        MERKLE_DEPTH
    );
    println!("{:<56} {:>10}", "operation", "ns/op");
    let rows = [
        ("(a) one SHA-256 compression (sha2::compress256)", a),
        ("(a') one compression, 4-lane interleaved kernel", a4),
        ("(b) naive header sha256d (sha2::Sha256)", b),
        ("(c) standard share, cache hit (2 compressions)", c),
        ("(c') standard share, batch of 16", c_batch),
        ("(d) extended share, single, fresh extranonce", d),
        ("(d) extended share, single, portable backend", d_portable),
        ("(d') extended share, batch of 16", d_batch),
        (
            "(d'') extended share, repeated extranonce (root cached)",
            d_cached,
        ),
        ("(e) extended share via SRI channels_sv2 8.0.0", e),
        ("(f) the same share via our ExtendedChannel", f),
        ("(f') ExtendedChannel, fresh extranonce per share", f_fresh),
        (
            "(f'') ExtendedChannel batch of 16, fresh extranonces",
            f_batch,
        ),
    ];
    for (name, v) in rows {
        println!("{name:<56} {v:>10.1}");
    }
    print!("kernel ns per compression by lane count:");
    for (lanes, ns) in [1, 2, 3, 4, 5, 6, 8].iter().zip(lane_sweep) {
        print!("  x{lanes}: {ns:.1}");
    }
    println!();
    println!("extended share compressions: {compressions}");
    println!("ratios:");
    // (label, ratio, whether the ratio is "ours vs a slower reference")
    let ratios = [
        ("(c)/(a*2)".to_string(), c / (a * 2.0), false),
        ("(c)/(b)".to_string(), c / b, true),
        (
            format!("(d)/(a*{compressions})"),
            d / (a * compressions as f64),
            false,
        ),
        ("(d single)/(e)".to_string(), d / e, true),
        ("(d batch)/(e)".to_string(), d_batch / e, true),
        ("(d root cached)/(e)".to_string(), d_cached / e, true),
        ("(f channel)/(e)".to_string(), f / e, true),
        ("(f' channel fresh)/(e)".to_string(), f_fresh / e, true),
        ("(f'' channel batch)/(e)".to_string(), f_batch / e, true),
        (
            "(f'' batch)/(f' fresh)".to_string(),
            f_batch / f_fresh,
            true,
        ),
    ];
    for (label, r, speedup) in ratios {
        if speedup {
            println!("  {label:<22} = {r:>6.3}   ({:.1}x faster)", 1.0 / r);
        } else {
            println!("  {label:<22} = {r:>6.3}");
        }
    }

    throughput_scaling(fx);
}

/// Shares/s with 1 thread vs all cores: each thread owns a hasher, accepted
/// shares are deduplicated in a shared sharded set.
fn throughput_scaling(fx: &Fixture) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Accept ~1/16 of shares so the dedup set sees real traffic.
    let target = Target::from_le_bytes({
        let mut t = [0xff; 32];
        t[31] = 0x0f;
        t
    });
    let run = |threads: usize| -> f64 {
        let seen: DashSet<[u8; 32]> = DashSet::new();
        let stop = AtomicBool::new(false);
        let duration = Duration::from_millis(1500);
        let start = Instant::now();
        let total: u64 = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let seen = &seen;
                    let stop = &stop;
                    let h = fx.hasher(Backend::detect());
                    let en: Vec<u8> = fx.extranonce.iter().map(|b| b ^ t as u8).collect();
                    s.spawn(move || {
                        let mut out = [[0u8; 32]; BATCH];
                        let mut count = 0u64;
                        let mut nonce = 0u32;
                        while !stop.load(Ordering::Relaxed) {
                            let shares: [ExtendedShare; BATCH] =
                                core::array::from_fn(|i| ExtendedShare {
                                    extranonce: &en,
                                    version: JOB_VERSION,
                                    ntime: MIN_NTIME + 60,
                                    nonce: nonce.wrapping_add(i as u32),
                                });
                            nonce = nonce.wrapping_add(BATCH as u32);
                            h.hash_batch(&shares, &mut out);
                            for hash in &out {
                                if target.is_met_by(hash) {
                                    seen.insert(*hash);
                                }
                            }
                            count += BATCH as u64;
                        }
                        count
                    })
                })
                .collect();
            std::thread::sleep(duration);
            stop.store(true, Ordering::Relaxed);
            workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
        });
        let rate = total as f64 / start.elapsed().as_secs_f64();
        black_box(seen.len());
        rate
    };
    let one = run(1);
    let all = run(cores);
    println!("== multi-threaded extended-share throughput (batch {BATCH}, dashmap dedup) ==");
    println!("  1 thread : {:>12.0} shares/s", one);
    println!(
        "  {cores} threads: {:>12.0} shares/s  (scaling {:.2}x on {cores} cores)",
        all,
        all / one
    );
}

criterion_group!(benches, bench_group);
criterion_main!(benches);
