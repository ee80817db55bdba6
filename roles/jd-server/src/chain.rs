//! The chain tip the server judges declarations against, from its node's templates.

use std::sync::Arc;
use std::time::Duration;

use bitcoin::hashes::Hash;
use node_rpc::{NodeClient, RpcError};
use pool::template::{NodeState, TemplateSource, TemplateTiming};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::mempool::TxCache;

/// The block being mined on the node's tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainView {
    /// Previous block hash, internal byte order.
    pub prev_hash: [u8; 32],
    /// Height of the block being mined.
    pub height: u64,
    /// Compact target of that block.
    pub nbits: u32,
    /// Earliest valid block time (median time past + 1).
    pub mintime: u32,
    /// Node time when the template was made.
    pub curtime: u32,
    /// Block subsidy at that height, satoshis.
    pub subsidy: u64,
}

impl ChainView {
    /// The view a template describes.
    pub fn from_template(t: &node_rpc::BlockTemplate) -> ChainView {
        ChainView {
            prev_hash: t.previousblockhash.to_raw_hash().to_byte_array(),
            height: t.height,
            nbits: t.bits,
            mintime: u32::try_from(t.mintime).unwrap_or(u32::MAX),
            curtime: u32::try_from(t.curtime).unwrap_or(u32::MAX),
            subsidy: t.coinbasevalue.saturating_sub(t.total_fees()),
        }
    }
}

/// Follows the node's templates; see [`ChainTracker::start`].
#[derive(Clone)]
pub struct ChainTracker {
    node: NodeClient,
    cache: TxCache,
    view: Arc<watch::Sender<Option<ChainView>>>,
    state: watch::Receiver<NodeState>,
}

impl ChainTracker {
    /// Starts the template source (long polls plus a best-hash poll every `poll_interval`);
    /// every template updates the view and feeds its transactions to `cache`.
    pub fn start(
        node: NodeClient,
        cache: TxCache,
        poll_interval: Duration,
    ) -> (ChainTracker, Vec<JoinHandle<()>>) {
        let (source, mut templates, state) = TemplateSource::new(
            node.clone(),
            TemplateTiming {
                poll_interval,
                min_fee_refresh: Duration::from_secs(1),
            },
        );
        let (view_tx, _) = watch::channel(None);
        let tracker = ChainTracker {
            node,
            cache,
            view: Arc::new(view_tx),
            state,
        };
        let follower = {
            let t = tracker.clone();
            tokio::spawn(async move {
                while templates.changed().await.is_ok() {
                    let update = templates.borrow_and_update().clone();
                    if let Some(u) = update {
                        t.apply(&u.template);
                    }
                }
            })
        };
        (tracker, vec![tokio::spawn(source.run()), follower])
    }

    fn apply(&self, t: &node_rpc::BlockTemplate) {
        self.cache.insert_template(t);
        let view = ChainView::from_template(t);
        let changed = *self.view.borrow() != Some(view);
        if changed {
            metrics::gauge!("jds_tip_height").set(view.height as f64);
            self.view.send_replace(Some(view));
        }
    }

    /// The latest view, if the node answered yet.
    pub fn current(&self) -> Option<ChainView> {
        *self.view.borrow()
    }

    /// Node state as the template source sees it.
    pub fn node_state(&self) -> NodeState {
        *self.state.borrow()
    }

    /// Asks the node for a template now (a client may have seen a block first).
    pub async fn fresh(&self) -> Result<ChainView, RpcError> {
        let t = self.node.block_template(None).await?;
        self.apply(&t);
        Ok(ChainView::from_template(&t))
    }

    /// Waits until a view exists (or the timeout passes).
    pub async fn wait_ready(&self, timeout: Duration) -> Option<ChainView> {
        let mut rx = self.view.subscribe();
        let fut = async {
            loop {
                if let Some(v) = *rx.borrow_and_update() {
                    return Some(v);
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, fut).await.ok().flatten()
    }
}
