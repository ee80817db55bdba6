//! Starting the stand-in from a captured `getblocktemplate` result, so blocks that were built
//! from that template against a real bitcoind validate against the stand-in.

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::{Amount, BlockHash, CompactTarget, Transaction};
use serde_json::Value;

use super::chain::ChainAnchor;

/// The transactions and chain position a template describes.
#[derive(Debug, Clone)]
pub struct TemplateFixture {
    /// The template's previous block as the starting tip.
    pub anchor: ChainAnchor,
    /// The template transactions with their fees and sigop costs, in template order.
    pub mempool: Vec<(Transaction, Amount, u64)>,
    /// The template's `curtime`, used as the node's mock time.
    pub curtime: u32,
}

/// Why a template fixture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// A member is missing, has the wrong type or does not parse.
    #[error("template fixture field `{0}` missing or invalid")]
    Field(&'static str),
}

fn get<'a>(v: &'a Value, name: &'static str) -> Result<&'a Value, FixtureError> {
    v.get(name).ok_or(FixtureError::Field(name))
}

fn get_u32(v: &Value, name: &'static str) -> Result<u32, FixtureError> {
    get(v, name)?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(FixtureError::Field(name))
}

fn get_u64(v: &Value, name: &'static str) -> Result<u64, FixtureError> {
    get(v, name)?.as_u64().ok_or(FixtureError::Field(name))
}

impl TemplateFixture {
    /// Reads a `getblocktemplate` result: the starting tip is `previousblockhash` at
    /// `height - 1` with the template's `bits`, its median time past is `mintime - 1`, and
    /// the template transactions become the mempool. The tip's own time is unknown and taken
    /// to be its median time past.
    pub fn parse(template: &Value) -> Result<Self, FixtureError> {
        let hash: BlockHash = get(template, "previousblockhash")?
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or(FixtureError::Field("previousblockhash"))?;
        let height = get_u32(template, "height")?
            .checked_sub(1)
            .ok_or(FixtureError::Field("height"))?;
        let bits = get(template, "bits")?
            .as_str()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
            .map(CompactTarget::from_consensus)
            .ok_or(FixtureError::Field("bits"))?;
        let median_time = get_u32(template, "mintime")?
            .checked_sub(1)
            .ok_or(FixtureError::Field("mintime"))?;
        let curtime = get_u32(template, "curtime")?;
        let list = get(template, "transactions")?
            .as_array()
            .ok_or(FixtureError::Field("transactions"))?;
        let mut mempool = Vec::with_capacity(list.len());
        for entry in list {
            let tx: Transaction = get(entry, "data")?
                .as_str()
                .and_then(|s| deserialize_hex(s).ok())
                .ok_or(FixtureError::Field("data"))?;
            mempool.push((
                tx,
                Amount::from_sat(get_u64(entry, "fee")?),
                get_u64(entry, "sigops")?,
            ));
        }
        Ok(Self {
            anchor: ChainAnchor {
                hash,
                height,
                bits,
                time: median_time,
                median_time,
                block: None,
                chainwork: None,
            },
            mempool,
            curtime,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_with_txs_fixture() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/bitcoind/getblocktemplate_with_txs.json"
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let f = TemplateFixture::parse(&v).unwrap();
        assert_eq!(f.anchor.height, 110);
        assert_eq!(f.mempool.len(), 20);
        let fees: u64 = f.mempool.iter().map(|(_, fee, _)| fee.to_sat()).sum();
        assert_eq!(fees, 46326);
        assert!(TemplateFixture::parse(&serde_json::json!({})).is_err());
    }
}
