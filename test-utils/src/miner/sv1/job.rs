//! From `mining.notify` to a header template, and from a found header to `mining.submit`.

use sv1::{ClientMethod, ClientRequest, Notify, Submit};

use crate::miner::work::{Found, JobTemplate, MerkleSource};

/// The header template of a `mining.notify` job for a subscription with `extranonce1` and
/// `extranonce2_size`: coinbase = `coinb1 || extranonce1 || extranonce2 || coinb2`, merkle
/// root folded from the branch, prev hash un-swapped from stratum's word order.
/// `version_mask` is the negotiated version-rolling mask (0 without version rolling).
pub fn job_template(
    notify: &Notify,
    extranonce1: &[u8],
    extranonce2_size: usize,
    version_mask: u32,
) -> JobTemplate {
    let mut prefix = Vec::with_capacity(notify.coinb1.len() + extranonce1.len());
    prefix.extend_from_slice(&notify.coinb1);
    prefix.extend_from_slice(extranonce1);
    JobTemplate {
        version: notify.version,
        prev_hash: notify.prev_hash.to_header_bytes(),
        nbits: notify.nbits,
        ntime: notify.ntime,
        merkle: MerkleSource::Coinbase {
            prefix,
            suffix: notify.coinb2.clone(),
            path: notify.merkle_branch.clone(),
            extranonce_len: extranonce2_size,
        },
        version_mask,
    }
}

/// `mining.submit` for a found header. With version rolling negotiated (`version_mask` is
/// `Some`), the sixth parameter carries the rolled bits, `version & mask` (BIP 310).
pub fn submit_request(
    id: u64,
    worker: &str,
    job_id: &str,
    extranonce2: &[u8],
    found: &Found,
    version_mask: Option<u32>,
) -> ClientRequest {
    ClientRequest::new(
        id,
        ClientMethod::Submit(Submit {
            worker: worker.to_owned(),
            job_id: job_id.to_owned(),
            extranonce2: extranonce2.to_vec(),
            ntime: found.ntime,
            nonce: found.nonce,
            version_bits: version_mask.map(|m| found.version & m),
        }),
    )
}

