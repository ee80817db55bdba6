//! The synthetic mempool: transactions with known fees, kept in arrival order and handed out
//! parents-first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bitcoin::{Amount, OutPoint, Transaction, Txid, Wtxid};

/// One mempool transaction with the data a block template needs.
#[derive(Debug, Clone)]
pub struct MempoolEntry {
    /// The transaction.
    pub tx: Arc<Transaction>,
    /// Its txid.
    pub txid: Txid,
    /// Its wtxid.
    pub wtxid: Wtxid,
    /// The fee it pays.
    pub fee: Amount,
    /// Its sigop cost (legacy sigops scaled by 4 plus witness sigops).
    pub sigops: u64,
    /// Its weight in weight units.
    pub weight: u64,
    /// Arrival order; later entries have larger numbers.
    pub sequence: u64,
}

/// Transactions waiting for a block, indexed by txid and by the outpoints they spend.
#[derive(Debug, Clone, Default)]
pub struct Mempool {
    entries: HashMap<Txid, MempoolEntry>,
    spends: HashMap<OutPoint, Txid>,
    next_sequence: u64,
}

impl Mempool {
    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the mempool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `txid` is in the mempool.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.entries.contains_key(txid)
    }

    /// The entry for `txid`.
    pub fn get(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.entries.get(txid)
    }

    /// The mempool transaction spending `outpoint`, if any.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spends.get(outpoint).copied()
    }

    /// Adds a transaction. The caller has checked it does not conflict with the mempool.
    pub fn insert(&mut self, tx: Arc<Transaction>, fee: Amount, sigops: u64) -> Txid {
        let txid = tx.compute_txid();
        let entry = MempoolEntry {
            txid,
            wtxid: tx.compute_wtxid(),
            fee,
            sigops,
            weight: tx.weight().to_wu(),
            sequence: self.next_sequence,
            tx,
        };
        self.next_sequence += 1;
        for input in &entry.tx.input {
            self.spends.insert(input.previous_output, txid);
        }
        self.entries.insert(txid, entry);
        txid
    }

    /// Removes one transaction (not its descendants).
    pub fn remove(&mut self, txid: &Txid) -> Option<MempoolEntry> {
        let entry = self.entries.remove(txid)?;
        for input in &entry.tx.input {
            if self.spends.get(&input.previous_output) == Some(txid) {
                self.spends.remove(&input.previous_output);
            }
        }
        Some(entry)
    }

    /// Removes a transaction and everything in the mempool that spends its outputs, recursively.
    /// Returns how many transactions were removed.
    pub fn remove_with_descendants(&mut self, txid: &Txid) -> usize {
        let mut removed = 0;
        let mut stack = vec![*txid];
        while let Some(id) = stack.pop() {
            let Some(entry) = self.remove(&id) else {
                continue;
            };
            removed += 1;
            for vout in 0..entry.tx.output.len() {
                let outpoint = OutPoint {
                    txid: id,
                    vout: vout as u32,
                };
                if let Some(child) = self.spends.get(&outpoint) {
                    stack.push(*child);
                }
            }
        }
        removed
    }

    /// In-mempool parents of `tx` (txids of mempool transactions whose outputs it spends).
    pub fn parents_of(&self, tx: &Transaction) -> Vec<Txid> {
        let mut parents: Vec<Txid> = Vec::new();
        for input in &tx.input {
            let id = input.previous_output.txid;
            if self.entries.contains_key(&id) && !parents.contains(&id) {
                parents.push(id);
            }
        }
        parents
    }

    /// All entries, every parent before its children, otherwise in arrival order.
    pub fn ordered(&self) -> Vec<&MempoolEntry> {
        let mut by_arrival: Vec<&MempoolEntry> = self.entries.values().collect();
        by_arrival.sort_by_key(|e| e.sequence);
        let mut emitted: HashSet<Txid> = HashSet::with_capacity(by_arrival.len());
        let mut out = Vec::with_capacity(by_arrival.len());
        for root in by_arrival {
            // Depth-first with an explicit stack: emit a node once all its parents are out.
            let mut stack = vec![root];
            while let Some(&top) = stack.last() {
                if emitted.contains(&top.txid) {
                    stack.pop();
                    continue;
                }
                let pending: Vec<&MempoolEntry> = self
                    .parents_of(&top.tx)
                    .iter()
                    .filter(|p| !emitted.contains(*p))
                    .filter_map(|p| self.entries.get(p))
                    .collect();
                if pending.is_empty() {
                    emitted.insert(top.txid);
                    out.push(top);
                    stack.pop();
                } else {
                    // A cycle cannot occur (txids commit to their inputs), but guard the stack anyway.
                    if stack.len() > self.entries.len() {
                        break;
                    }
                    stack.extend(pending);
                }
            }
        }
        out
    }

    /// Txids in template order.
    pub fn txids(&self) -> Vec<Txid> {
        self.ordered().iter().map(|e| e.txid).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::absolute::LockTime;
    use bitcoin::hashes::Hash;
    use bitcoin::transaction::Version;
    use bitcoin::{ScriptBuf, Sequence, TxIn, TxOut, Witness};

    fn tx(inputs: &[OutPoint], outputs: usize, tag: u8) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: inputs
                .iter()
                .map(|op| TxIn {
                    previous_output: *op,
                    script_sig: ScriptBuf::from_bytes(vec![tag]),
                    sequence: Sequence::MAX,
                    witness: Witness::new(),
                })
                .collect(),
            output: (0..outputs)
                .map(|_| TxOut {
                    value: Amount::from_sat(1000),
                    script_pubkey: ScriptBuf::new(),
                })
                .collect(),
        }
    }

    fn ext(n: u8) -> OutPoint {
        OutPoint {
            txid: Txid::from_byte_array([n; 32]),
            vout: 0,
        }
    }

    #[test]
    fn parents_come_first_even_if_inserted_later() {
        let parent = tx(&[ext(1)], 2, 1);
        let pid = parent.compute_txid();
        let child = tx(
            &[
                OutPoint { txid: pid, vout: 0 },
                OutPoint { txid: pid, vout: 1 },
            ],
            1,
            2,
        );
        let other = tx(&[ext(2)], 1, 3);
        let mut pool = Mempool::default();
        let cid = pool.insert(Arc::new(child), Amount::from_sat(10), 0);
        let oid = pool.insert(Arc::new(other), Amount::from_sat(10), 0);
        pool.insert(Arc::new(parent), Amount::from_sat(10), 0);
        assert_eq!(pool.txids(), vec![pid, cid, oid]);
        assert_eq!(pool.spender(&OutPoint { txid: pid, vout: 1 }), Some(cid));
    }

    #[test]
    fn removing_a_parent_removes_descendants() {
        let a = tx(&[ext(1)], 1, 1);
        let b = tx(
            &[OutPoint {
                txid: a.compute_txid(),
                vout: 0,
            }],
            1,
            2,
        );
        let c = tx(
            &[OutPoint {
                txid: b.compute_txid(),
                vout: 0,
            }],
            1,
            3,
        );
        let d = tx(&[ext(2)], 1, 4);
        let mut pool = Mempool::default();
        let aid = pool.insert(Arc::new(a), Amount::ZERO, 0);
        pool.insert(Arc::new(b), Amount::ZERO, 0);
        pool.insert(Arc::new(c), Amount::ZERO, 0);
        let did = pool.insert(Arc::new(d), Amount::ZERO, 0);
        assert_eq!(pool.remove_with_descendants(&aid), 3);
        assert_eq!(pool.txids(), vec![did]);
        assert!(pool.spender(&ext(1)).is_none());
    }
}
