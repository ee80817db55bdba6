//! Fixtures the roles' end-to-end tests share: authority keys, regtest addresses and the
//! text of a pool config on a bitcoind stand-in.

use bitcoin::secp256k1::{Keypair, Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network};
use sv2_noise::secp256k1::XOnlyPublicKey;

use crate::bitcoind::StandIn;

/// An authority key pair and its encodings for config files.
pub struct Authority {
    /// The key pair.
    pub keypair: Keypair,
    /// Its public key (what clients pin).
    pub xonly: XOnlyPublicKey,
    /// `authority_public_key` (base58check).
    pub public: String,
    /// `authority_secret_key` (base58check).
    pub secret: String,
}

impl Authority {
    /// A fresh random key pair.
    pub fn generate() -> Authority {
        let secp = Secp256k1::new();
        Authority::from_keypair(Keypair::new(
            &secp,
            &mut bitcoin::secp256k1::rand::thread_rng(),
        ))
    }

    /// The encodings of `keypair`.
    pub fn from_keypair(keypair: Keypair) -> Authority {
        let (xonly, _) = keypair.x_only_public_key();
        Authority {
            keypair,
            xonly,
            public: sv2_noise::encode_public_key(&xonly),
            secret: sv2_noise::encode_secret_key(&keypair.secret_key()),
        }
    }
}

/// A regtest P2WPKH address of the secret key `[seed; 32]` (`seed` must not be 0).
pub fn regtest_address(seed: u8) -> Address {
    let secp = Secp256k1::new();
    let sk = SecretKey::from_slice(&[seed; 32]).expect("non-zero constant key is valid");
    Address::p2wpkh(&CompressedPublicKey(sk.public_key(&secp)), Network::Regtest)
}

/// A pool config for tests: a stand-in polled every 100 ms, one payout, every share acked
/// at once, no metrics endpoint.
pub struct PoolToml<'a> {
    /// `[server] listen`, e.g. `127.0.0.1:0`.
    pub listen: &'a str,
    /// The pool's authority.
    pub authority: &'a Authority,
    /// `[bitcoind]` URL, e.g. a stand-in's [`StandIn::url`].
    pub url: String,
    /// The single `[[payout]]` address.
    pub payout: &'a str,
    /// `[server] pool_tag`.
    pub pool_tag: &'a str,
    /// Further `[mining]` keys.
    pub mining: &'a str,
    /// Further tables.
    pub tables: &'a str,
}

impl<'a> PoolToml<'a> {
    /// The defaults for a pool on `standin` with `authority` paying `payout`.
    pub fn new(standin: &'a StandIn, authority: &'a Authority, payout: &'a str) -> Self {
        PoolToml {
            listen: "127.0.0.1:0",
            authority,
            url: standin.url(),
            payout,
            pool_tag: "/e2e-test/",
            mining: "",
            tables: "",
        }
    }

    /// The config text.
    pub fn text(&self) -> String {
        format!(
            r#"
[server]
listen = "{listen}"
authority_public_key = "{public}"
authority_secret_key = "{secret}"
pool_tag = "{pool_tag}"

[bitcoind]
url = "{url}"
user = "pool"
password = "poolpass"
poll_interval_ms = 100
min_fee_refresh_secs = 1

[[payout]]
address = "{payout}"

[mining]
{ack}
{mining}

[metrics]
listen = ""
{tables}
"#,
            listen = self.listen,
            public = self.authority.public,
            secret = self.authority.secret,
            pool_tag = self.pool_tag,
            url = self.url,
            payout = self.payout,
            mining = self.mining,
            tables = self.tables,
            // Every share acknowledged at once, unless the test sets the batching itself.
            ack = if self.mining.contains("share_ack") {
                ""
            } else {
                "share_ack_batch = 1\nshare_ack_interval_ms = 20"
            },
        )
    }
}