/// The full header version a pool rebuilds from a submit: `(job & !mask) | (bits & mask)`.
pub fn version_from_bits(job_version: u32, version_bits: Option<u32>, mask: u32) -> u32 {
    match version_bits {
        Some(bits) => (job_version & !mask) | (bits & mask),
        None => job_version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::work::{hash_range, unit_hasher, SearchSpace, Unit};
    use sv1::{
        parse_client_line, parse_server_line, OutgoingMessage, ResponseResult, ServerMessage,
    };
    use sv2_mining::share::ExtendedJobHasher;
    use sv2_mining::target::Target;

    // Block 881,423 as a pool sent it (the vector of sv1's tests/prevhash_vectors.rs): a
    // 4-byte extranonce1, the winning 4-byte extranonce2 220cf1ad and rolled version bits.
    const SUBSCRIBE: &str = r#"{"id":1,"result":[[["mining.set_difficulty","1"],["mining.notify","1"]],"04830cee",4],"error":null}"#;
    const NOTIFY: &str = r#"{"id":null,"method":"mining.notify","params":["6a4","8a6ac9e3fe15ca70f8995e21434cb64ac4d2b5e10001543b0000000000000000","01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff3d030f730d000469c19a67","9a67b6600000000000000a41706f6c6c6f192f6d696e65642062792032353620466f756e646174696f6e2fffffffff0275aac01200000000160014c64b1b9283ba1ea86bb9e7b696b0c8f68dad04000000000000000000266a24aa21a9edb395560ab72068c2afb1d7e6c7db26b813482089d2c4d2471b9036c5e826140600000000",["4282357ab0a2f4e8e562c8c5eae1d63b559068f9072374b72e26b88ac841908f","c2bbae90d06f8025ade3516ca2e42d79318b6e56fccb9609df85a654a8341068","cbb30084acbcb5ce6d5436e853bc612466df0c00702be6f51d47072f1a5d0480","bb092e533f70b79246fc9e4bdc9b81ac8332e56f2651e3b237a150d6d807b081","0d32959988733447cb340326a1fe4d3c2cff5d636e32a4e08c3fc5a234f6f6bc","8ba3477940924a90067cff3dd30bc46916cf4c2f73fb6229b8f8197b83b6ddb9","3fe97cc5dec1cddd66c9d3780888c145c12418590cd983c4871b1bf03fabbf9e","bd1c6a3bcd0ebaa0eca54d9c802540f312c7705435601d776b4f59bb52cff67d","8638c10190b8f4f558bafdbb57f46226c349a83f229f431143ae75e425fb5cbd","6d6f4eae41cccb21a7c97ac496d9f89b8a4f772389b76f7691519dda38264221","82dad7a1e2613af0e61f77f03d6208c83e72f917dade4235cc35e37ee3ad6e3f"],"20000000","17029a8a","679ac169",true]}"#;
    const SUBMIT: &str = r#"{"params": ["foundation.telehash", "6a4", "220cf1ad", "679ac169", "ff05fb02", "0e596000"], "id": 4183, "method": "mining.submit"}"#;
    const BLOCK_HASH_DISPLAY: &str =
        "0000000000000000000269d52c24ea451225613aab095d90d771d4e29aa96cdd";
    const MASK: u32 = 0x1fff_e000;

    fn vector() -> (Notify, Vec<u8>, usize, Submit) {
        let ServerMessage::Response(r) = parse_server_line(SUBSCRIBE).unwrap() else {
            panic!()
        };
        let ResponseResult::Subscribe(sub) = r.result else {
            panic!()
        };
        let ServerMessage::Notification(sv1::Notification::Notify(n)) =
            parse_server_line(NOTIFY).unwrap()
        else {
            panic!()
        };
        let ClientMethod::Submit(s) = parse_client_line(SUBMIT).unwrap().method else {
            panic!()
        };
        (n, sub.extranonce1, sub.extranonce2_size, s)
    }

    fn display(mut hash: [u8; 32]) -> String {
        hash.reverse();
        hex::encode(hash)
    }

    #[test]
    fn real_block_header_is_rebuilt_from_the_stratum_job() {
        let (notify, en1, en2_size, submit) = vector();
        let t = job_template(&notify, &en1, en2_size, MASK);
        let version = version_from_bits(t.version, submit.version_bits, MASK);
        assert_eq!(version, 0x2e59_6000);
        let header = t.header(&submit.extranonce2, version, submit.ntime, submit.nonce);
        assert_eq!(display(header.hash()), BLOCK_HASH_DISPLAY);
        // The pool-side hasher agrees (fixed prefix = coinb1 || extranonce1).
        let coinbase_prefix = [notify.coinb1.as_slice(), &en1].concat();
        let mut pool = ExtendedJobHasher::new(
            &coinbase_prefix,
            &notify.coinb2,
            &notify.merkle_branch,
            t.prev_hash,
            t.nbits,
        );
        assert_eq!(
            pool.hash(&submit.extranonce2, version, submit.ntime, submit.nonce),
            header.hash()
        );
        assert!(t.block_target().unwrap().is_met_by(&header.hash()));
    }

    #[test]
    fn the_nonce_loop_finds_the_real_block_and_submits_it_like_the_miner_did() {
        let (notify, en1, en2_size, submit) = vector();
        let t = job_template(&notify, &en1, en2_size, MASK);
        let version = version_from_bits(t.version, submit.version_bits, MASK);
        // A unit around the winning nonce whose version lanes include the winning version.
        let lane = crate::miner::work::gather_bits(version ^ t.version, MASK);
        let group = lane / 4;
        let unit = Unit {
            extranonce: submit.extranonce2.clone(),
            versions: (0..4).map(|i| t.rolled_version(group * 4 + i)).collect(),
            ntime: submit.ntime,
            nonce_start: submit.nonce - 500,
            nonce_count: 1000,
        };
        assert!(unit.versions.contains(&version));
        let mut hasher = unit_hasher(&t, &unit);
        let mut found = Vec::new();
        let block = t.block_target().unwrap();
        let hashes = hash_range(&mut hasher, &unit, 0, u64::MAX, &block, &mut found);
        assert_eq!(hashes, 4000);
        assert_eq!(found.len(), 1);
        let f = found[0];
        assert_eq!((f.nonce, f.version), (submit.nonce, version));
        let req = submit_request(
            4183,
            "foundation.telehash",
            &notify.job_id,
            &unit.extranonce,
            &f,
            Some(MASK),
        );
        assert_eq!(req.method, ClientMethod::Submit(submit));
        assert!(req.to_line().unwrap().ends_with("[\"foundation.telehash\",\"6a4\",\"220cf1ad\",\"679ac169\",\"ff05fb02\",\"0e596000\"]}\n"));
    }

    #[test]
    fn shares_found_by_the_search_validate_with_the_pool_hasher() {
        let (notify, en1, en2_size, _) = vector();
        let t = job_template(&notify, &en1, en2_size, MASK);
        let space = SearchSpace::new(&t, 6);
        // One hash in 2^32 * difficulty meets it: about 1 in 1024.
        let target = Target::from_difficulty(1.0 / (1u64 << 22) as f64);
        let coinbase_prefix = [notify.coinb1.as_slice(), &en1].concat();
        let pool = ExtendedJobHasher::new(
            &coinbase_prefix,
            &notify.coinb2,
            &notify.merkle_branch,
            t.prev_hash,
            t.nbits,
        );
        let mut total = 0;
        let mut extranonces = std::collections::HashSet::new();
        for u in 0..64 {
            let unit = space.unit(&t, u).unwrap();
            let mut hasher = unit_hasher(&t, &unit);
            let mut found = Vec::new();
            hash_range(&mut hasher, &unit, 0, u64::MAX, &target, &mut found);
            for f in found {
                let req = submit_request(1, "w", "6a4", &unit.extranonce, &f, Some(MASK));
                let ClientMethod::Submit(s) = req.method else {
                    panic!()
                };
                let v = version_from_bits(t.version, s.version_bits, MASK);
                let h = pool.hash_share(&sv2_mining::share::ExtendedShare {
                    extranonce: &s.extranonce2,
                    version: v,
                    ntime: s.ntime,
                    nonce: s.nonce,
                });
                assert_eq!(h, f.hash);
                assert!(target.is_met_by(&h));
                extranonces.insert(s.extranonce2.clone());
                total += 1;
            }
        }
        assert!(total > 0);
        assert!(extranonces.len() > 1, "64-nonce templates roll extranonce2");
    }
}
