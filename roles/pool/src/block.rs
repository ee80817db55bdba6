//! Found blocks: assembly from the job and the winning share, submission to every configured
//! node, interpretation of the answers, and recording.

use std::sync::Arc;
use std::time::Duration;

use node_rpc::{NodeClient, RpcError, SubmitBlockOutcome};
use sv2_mining::coinbase::assemble_block_bytes;

use crate::accounting::{unix_now, FoundBlock, WorkSink, WorkerId};
use crate::jobs::PoolJob;

/// A share that meets the network target.
#[derive(Debug, Clone)]
pub struct BlockSolution {
    /// The job it was mined on.
    pub job: Arc<PoolJob>,
    /// The 80-byte header.
    pub header: [u8; 80],
    /// Full extranonce (channel prefix + miner part) placed in the coinbase.
    pub extranonce: Vec<u8>,
    /// Block hash, internal byte order.
    pub hash: [u8; 32],
    /// Worker whose share it is.
    pub finder: WorkerId,
}

/// Why a block could not be submitted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The coinbase could not be rebuilt (wrong extranonce length).
    #[error("cannot assemble block: {0}")]
    Assemble(String),
    /// The primary node could not be reached after retries.
    #[error("primary node: {0}")]
    Node(#[from] RpcError),
}

/// Serialized block for a solution.
pub fn assemble(solution: &BlockSolution) -> Result<Vec<u8>, SubmitError> {
    let coinbase = solution
        .job
        .coinbase
        .full_transaction(&solution.extranonce)
        .map_err(|e| SubmitError::Assemble(e.to_string()))?;
    let txs: Vec<&[u8]> = solution
        .job
        .template
        .transactions
        .iter()
        .map(|t| t.data.as_slice())
        .collect();
    Ok(assemble_block_bytes(&solution.header, &coinbase, &txs))
}

/// Display form (reversed hex) of an internal-order hash.
pub fn display_hash(hash: &[u8; 32]) -> String {
    let mut h = *hash;
    h.reverse();
    hex::encode(h)
}

/// Submits blocks to the primary node (with retries) and every secondary node, and records
/// blocks the primary holds as valid in the work sink.
#[derive(Clone)]
pub struct BlockSubmitter {
    primary: NodeClient,
    secondaries: Vec<NodeClient>,
    sink: Arc<dyn WorkSink>,
}

impl BlockSubmitter {
    /// New submitter.
    pub fn new(primary: NodeClient, secondaries: Vec<NodeClient>, sink: Arc<dyn WorkSink>) -> Self {
        BlockSubmitter {
            primary,
            secondaries,
            sink,
        }
    }

    /// Assembles and submits one block; returns the primary node's verdict.
    pub async fn submit(&self, solution: BlockSolution) -> Result<SubmitBlockOutcome, SubmitError> {
        let bytes = assemble(&solution)?;
        let block_hex = hex::encode(&bytes);
        let hash = display_hash(&solution.hash);
        tracing::info!(height = solution.job.height, %hash, finder = %solution.finder.full(), "block found, submitting");

        for node in &self.secondaries {
            let node = node.clone();
            let hex = block_hex.clone();
            let hash = hash.clone();
            tokio::spawn(async move {
                match node.submit_block(hex).await {
                    Ok(o) => {
                        tracing::info!(url = node.url(), %hash, result = o.label(), "secondary node answered")
                    }
                    Err(e) => {
                        tracing::warn!(url = node.url(), %hash, error = %e, "secondary node submit failed")
                    }
                }
            });
        }

        let mut delay = Duration::from_millis(100);
        let outcome = loop {
            match self.primary.submit_block(block_hex.clone()).await {
                Ok(o) => break o,
                Err(e) if e.is_transient() && delay < Duration::from_secs(10) => {
                    tracing::warn!(%hash, error = %e, "submitblock failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    metrics::counter!("pool_blocks_submit_failed_total").increment(1);
                    tracing::error!(%hash, error = %e, "submitblock failed");
                    return Err(e.into());
                }
            }
        };
        metrics::counter!("pool_blocks_submitted_total", "result" => outcome.label().to_owned())
            .increment(1);
        match &outcome {
            SubmitBlockOutcome::Accepted | SubmitBlockOutcome::Duplicate => {
                tracing::info!(height = solution.job.height, %hash, result = outcome.label(), "block accepted by node");
                metrics::counter!("pool_blocks_found_total").increment(1);
                let record = FoundBlock {
                    height: solution.job.height,
                    hash: hash.clone(),
                    reward_sats: solution.job.coinbase_value,
                    fees_sats: solution.job.fees,
                    finder: solution.finder.clone(),
                    time: unix_now(),
                    node_result: outcome.label().to_owned(),
                };
                if let Err(e) = self.sink.record_block(&record) {
                    tracing::error!(%hash, error = %e, "could not record found block");
                }
            }
            SubmitBlockOutcome::Inconclusive | SubmitBlockOutcome::DuplicateInconclusive => {
                tracing::warn!(%hash, "block valid but not on the best chain (a competing block won)");
            }
            other => {
                tracing::error!(%hash, result = other.label(), "node rejected block");
            }
        }
        Ok(outcome)
    }
}
