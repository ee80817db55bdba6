//! A Template Provider in front of the stand-in's chain: the Template Distribution protocol over
//! Noise, as Bitcoin Core's SV2 template provider serves it, for pools that take templates only
//! that way (SRI's `pool_sv2`, in the interoperability tests).
//!
//! Per connection: SetupConnection (Template Distribution, version 2) is answered with success;
//! after the client's `CoinbaseOutputConstraints` it gets the current template as a future
//! `NewTemplate` followed by `SetNewPrevHash`, and again whenever the tip changes.
//! `RequestTransactionData` is answered from the template's transactions. `SubmitSolution`
//! becomes a block (the template's header fields, the submitted version, time, nonce and
//! coinbase, the template's transactions) handed to the chain as `submitblock` would.
//!
//! The coinbase skeleton of a template: scriptSig prefix = BIP34 height, sequence
//! `0xffffffff`, one output (the witness commitment), the whole coinbase value left for the
//! pool's outputs, lock time 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{Amount, Block, Transaction, TxMerkleNode, TxOut};
use sv2_codec::common::{SetupConnectionError, SetupConnectionSuccess};
use sv2_codec::template_distribution::{
    NewTemplate, RequestTransactionDataError, RequestTransactionDataSuccess, SetNewPrevHash,
    SubmitSolution,
};
use sv2_codec::{CommonMessage, Message, Protocol, TemplateDistributionMessage as Tdp};
use sv2_noise::{NoiseConnection, ServerKeys};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::chain::SubmitResult;
use super::shared::Shared;
use super::template::{refresh_merkle_root, BlockTemplate};
use super::validation::bip34_prefix;
use crate::sv2_client::Client;

/// How often a connection looks for a new tip.
const TIP_POLL: Duration = Duration::from_millis(20);

/// Templates a connection keeps for solutions and transaction requests.
const KEPT_TEMPLATES: usize = 32;

/// A running template provider; stops when dropped.
#[derive(Debug)]
pub struct TemplateProvider {
    /// Where pools connect.
    pub local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TemplateProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listens on `listen` and serves every connection from `shared`'s chain with `keys`.
pub(crate) async fn start(
    shared: Arc<Shared>,
    keys: ServerKeys,
    listen: SocketAddr,
) -> std::io::Result<TemplateProvider> {
    let listener = TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    let keys = Arc::new(keys);
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                // Out of descriptors or the like: do not spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let (shared, keys) = (shared.clone(), keys.clone());
            connections.spawn(async move {
                let conn = match sv2_noise::accept(tcp, &keys, Duration::from_secs(10)).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "template provider: handshake failed");
                        return;
                    }
                };
                if let Err(e) = serve(conn, &shared).await {
                    tracing::info!(%peer, error = %e, "template provider: connection ended");
                }
            });
        }
    });
    Ok(TemplateProvider { local_addr, task })
}

/// One pool's connection.
struct Session {
    peer: Client,
    next_id: u64,
    templates: HashMap<u64, BlockTemplate>,
    order: std::collections::VecDeque<u64>,
}

impl Session {
    async fn send(&mut self, m: impl Into<Message>) -> Result<(), String> {
        self.peer.try_send(m).await
    }

    /// The current template as a future template plus the SetNewPrevHash activating it.
    async fn announce(&mut self, t: BlockTemplate) -> Result<(), String> {
        let id = self.next_id;
        self.next_id += 1;
        let commitment = TxOut {
            value: Amount::ZERO,
            script_pubkey: t.witness_commitment.clone(),
        };
        let txids: Vec<[u8; 32]> = t.txs.iter().map(|x| x.txid.to_byte_array()).collect();
        let template = NewTemplate {
            template_id: id,
            future_template: true,
            version: t.version as u32,
            coinbase_tx_version: 2,
            coinbase_prefix: bip34_prefix(t.height),
            coinbase_tx_input_sequence: u32::MAX,
            coinbase_tx_value_remaining: t.coinbase_value.to_sat(),
            coinbase_tx_outputs_count: 1,
            coinbase_tx_outputs: serialize(&commitment),
            coinbase_tx_locktime: 0,
            merkle_path: sv2_mining::merkle::merkle_path_for_coinbase(&txids),
        };
        let target = bitcoin::Target::from_compact(t.bits).to_le_bytes();
        let prev_hash = SetNewPrevHash {
            template_id: id,
            prev_hash: t.prev_hash.to_byte_array(),
            header_timestamp: t.curtime.max(t.mintime),
            n_bits: t.bits.to_consensus(),
            target,
        };
        self.templates.insert(id, t);
        self.order.push_back(id);
        while self.order.len() > KEPT_TEMPLATES {
            if let Some(old) = self.order.pop_front() {
                self.templates.remove(&old);
            }
        }
        self.send(template).await?;
        self.send(prev_hash).await
    }

