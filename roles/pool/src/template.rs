//! Template source: block templates from bitcoind by long polling, with a best-hash poll as a
//! fallback, published to the job manager through a `watch` channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::BlockHash;
use node_rpc::{BlockTemplate, NodeClient, RpcError};
use tokio::sync::watch;

/// A template ready to become jobs.
#[derive(Debug, Clone)]
pub struct TemplateUpdate {
    /// Increasing id of this template.
    pub id: u64,
    /// The template.
    pub template: Arc<BlockTemplate>,
    /// True when it builds on a new tip (miners must switch at once: SetNewPrevHash).
    pub new_tip: bool,
    /// When the node's answer arrived.
    pub received_at: Instant,
}

/// Timing of the template source.
#[derive(Debug, Clone)]
pub struct TemplateTiming {
    /// How often the best block hash is polled (catches new tips if long polling misbehaves).
    pub poll_interval: Duration,
    /// Minimum time between two templates on the same tip.
    pub min_fee_refresh: Duration,
}

/// Node health as seen by the template source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Not yet contacted.
    Starting,
    /// Answering and synced.
    Ready,
    /// In initial block download: no jobs are handed out.
    Syncing,
    /// Not answering; miners keep the last job until it is stale.
    Unreachable,
}

/// Publishes templates; see [`TemplateSource::run`].
pub struct TemplateSource {
    node: NodeClient,
    timing: TemplateTiming,
    tx: watch::Sender<Option<TemplateUpdate>>,
    state_tx: watch::Sender<NodeState>,
    next_id: u64,
    last_tip: Option<BlockHash>,
    last_publish: Option<Instant>,
    last_fingerprint: Option<(u64, usize)>,
}

impl TemplateSource {
    /// New source and the receivers for templates and node state.
    pub fn new(
        node: NodeClient,
        timing: TemplateTiming,
    ) -> (
        Self,
        watch::Receiver<Option<TemplateUpdate>>,
        watch::Receiver<NodeState>,
    ) {
        let (tx, rx) = watch::channel(None);
        let (state_tx, state_rx) = watch::channel(NodeState::Starting);
        (
            TemplateSource {
                node,
                timing,
                tx,
                state_tx,
                next_id: 1,
                last_tip: None,
                last_publish: None,
                last_fingerprint: None,
            },
            rx,
            state_rx,
        )
    }

    fn set_state(&self, s: NodeState) {
        let changed = *self.state_tx.borrow() != s;
        if changed {
            match s {
                NodeState::Ready => tracing::info!(url = self.node.url(), "bitcoind ready"),
                NodeState::Syncing => tracing::warn!(
                    url = self.node.url(),
                    "bitcoind is in initial block download: no jobs until it has synced"
                ),
                NodeState::Unreachable => {
                    tracing::error!(
                        url = self.node.url(),
                        "bitcoind unreachable; miners keep the last job"
                    )
                }
                NodeState::Starting => {}
            }
            metrics::gauge!("pool_node_ready").set(if s == NodeState::Ready { 1.0 } else { 0.0 });
            metrics::gauge!("pool_node_syncing").set(if s == NodeState::Syncing {
                1.0
            } else {
                0.0
            });
            let _ = self.state_tx.send(s);
        }
    }

    /// Handles one template from the node; returns true when it was published.
    fn offer(&mut self, t: BlockTemplate) -> bool {
        let now = Instant::now();
        let new_tip = self.last_tip != Some(t.previousblockhash);
        let fingerprint = (t.coinbasevalue, t.transactions.len());
        let refresh_due = self
            .last_publish
            .is_none_or(|p| now.duration_since(p) >= self.timing.min_fee_refresh);
        let changed = self.last_fingerprint != Some(fingerprint);
        if !(new_tip || (refresh_due && changed)) {
            return false;
        }
        if !t.unsupported_required_rules().is_empty() {
            tracing::error!(rules = ?t.unsupported_required_rules(), "template requires rules this pool does not implement; ignored");
            metrics::counter!("pool_templates_rejected_total").increment(1);
            return false;
        }
        self.last_tip = Some(t.previousblockhash);
        self.last_publish = Some(now);
        self.last_fingerprint = Some(fingerprint);
        let id = self.next_id;
        self.next_id += 1;
        tracing::info!(
            id,
            height = t.height,
            txs = t.transactions.len(),
            value = t.coinbasevalue,
            new_tip,
            "new template"
        );
        metrics::counter!("pool_templates_total", "kind" => if new_tip { "new_tip" } else { "refresh" }).increment(1);
        metrics::gauge!("pool_template_height").set(t.height as f64);
        metrics::gauge!("pool_template_timestamp_seconds")
            .set(crate::accounting::unix_now() as f64);
        let _ = self.tx.send(Some(TemplateUpdate {
            id,
            template: Arc::new(t),
            new_tip,
            received_at: now,
        }));
        true
    }

    async fn wait_synced(&self) -> Result<(), RpcError> {
        let info = self.node.blockchain_info().await?;
        if info.initialblockdownload {
            self.set_state(NodeState::Syncing);
            return Err(RpcError::Rpc {
                code: -10,
                message: "node in initial block download".into(),
            });
        }
        Ok(())
    }

    /// Runs until the receivers are dropped: long polls templates, polls the best hash every
    /// `poll_interval`, reconnects with exponential back-off (0.5 s .. 30 s) when the node is away.
    pub async fn run(mut self) {
        let mut backoff = Duration::from_millis(500);
        let mut longpollid: Option<String> = None;
        let mut synced = false;
        loop {
            if self.tx.is_closed() {
                return;
            }
            if !synced {
                match self.wait_synced().await {
                    Ok(()) => synced = true,
                    Err(e) => {
                        if !matches!(e, RpcError::Rpc { code: -10, .. }) {
                            metrics::counter!("pool_node_errors_total", "kind" => e.kind())
                                .increment(1);
                            tracing::warn!(error = %e, "bitcoind check failed");
                            self.set_state(NodeState::Unreachable);
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        continue;
                    }
                }
            }
            // Long poll (or plain call on the first round) raced against a best-hash poll.
            let lp = self.node.clone();
            let id = longpollid.clone();
            let mut long = Box::pin(async move { lp.block_template(id.as_deref()).await });
            let result = loop {
                tokio::select! {
                    r = &mut long => break r,
                    _ = tokio::time::sleep(self.timing.poll_interval) => {
                        match self.node.best_block_hash().await {
                            Ok(h) if Some(h) != self.last_tip && self.last_tip.is_some() => {
                                // New tip seen before the long poll returned: fetch now.
                                break self.node.block_template(None).await;
                            }
                            Ok(_) => {}
                            Err(e) => break Err(e),
                        }
                    }
                }
            };
            match result {
                Ok(t) => {
                    backoff = Duration::from_millis(500);
                    self.set_state(NodeState::Ready);
                    longpollid = t.longpollid.clone();
                    let started = Instant::now();
                    self.offer(t);
                    metrics::histogram!("pool_template_fetch_seconds")
                        .record(started.elapsed().as_secs_f64());
                }
                Err(e) => {
                    metrics::counter!("pool_node_errors_total", "kind" => e.kind()).increment(1);
                    tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "getblocktemplate failed");
                    if e.is_transient() {
                        self.set_state(NodeState::Unreachable);
                    }
                    longpollid = None;
                    synced = false;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}
