//! Worker naming: how an SV1 username becomes the identity the pool sees.
//!
//! # The rule
//! The pool splits `user_identity` at the first dot into `site.worker` (see the pool's
//! `WorkerId`). Firmware is usually configured with a username `account.worker` (the account
//! part is whatever the previous pool wanted). The translator therefore:
//!
//! 1. takes the part after the **first** dot of the username as the worker (`acct.rig7` →
//!    `rig7`, `fra1.rack4.s19` → `rack4.s19`), or the whole username if it has no dot or an
//!    empty part (`rig7` → `rig7`);
//! 2. replaces every character outside `A-Z a-z 0-9 _ - : .` with `_` and keeps at most 64
//!    characters;
//! 3. uses `miner-<extranonce1 hex>` when nothing is left (empty username);
//! 4. sends `<site>.<worker>` upstream, `<site>` coming from the config, never from the miner.
//!
//! So whatever account prefix a miner was configured with (the site id itself, an old pool
//! account, nothing at all), its work is credited to the configured site. In aggregate mode the
//! pool only sees the channel's identity `<site>.<aggregate_worker>`; per-worker names are then
//! used for the translator's own logs and metrics.

/// Longest worker name kept.
pub const MAX_WORKER_LEN: usize = 64;
/// Longest site id accepted.
pub const MAX_SITE_LEN: usize = 32;

/// True for a usable site id: 1..=32 of `A-Z a-z 0-9 _ -` (no dot, see the module docs).
pub fn valid_site(site: &str) -> bool {
    !site.is_empty()
        && site.len() <= MAX_SITE_LEN
        && site
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.')
}

/// True for a worker label that [`worker_name`] would keep unchanged.
pub fn valid_worker_label(w: &str) -> bool {
    !w.is_empty() && w.len() <= MAX_WORKER_LEN && w.chars().all(allowed)
}

/// The worker name for an SV1 username (rules 1-3 of the module docs); `fallback` is used
/// when nothing usable remains.
pub fn worker_name(username: &str, fallback: &str) -> String {
    let raw = match username.split_once('.') {
        Some((account, worker)) if !account.is_empty() && !worker.is_empty() => worker,
        _ => username,
    };
    let clean: String = raw
        .trim()
        .chars()
        .take(MAX_WORKER_LEN)
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    if clean.is_empty() || clean.chars().all(|c| c == '.') {
        fallback.to_owned()
    } else {
        clean
    }
}

/// `<site>.<worker>`: the `user_identity` sent upstream.
pub fn upstream_identity(site: &str, worker: &str) -> String {
    format!("{site}.{worker}")
}

/// Constant-time comparison of the configured password with the one a miner sent.
pub fn password_matches(expected: &str, given: Option<&str>) -> bool {
    let given = given.unwrap_or("").as_bytes();
    let expected = expected.as_bytes();
    let mut diff = expected.len() ^ given.len();
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(0);
        diff |= usize::from(e ^ g);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming_rule() {
        assert_eq!(worker_name("acct.rig7", "x"), "rig7");
        assert_eq!(worker_name("fra1.rig7", "x"), "rig7");
        assert_eq!(worker_name("fra1.rack4.s19", "x"), "rack4.s19");
        assert_eq!(worker_name("rig7", "x"), "rig7");
        assert_eq!(worker_name(".rig7", "x"), ".rig7");
        assert_eq!(worker_name("acct.", "x"), "acct.");
        assert_eq!(worker_name("", "miner-0001"), "miner-0001");
        assert_eq!(worker_name("   ", "miner-0001"), "miner-0001");
        assert_eq!(worker_name("a.b c/d", "x"), "b_c_d");
        assert_eq!(worker_name("a.ünï", "x"), "_n_");
        let long = format!("acct.{}", "w".repeat(200));
        assert_eq!(worker_name(&long, "x").len(), MAX_WORKER_LEN);
        assert_eq!(upstream_identity("fra1", "rig7"), "fra1.rig7");
    }

    #[test]
    fn identity_splits_back_into_site_and_worker() {
        // The pool splits at the first dot: the site must come back out unchanged.
        for user in ["x.y", "a.b.c", "rig", "odd name", ""] {
            let id = upstream_identity("fra1", &worker_name(user, "miner-00"));
            let (site, worker) = id.split_once('.').unwrap();
            assert_eq!(site, "fra1");
            assert!(!worker.is_empty());
        }
    }

    #[test]
    fn sites_and_labels() {
        assert!(valid_site("fra1"));
        assert!(valid_site("site_A-2"));
        assert!(!valid_site(""));
        assert!(!valid_site("fra.1"));
        assert!(!valid_site(&"s".repeat(33)));
        assert!(valid_worker_label("translator"));
        assert!(!valid_worker_label("a b"));
    }

    #[test]
    fn passwords() {
        assert!(password_matches("s3cret", Some("s3cret")));
        assert!(!password_matches("s3cret", Some("s3cret!")));
        assert!(!password_matches("s3cret", Some("s3cre")));
        assert!(!password_matches("s3cret", None));
        assert!(!password_matches("x", Some("")));
    }
}