    /// The block a solution completes, handed to the chain.
    fn solve(&self, s: &SubmitSolution, shared: &Shared) -> Result<SubmitResult, String> {
        let t = self
            .templates
            .get(&s.template_id)
            .ok_or_else(|| format!("unknown template {}", s.template_id))?;
        let coinbase: Transaction =
            deserialize(&s.coinbase_tx).map_err(|e| format!("coinbase does not decode: {e}"))?;
        let mut txdata = Vec::with_capacity(t.txs.len() + 1);
        txdata.push(coinbase);
        txdata.extend(t.txs.iter().map(|x| (*x.tx).clone()));
        let mut block = Block {
            header: Header {
                version: BlockVersion::from_consensus(s.version as i32),
                prev_blockhash: t.prev_hash,
                merkle_root: TxMerkleNode::all_zeros(),
                time: s.header_timestamp,
                bits: t.bits,
                nonce: s.header_nonce,
            },
            txdata,
        };
        refresh_merkle_root(&mut block);
        Ok(shared.with_node(|n| n.submit_block(block)))
    }
}

async fn serve(conn: NoiseConnection, shared: &Shared) -> Result<(), String> {
    let mut s = Session {
        peer: Client::from_connection(conn, Protocol::TemplateDistribution),
        next_id: 1,
        templates: HashMap::new(),
        order: Default::default(),
    };
    let mut announced: Option<bitcoin::BlockHash> = None;
    let mut tick = tokio::time::interval(TIP_POLL);
    loop {
        tokio::select! {
            message = s.peer.next_message() => {
                let Some(message) = message? else {
                    return Ok(());
                };
                match message {
                    Message::Common(CommonMessage::SetupConnection(m)) => {
                        if m.protocol != Protocol::TemplateDistribution || m.min_version > 2 {
                            s.send(SetupConnectionError {
                                flags: 0,
                                error_code: "unsupported-protocol".into(),
                            })
                            .await?;
                            return Ok(());
                        }
                        s.send(SetupConnectionSuccess { used_version: 2, flags: 0 }).await?;
                    }
                    Message::TemplateDistribution(Tdp::CoinbaseOutputConstraints(c)) => {
                        tracing::debug!(?c, "template provider: coinbase output constraints");
                        let t = shared.with_node(|n| n.build_template());
                        announced = Some(t.prev_hash);
                        s.announce(t).await?;
                    }
                    Message::TemplateDistribution(Tdp::RequestTransactionData(r)) => {
                        match s.templates.get(&r.template_id) {
                            Some(t) => {
                                let transaction_list =
                                    t.txs.iter().map(|x| serialize(&*x.tx)).collect();
                                s.send(RequestTransactionDataSuccess {
                                    template_id: r.template_id,
                                    excess_data: Vec::new(),
                                    transaction_list,
                                })
                                .await?;
                            }
                            None => {
                                s.send(RequestTransactionDataError {
                                    template_id: r.template_id,
                                    error_code: "template-id-not-found".into(),
                                })
                                .await?;
                            }
                        }
                    }
                    Message::TemplateDistribution(Tdp::SubmitSolution(solution)) => {
                        match s.solve(&solution, shared) {
                            Ok(result) => tracing::info!(?result, "template provider: solution submitted"),
                            Err(e) => tracing::warn!(error = %e, "template provider: bad solution"),
                        }
                    }
                    other => tracing::debug!(?other, "template provider: ignored"),
                }
            }
            _ = tick.tick() => {
                let Some(seen) = announced else { continue };
                let t = shared.with_node(|n| n.build_template());
                if t.prev_hash != seen {
                    announced = Some(t.prev_hash);
                    s.announce(t).await?;
                }
            }
        }
    }
}
