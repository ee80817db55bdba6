//! Turns block templates into pool jobs: coinbase split around the extranonce, merkle path,
//! header fields, and everything needed later to assemble a found block.

use std::sync::Arc;

use bitcoin::hashes::Hash;
use bitcoin::ScriptBuf;
use node_rpc::BlockTemplate;
use sv2_mining::channel::JobTemplate;
use sv2_mining::coinbase::{CoinbaseBuilder, CoinbaseError, CoinbaseParts, Payout};
use sv2_mining::merkle::merkle_path_for_coinbase;
use sv2_mining::target::Target;

use crate::template::TemplateUpdate;

/// Treasury outputs in coinbase order, with their weights and ledger accounts.
#[derive(Debug, Clone)]
pub struct PayoutScript {
    /// Output script.
    pub script: ScriptBuf,
    /// Relative weight.
    pub weight: u32,
    /// Ledger account it belongs to.
    pub account: String,
}

/// Static inputs of every coinbase.
#[derive(Debug, Clone)]
pub struct CoinbaseSettings {
    /// Text pushed in the scriptSig.
    pub pool_tag: Vec<u8>,
    /// Full extranonce bytes reserved in the scriptSig.
    pub extranonce_len: usize,
    /// Treasury outputs.
    pub payouts: Vec<PayoutScript>,
}

/// One job derived from one template; shared by every channel.
#[derive(Debug, Clone)]
pub struct PoolJob {
    /// Template id (from the template source); also the SV2 `template_id` of custom jobs.
    pub template_id: u64,
    /// True when the job builds on a new tip.
    pub new_tip: bool,
    /// Height of the block being mined.
    pub height: u64,
    /// Block version from the template.
    pub version: u32,
    /// Previous block hash, internal byte order.
    pub prev_hash: [u8; 32],
    /// Compact network target.
    pub nbits: u32,
    /// Network target.
    pub network_target: Target,
    /// Earliest allowed ntime (template `mintime`).
    pub min_ntime: u32,
    /// ntime to announce (template `curtime`).
    pub ntime: u32,
    /// Coinbase split around the extranonce.
    pub coinbase: CoinbaseParts,
    /// Merkle path from the coinbase to the root.
    pub merkle_path: Vec<[u8; 32]>,
    /// Coinbase value (subsidy + fees), satoshis.
    pub coinbase_value: u64,
    /// Template fees, satoshis.
    pub fees: u64,
    /// The template (its transactions are needed to assemble a found block).
    pub template: Arc<BlockTemplate>,
    /// The same job as the channels of `sv2_mining::channel` take it.
    pub channel_template: JobTemplate,
    /// When bitcoind's template arrived (for new-block → SetNewPrevHash latency).
    pub received_at: std::time::Instant,
}

/// Why a template could not become a job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The coinbase could not be built.
    #[error("coinbase: {0}")]
    Coinbase(#[from] CoinbaseError),
    /// The template's bits are not a valid target.
    #[error("template bits {0:08x} are not a valid compact target")]
    Bits(u32),
    /// A field did not fit.
    #[error("template field out of range: {0}")]
    Range(&'static str),
}

/// Builds the job for a template.
pub fn build_job(
    update: &TemplateUpdate,
    settings: &CoinbaseSettings,
) -> Result<PoolJob, JobError> {
    let t = &update.template;
    let height: u32 = t.height.try_into().map_err(|_| JobError::Range("height"))?;
    let mut builder = CoinbaseBuilder::new(height, t.coinbasevalue, settings.extranonce_len)
        .pool_tag(settings.pool_tag.clone());
    for p in &settings.payouts {
        builder = builder.payout(p.script.clone(), Payout::Remainder(p.weight));
    }
    if let Some(wc) = &t.default_witness_commitment {
        builder = builder.witness_commitment(ScriptBuf::from_bytes(wc.clone()));
    }
    let coinbase = builder.build()?;
    PoolJob::from_template(update, update.id, coinbase)
}

impl PoolJob {
    /// The job for template `update` with `coinbase` (built for it), known to channels as
    /// `template_id`.
    pub fn from_template(
        update: &TemplateUpdate,
        template_id: u64,
        coinbase: CoinbaseParts,
    ) -> Result<PoolJob, JobError> {
        let t = &update.template;
        let merkle_path = merkle_path_for_coinbase(&t.txids());
        let network_target = Target::from_compact(t.bits).ok_or(JobError::Bits(t.bits))?;
        let channel_template = JobTemplate {
            template_id,
            future: false,
            version: t.version,
            coinbase: Arc::new(coinbase.clone()),
            merkle_path: merkle_path.clone().into(),
        };
        Ok(PoolJob {
            channel_template,
            received_at: update.received_at,
            template_id,
            new_tip: update.new_tip,
            height: t.height,
            version: t.version,
            prev_hash: t.previousblockhash.to_raw_hash().to_byte_array(),
            nbits: t.bits,
            network_target,
            min_ntime: u32::try_from(t.mintime).map_err(|_| JobError::Range("mintime"))?,
            ntime: u32::try_from(t.curtime).map_err(|_| JobError::Range("curtime"))?,
            coinbase,
            merkle_path,
            coinbase_value: t.coinbasevalue,
            fees: t.total_fees(),
            template: t.clone(),
        })
    }
}

/// Payout scripts from configured addresses, checked against the node's network.
pub fn payout_scripts(
    payouts: &[crate::config::PayoutConfig],
    network: bitcoin::Network,
) -> Result<Vec<PayoutScript>, String> {
    payouts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let unchecked: bitcoin::Address<bitcoin::address::NetworkUnchecked> = p
                .address
                .parse()
                .map_err(|e| format!("config key `payout[{i}].address`: {e}"))?;
            let addr = unchecked.require_network(network).map_err(|_| {
                format!(
                    "config key `payout[{i}].address`: `{}` is not an address of the node's network ({network}). Fix: use an address of that network",
                    p.address
                )
            })?;
            Ok(PayoutScript {
                script: addr.script_pubkey(),
                weight: p.weight,
                account: p.account.clone().unwrap_or_else(|| p.address.clone()),
            })
        })
        .collect()
}
