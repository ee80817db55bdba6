//! The server's view of its node's mempool, keyed by wtxid (what `DeclareMiningJob` lists).
//!
//! Transactions are learnt from three places: every template of the node (`getblocktemplate`
//! carries data, wtxid and fee of the transactions a block would include), the node's mempool
//! (`getrawmempool true` maps txids to wtxids and fees; `getrawtransaction` fetches only the
//! transactions a declaration actually needs), and clients (`ProvideMissingTransactions`).
//! Refreshes from the node are rate-limited; entries the node no longer has are dropped on each
//! refresh (jobs that use them keep their own references).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::{Transaction, Txid, Wtxid};
use node_rpc::{NodeClient, RpcError};

/// A transaction the server can put in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTx {
    /// Transaction id.
    pub txid: Txid,
    /// Witness transaction id.
    pub wtxid: Wtxid,
    /// Network serialization (with witness).
    pub raw: Vec<u8>,
    /// Fee in satoshis, when the node told us.
    pub fee: Option<u64>,
}

impl KnownTx {
    /// Decodes a serialized transaction; `None` if it does not decode or has trailing bytes.
    pub fn from_raw(raw: Vec<u8>, fee: Option<u64>) -> Option<KnownTx> {
        let tx: Transaction = deserialize(&raw).ok()?;
        if tx.is_coinbase() {
            return None;
        }
        Some(KnownTx {
            txid: tx.compute_txid(),
            wtxid: tx.compute_wtxid(),
            raw,
            fee,
        })
    }

    /// Txid in internal byte order.
    pub fn txid_bytes(&self) -> [u8; 32] {
        self.txid.to_byte_array()
    }
}

#[derive(Debug, Default)]
struct Inner {
    txs: HashMap<Wtxid, Arc<KnownTx>>,
    /// The node's mempool at the last refresh: wtxid -> (txid, fee).
    node_index: HashMap<Wtxid, (Txid, u64)>,
    last_refresh: Option<Instant>,
}

/// Shared transaction cache; cheap to clone.
#[derive(Debug, Clone)]
pub struct TxCache {
    inner: Arc<Mutex<Inner>>,
    refresh_interval: Duration,
}

