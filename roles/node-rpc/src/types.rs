//! Typed replies of the RPCs a pool uses, decoded from Bitcoin Core's JSON.

use bitcoin::{Amount, BlockHash, Txid, Wtxid};
use serde::{Deserialize, Deserializer};

/// Reply of `getblockchaininfo` (only the fields the roles use).
#[derive(Debug, Clone, Deserialize)]
pub struct BlockchainInfo {
    /// Chain name: `main`, `test`, `testnet4`, `signet` or `regtest`.
    pub chain: String,
    /// Height of the best block.
    pub blocks: u64,
    /// Height of the best known header.
    pub headers: u64,
    /// Hash of the best block.
    pub bestblockhash: BlockHash,
    /// True while the node is in initial block download.
    pub initialblockdownload: bool,
    /// Verification progress estimate (0..1).
    #[serde(default)]
    pub verificationprogress: f64,
}

impl BlockchainInfo {
    /// The chain as a `bitcoin::Network`, if the name is known.
    pub fn network(&self) -> Option<bitcoin::Network> {
        match self.chain.as_str() {
            "main" => Some(bitcoin::Network::Bitcoin),
            "test" => Some(bitcoin::Network::Testnet),
            "testnet4" => Some(bitcoin::Network::Testnet4),
            "signet" => Some(bitcoin::Network::Signet),
            "regtest" => Some(bitcoin::Network::Regtest),
            _ => None,
        }
    }
}

/// Reply of `getnetworkinfo` (only the fields the roles use).
#[derive(Debug, Clone, Deserialize)]
pub struct NetworkInfo {
    /// Numeric version, e.g. 310100 for 31.1.0.
    pub version: u64,
    /// User agent, e.g. `/Satoshi:31.1.0/`.
    pub subversion: String,
    /// P2P protocol version.
    pub protocolversion: u64,
    /// Number of peer connections.
    #[serde(default)]
    pub connections: u64,
}

/// One transaction of a block template.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateTransaction {
    /// Serialized transaction (with witness when it has one), hex in JSON.
    #[serde(deserialize_with = "de_hex")]
    pub data: Vec<u8>,
    /// Transaction id (no witness).
    pub txid: Txid,
    /// Witness transaction id (`hash` in Core's reply).
    #[serde(rename = "hash")]
    pub wtxid: Wtxid,
    /// 1-based positions of in-template parents (may repeat a parent).
    #[serde(default)]
    pub depends: Vec<u32>,
    /// Fee in satoshis.
    #[serde(default)]
    pub fee: u64,
    /// Signature operation cost.
    #[serde(default)]
    pub sigops: u64,
    /// Transaction weight.
    #[serde(default)]
    pub weight: u64,
}

/// Reply of `getblocktemplate {"rules":["segwit"]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockTemplate {
    /// Block version to use (BIP9 bits already set).
    pub version: u32,
    /// Deployment rules in force; a `!` prefix means the client must understand it.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Hash of the block this template builds on.
    pub previousblockhash: BlockHash,
    /// Transactions to include after the coinbase.
    pub transactions: Vec<TemplateTransaction>,
    /// Maximum the coinbase may pay: subsidy plus fees, in satoshis.
    pub coinbasevalue: u64,
    /// Long-poll id to pass back to wait for the next template.
    #[serde(default)]
    pub longpollid: Option<String>,
    /// Network target, 256-bit big-endian hex.
    #[serde(deserialize_with = "de_hex32")]
    pub target: [u8; 32],
    /// Earliest allowed block time.
    pub mintime: u64,
    /// Node's current time.
    pub curtime: u64,
    /// Compact target.
    #[serde(deserialize_with = "de_bits")]
    pub bits: u32,
    /// Height of the block to be mined.
    pub height: u64,
    /// Complete witness commitment output script (`6a24aa21a9ed` + 32 bytes), when offered.
    #[serde(default, deserialize_with = "de_opt_hex")]
    pub default_witness_commitment: Option<Vec<u8>>,
    /// Sigop cost limit of the block.
    #[serde(default)]
    pub sigoplimit: u64,
    /// Weight limit of the block.
    #[serde(default)]
    pub weightlimit: u64,
}

impl BlockTemplate {
    /// Sum of the fees of the template's transactions, in satoshis.
    pub fn total_fees(&self) -> u64 {
        self.transactions.iter().map(|t| t.fee).sum()
    }

    /// Txids of the template's transactions in block order, in internal byte order.
    pub fn txids(&self) -> Vec<[u8; 32]> {
        use bitcoin::hashes::Hash;
        self.transactions
            .iter()
            .map(|t| t.txid.to_raw_hash().to_byte_array())
            .collect()
    }

    /// The 32-byte witness commitment carried in `default_witness_commitment`, if present and well formed.
    pub fn witness_commitment(&self) -> Option<[u8; 32]> {
        let script = self.default_witness_commitment.as_ref()?;
        let body = script.strip_prefix(&[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed][..])?;
        body.try_into().ok()
    }

    /// Checks that every rule Core marks as required (`!` prefix) is one this software supports.
    pub fn unsupported_required_rules(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter_map(|r| r.strip_prefix('!'))
            .filter(|r| *r != "segwit")
            .map(str::to_owned)
            .collect()
    }
}

fn de_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    hex::decode(s).map_err(serde::de::Error::custom)
}

fn de_opt_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| hex::decode(s).map_err(serde::de::Error::custom))
        .transpose()
}

fn de_hex32<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
    let v = de_hex(d)?;
    v.try_into()
        .map_err(|_| serde::de::Error::custom("expected 32 bytes of hex"))
}

fn de_bits<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    u32::from_str_radix(&s, 16).map_err(serde::de::Error::custom)
}

/// Fee fields of a mempool entry.
#[derive(Debug, Clone, Deserialize)]
pub struct MempoolFees {
    /// Fee of the transaction itself (BTC in JSON).
    #[serde(with = "bitcoin::amount::serde::as_btc")]
    pub base: Amount,
}

/// One entry of `getrawmempool true` (only the fields the roles use).
#[derive(Debug, Clone, Deserialize)]
pub struct MempoolEntry {
    /// Witness transaction id.
    pub wtxid: Wtxid,
    /// Fees.
    pub fees: MempoolFees,
    /// Transaction weight.
    #[serde(default)]
    pub weight: u64,
    /// Txids of in-mempool parents.
    #[serde(default)]
    pub depends: Vec<Txid>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn verbose_mempool_entry_as_core_writes_it() {
        let json = r#"{
          "2b5ba3c4f1e1a45e00e1bb57bc4a1d5f4a2e8e5c2fef5b6e3d2a7b4c1d0e9f8a": {
            "vsize": 141, "weight": 561, "time": 1718000000, "height": 110,
            "descendantcount": 1, "descendantsize": 141, "ancestorcount": 1, "ancestorsize": 141,
            "wtxid": "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
            "fees": {"base": 0.00001410, "modified": 0.00001410, "ancestor": 0.00001410, "descendant": 0.00001410},
            "depends": [], "spentby": [], "bip125-replaceable": false, "unbroadcast": false
          }
        }"#;
        let m: HashMap<Txid, MempoolEntry> = serde_json::from_str(json).unwrap();
        let e = m.values().next().unwrap();
        assert_eq!(e.fees.base, Amount::from_sat(1410));
        assert_eq!(e.weight, 561);
        assert!(e.depends.is_empty());
        assert_eq!(
            e.wtxid.to_string(),
            "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
        );
    }
}
