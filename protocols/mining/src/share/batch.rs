//! Lock-step scheduling of extended shares, possibly from different jobs.

use super::extended::{ExtendedJobHasher, ExtendedLanes, ExtendedShare};
use super::BATCH_LANES;

/// Hashes shares of possibly different extended jobs into `out`, running
/// consecutive shares of equal shape (coinbase block count and merkle depth)
/// in lock-step, up to [`BATCH_LANES`] at a time. Processes
/// `min(items.len(), out.len())` shares and returns that count.
pub fn hash_extended_batch(
    items: &[(&ExtendedJobHasher, ExtendedShare<'_>)],
    out: &mut [[u8; 32]],
) -> usize {
    match items.first() {
        Some((first, _)) => run_extended(
            items.len(),
            |i| match items.get(i) {
                Some((job, share)) => (*job, Some(share)),
                None => (*first, None),
            },
            out,
        ),
        None => 0,
    }
}

/// Greedy grouping: the next run of up to [`BATCH_LANES`] same-shape shares
/// goes through the pipeline together.
pub(super) fn run_extended<'a, F>(count: usize, get: F, out: &mut [[u8; 32]]) -> usize
where
    F: Fn(usize) -> (&'a ExtendedJobHasher, Option<&'a ExtendedShare<'a>>),
{
    let n = count.min(out.len());
    let mut i = 0;
    while i < n {
        let (job0, Some(share0)) = get(i) else { break };
        let shape0 = job0.shape(share0.extranonce.len());
        let mut jobs = [job0; BATCH_LANES];
        let mut shares = [share0; BATCH_LANES];
        let mut w = 1;
        while w < BATCH_LANES && i + w < n {
            match get(i + w) {
                (job, Some(share)) if job.shape(share.extranonce.len()) == shape0 => {
                    jobs[w] = job;
                    shares[w] = share;
                    w += 1;
                }
                _ => break,
            }
        }
        // Any lane's backend works for all lanes: a backend value only exists
        // when the CPU supports it, and every backend computes the same hash.
        let backend = job0.backend;
        let Some(dst) = out.get_mut(i..i + w) else {
            break;
        };
        match dst {
            [o0, o1, o2, o3] => {
                (_, [*o0, *o1, *o2, *o3]) = backend.dispatch(ExtendedLanes::<4> {
                    jobs: [jobs[0], jobs[1], jobs[2], jobs[3]],
                    shares: [shares[0], shares[1], shares[2], shares[3]],
                    roots_only: false,
                });
            }
            [o0, o1, o2] => {
                (_, [*o0, *o1, *o2]) = backend.dispatch(ExtendedLanes::<3> {
                    jobs: [jobs[0], jobs[1], jobs[2]],
                    shares: [shares[0], shares[1], shares[2]],
                    roots_only: false,
                });
            }
            [o0, o1] => {
                (_, [*o0, *o1]) = backend.dispatch(ExtendedLanes::<2> {
                    jobs: [jobs[0], jobs[1]],
                    shares: [shares[0], shares[1]],
                    roots_only: false,
                });
            }
            [o0] => {
                (_, [*o0]) = backend.dispatch(ExtendedLanes::<1> {
                    jobs: [jobs[0]],
                    shares: [shares[0]],
                    roots_only: false,
                });
            }
            _ => break,
        }
        i += w;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Backend;
    use crate::sha256d::sha256d;

    #[test]
    fn mixed_shapes_and_jobs_match_single() {
        let path_a: Vec<[u8; 32]> = (0..12u8).map(|i| [i; 32]).collect();
        let path_b: Vec<[u8; 32]> = (0..3u8).map(|i| [i + 100; 32]).collect();
        let ja = ExtendedJobHasher::new(&[1u8; 90], &[2u8; 160], &path_a, [7; 32], 0x1702_0000);
        let jb = ExtendedJobHasher::new(&[3u8; 20], &[4u8; 30], &path_b, [8; 32], 0x1702_0001);
        let mut backends = vec![Backend::portable()];
        backends.extend(Backend::sha_ni());
        for backend in backends {
            let ja = ja.clone().with_backend(backend);
            let jb = jb.clone().with_backend(backend);
            let ens: Vec<[u8; 8]> = (0..13u64).map(|i| i.to_le_bytes()).collect();
            let items: Vec<(&ExtendedJobHasher, ExtendedShare)> = ens
                .iter()
                .enumerate()
                .map(|(i, en)| {
                    let job = if i % 5 < 3 { &ja } else { &jb };
                    let len = if i == 7 { 4 } else { 8 };
                    let share = ExtendedShare {
                        extranonce: &en[..len],
                        version: 0x2000_0000 | ((i as u32) << 13),
                        ntime: i as u32,
                        nonce: !(i as u32),
                    };
                    (job, share)
                })
                .collect();
            let mut out = vec![[0u8; 32]; items.len()];
            assert_eq!(hash_extended_batch(&items, &mut out), items.len());
            for ((job, s), o) in items.iter().zip(&out) {
                assert_eq!(*o, job.hash_share(s));
                let header = job.header(s.extranonce, s.version, s.ntime, s.nonce);
                assert_eq!(*o, sha256d(&header.to_bytes()));
            }
            let same: Vec<ExtendedShare> = items.iter().map(|(_, s)| *s).collect();
            let mut out2 = vec![[0u8; 32]; same.len()];
            assert_eq!(ja.hash_batch(&same, &mut out2), same.len());
            for (s, o) in same.iter().zip(&out2) {
                assert_eq!(*o, ja.hash_share(s));
            }
            let mut short = [[0u8; 32]; 6];
            assert_eq!(ja.hash_batch(&same, &mut short), 6);
            assert_eq!(&short[..], &out2[..6]);
        }
        assert_eq!(hash_extended_batch(&[], &mut []), 0);
    }
}