impl TxCache {
    /// Empty cache refreshing from the node at most every `refresh_interval`.
    pub fn new(refresh_interval: Duration) -> Self {
        TxCache {
            inner: Arc::new(Mutex::new(Inner::default())),
            refresh_interval,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.lock().txs.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A transaction by wtxid.
    pub fn get(&self, wtxid: &Wtxid) -> Option<Arc<KnownTx>> {
        self.lock().txs.get(wtxid).cloned()
    }

    /// Adds (or replaces) a transaction.
    pub fn insert(&self, tx: KnownTx) -> Arc<KnownTx> {
        let tx = Arc::new(tx);
        self.lock().txs.insert(tx.wtxid, tx.clone());
        tx
    }

    /// Adds the transactions of a node template (they carry data and fees).
    pub fn insert_template(&self, t: &node_rpc::BlockTemplate) {
        let mut inner = self.lock();
        for tx in &t.transactions {
            if inner.txs.contains_key(&tx.wtxid) {
                continue;
            }
            inner.txs.insert(
                tx.wtxid,
                Arc::new(KnownTx {
                    txid: tx.txid,
                    wtxid: tx.wtxid,
                    raw: tx.data.clone(),
                    fee: Some(tx.fee),
                }),
            );
        }
    }

    /// Fee of a transaction from the node's mempool index (after a refresh).
    pub fn node_fee(&self, wtxid: &Wtxid) -> Option<u64> {
        let inner = self.lock();
        inner
            .txs
            .get(wtxid)
            .and_then(|t| t.fee)
            .or_else(|| inner.node_index.get(wtxid).map(|(_, fee)| *fee))
    }

    /// Refreshes the node index if the refresh interval has passed (or `force`), dropping
    /// cached transactions the node no longer has.
    pub async fn refresh(&self, node: &NodeClient, force: bool) -> Result<bool, RpcError> {
        {
            let inner = self.lock();
            if !force
                && inner
                    .last_refresh
                    .is_some_and(|t| t.elapsed() < self.refresh_interval)
            {
                return Ok(false);
            }
        }
        let mempool = node.raw_mempool_verbose().await?;
        let index: HashMap<Wtxid, (Txid, u64)> = mempool
            .into_iter()
            .map(|(txid, e)| (e.wtxid, (txid, e.fees.base.to_sat())))
            .collect();
        let mut inner = self.lock();
        inner.txs.retain(|w, _| index.contains_key(w));
        for (w, (_, fee)) in &index {
            if let Some(tx) = inner.txs.get_mut(w) {
                if tx.fee.is_none() {
                    Arc::make_mut(tx).fee = Some(*fee);
                }
            }
        }
        inner.node_index = index;
        inner.last_refresh = Some(Instant::now());
        metrics::gauge!("jds_mempool_txs").set(inner.node_index.len() as f64);
        Ok(true)
    }

    /// Looks up `wtxids`; transactions that are not cached but in the node's mempool (refreshed
    /// when due) are fetched. Returns one entry per wtxid, `None` for transactions the node
    /// does not have.
    pub async fn resolve(
        &self,
        node: &NodeClient,
        wtxids: &[Wtxid],
    ) -> Result<Vec<Option<Arc<KnownTx>>>, RpcError> {
        let missing = |c: &TxCache| -> Vec<Wtxid> {
            let inner = c.lock();
            wtxids
                .iter()
                .filter(|w| !inner.txs.contains_key(*w))
                .copied()
                .collect()
        };
        let unknown = missing(self);
        if !unknown.is_empty() {
            let in_index = {
                let inner = self.lock();
                unknown.iter().all(|w| inner.node_index.contains_key(w))
            };
            if !in_index {
                self.refresh(node, false).await?;
            }
            let to_fetch: Vec<(Wtxid, Txid, u64)> = {
                let inner = self.lock();
                let wanted: HashSet<&Wtxid> = unknown.iter().collect();
                inner
                    .node_index
                    .iter()
                    .filter(|(w, _)| wanted.contains(w))
                    .map(|(w, (txid, fee))| (*w, *txid, *fee))
                    .collect()
            };
            for (wtxid, txid, fee) in to_fetch {
                let Some(raw) = node.raw_transaction(&txid).await? else {
                    continue; // left the mempool meanwhile
                };
                match KnownTx::from_raw(raw, Some(fee)) {
                    Some(tx) if tx.wtxid == wtxid => {
                        self.insert(tx);
                    }
                    _ => {
                        tracing::warn!(%txid, "node returned a transaction that does not match its mempool entry")
                    }
                }
            }
        }
        let inner = self.lock();
        Ok(wtxids.iter().map(|w| inner.txs.get(w).cloned()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::encode::serialize;

    fn sample_tx(seed: u8) -> Transaction {
        use bitcoin::{
            absolute::LockTime, transaction::Version, Amount, OutPoint, ScriptBuf, Sequence, TxIn,
            TxOut, Witness,
        };
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_byte_array([seed; 32]),
                    vout: 0,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[vec![seed; 64]]),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(1_000),
                script_pubkey: ScriptBuf::from_bytes(vec![0x51]),
            }],
        }
    }

    #[test]
    fn known_tx_from_raw() {
        let tx = sample_tx(3);
        let k = KnownTx::from_raw(serialize(&tx), Some(7)).unwrap();
        assert_eq!(k.txid, tx.compute_txid());
        assert_eq!(k.wtxid, tx.compute_wtxid());
        assert_ne!(k.txid.to_byte_array(), k.wtxid.to_byte_array());
        let mut trailing = serialize(&tx);
        trailing.push(0);
        assert!(KnownTx::from_raw(trailing, None).is_none());
        assert!(KnownTx::from_raw(vec![1, 2, 3], None).is_none());
    }

    #[test]
    fn insert_and_get() {
        let c = TxCache::new(Duration::from_secs(1));
        assert!(c.is_empty());
        let k = KnownTx::from_raw(serialize(&sample_tx(4)), None).unwrap();
        let w = k.wtxid;
        c.insert(k);
        assert_eq!(c.len(), 1);
        assert!(c.get(&w).is_some());
        assert_eq!(c.node_fee(&w), None);
    }
}
