//! Extranonce layout between the SV2 channel and the SV1 miners.
//!
//! An upstream extended channel gives the translator `extranonce_prefix` (fixed by the pool)
//! and `extranonce_size` bytes to roll. The translator splits the rolled part per miner:
//!
//! ```text
//! coinbase = coinbase_tx_prefix | extranonce_prefix | extranonce1 | extranonce2 | padding | coinbase_tx_suffix
//!            \_________ SV1 coinb1 ____________/     (per miner)   (miner rolls)  \______ SV1 coinb2 _____/
//! ```
//!
//! * `extranonce1` is a translator-wide counter unique per connected miner (allocated with
//!   [`ExtranonceAllocator::subdivide`] over the channel's rollable space, with released values
//!   quarantined until the next block), independent of the upstream;
//! * the upstream prefix is therefore part of `coinb1`, and a `SetExtranoncePrefix` or a
//!   failover to another pool only changes `coinb1` of later jobs: miners keep their
//!   `extranonce1` and `extranonce2_size`;
//! * `padding` is zero bytes filling whatever the channel offers beyond
//!   `extranonce1 + extranonce2`; it starts `coinb2`;
//! * a share goes upstream as `SubmitSharesExtended.extranonce = extranonce1 | extranonce2 |
//!   padding` (exactly the channel's `extranonce_size` bytes).
//!
//! SRI's translator instead sends the upstream prefix inside `extranonce1`; see the crate docs
//! for the comparison.

use sv2_mining::extranonce::{ExtranonceAllocator, ExtranonceError, PrefixId, MAX_EXTRANONCE_LEN};

/// Fewest extranonce2 bytes handed to a miner (below this firmware may run out of work).
pub const MIN_EXTRANONCE2_SIZE: usize = 2;
/// Most extranonce2 bytes handed to a miner (cgminer-derived firmware supports up to 8).
pub const MAX_EXTRANONCE2_SIZE: usize = 8;
/// Fewest bytes of the per-miner extranonce1.
pub const MIN_EXTRANONCE1_SIZE: usize = 2;

/// Bytes of extranonce1 for up to `max_miners` simultaneous miners, with 4x headroom for
/// reconnect churn (released values are quarantined until the next block).
pub fn counter_len_for(max_miners: u32) -> usize {
    let need = u64::from(max_miners).saturating_mul(4);
    let mut n = MIN_EXTRANONCE1_SIZE;
    while n < 8 && (1u64 << (8 * n)) < need {
        n += 1;
    }
    n
}

/// A miner's extranonce1: its allocation handle and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extranonce1 {
    id: PrefixId,
    bytes: [u8; 8],
    len: u8,
}

impl Extranonce1 {
    /// The bytes sent in `mining.subscribe` / `mining.set_extranonce`.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// Allocator of per-miner extranonce1 values.
#[derive(Debug, Clone)]
pub struct MinerExtranonces {
    alloc: ExtranonceAllocator,
    en1_len: usize,
}

impl MinerExtranonces {
    /// Values of `en1_len` bytes (2..=8) for miners rolling `en2_len` bytes.
    pub fn new(en1_len: usize, en2_len: usize) -> Result<Self, ExtranonceError> {
        if !(MIN_EXTRANONCE1_SIZE..=8).contains(&en1_len) {
            return Err(ExtranonceError::InvalidLayout(
                "extranonce1 must be 2..=8 bytes",
            ));
        }
        let alloc = ExtranonceAllocator::subdivide(&[], en1_len + en2_len, en1_len)?;
        Ok(MinerExtranonces { alloc, en1_len })
    }

    /// Length of every extranonce1.
    pub fn en1_len(&self) -> usize {
        self.en1_len
    }

    /// A fresh value for a new miner.
    pub fn allocate(&mut self) -> Result<Extranonce1, ExtranonceError> {
        let a = self.alloc.allocate_extended(0)?;
        let mut bytes = [0u8; 8];
        let len = a.prefix.len().min(8);
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), a.prefix.get(..len)) {
            dst.copy_from_slice(src);
        }
        Ok(Extranonce1 {
            id: a.id,
            bytes,
            len: len as u8,
        })
    }

    /// Returns a miner's value (reusable after the next [`Self::on_new_prev_hash`]).
    pub fn release(&mut self, e: &Extranonce1) {
        self.alloc.release(e.id);
    }

    /// A new block: values released before it may be handed out again.
    pub fn on_new_prev_hash(&mut self) {
        self.alloc.on_new_prev_hash();
    }

    /// Values in use.
    pub fn live(&self) -> usize {
        self.alloc.live_count()
    }
}

/// Extranonce2 bytes a channel with `rollable` bytes can give miners whose extranonce1 is
/// `en1_len` bytes, capped at `wanted`; `None` if fewer than [`MIN_EXTRANONCE2_SIZE`].
pub fn usable_extranonce2(rollable: usize, en1_len: usize, wanted: usize) -> Option<usize> {
    let room = rollable.checked_sub(en1_len)?;
    let en2 = room.min(wanted).min(MAX_EXTRANONCE2_SIZE);
    (en2 >= MIN_EXTRANONCE2_SIZE).then_some(en2)
}

/// Zero bytes after extranonce2 so the miner's part fills the channel's `rollable` bytes.
pub fn padding_len(rollable: usize, en1_len: usize, en2_len: usize) -> Option<usize> {
    rollable.checked_sub(en1_len)?.checked_sub(en2_len)
}

/// Writes `extranonce1 | extranonce2 | zero padding` (the channel's `rollable` bytes) into
/// `buf` and returns that slice; `None` if the parts do not fit.
pub fn upstream_extranonce<'a>(
    en1: &[u8],
    en2: &[u8],
    rollable: usize,
    buf: &'a mut [u8; MAX_EXTRANONCE_LEN],
) -> Option<&'a [u8]> {
    padding_len(rollable, en1.len(), en2.len())?;
    let out = buf.get_mut(..rollable)?;
    out.fill(0);
    out.get_mut(..en1.len())?.copy_from_slice(en1);
    out.get_mut(en1.len()..en1.len() + en2.len())?
        .copy_from_slice(en2);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_lengths() {
        assert_eq!(counter_len_for(1), 2);
        assert_eq!(counter_len_for(16_384), 2);
        assert_eq!(counter_len_for(16_385), 3);
        assert_eq!(counter_len_for(1_000_000), 3);
        assert_eq!(counter_len_for(u32::MAX), 5);
    }

    #[test]
    fn unique_values_with_quarantine() {
        let mut m = MinerExtranonces::new(2, 4).unwrap();
        let a = m.allocate().unwrap();
        let b = m.allocate().unwrap();
        assert_eq!(a.as_bytes(), &[0, 0]);
        assert_eq!(b.as_bytes(), &[0, 1]);
        assert_eq!(m.live(), 2);
        m.release(&a);
        // Fresh values are preferred; a released one comes back only after a block.
        assert_eq!(m.allocate().unwrap().as_bytes(), &[0, 2]);
        m.on_new_prev_hash();
        assert_eq!(m.live(), 2);
        assert!(MinerExtranonces::new(1, 4).is_err());
        assert!(MinerExtranonces::new(9, 4).is_err());
    }

    #[test]
    fn exhaustion_is_an_error_not_a_panic() {
        let mut m = MinerExtranonces::new(2, 2).unwrap();
        for _ in 0..65_536 {
            m.allocate().unwrap();
        }
        assert_eq!(m.allocate(), Err(ExtranonceError::Exhausted));
    }

    #[test]
    fn extranonce2_sizes() {
        assert_eq!(usable_extranonce2(8, 2, 4), Some(4));
        assert_eq!(usable_extranonce2(5, 2, 4), Some(3));
        assert_eq!(usable_extranonce2(3, 2, 4), None);
        assert_eq!(usable_extranonce2(1, 2, 4), None);
        assert_eq!(usable_extranonce2(32, 2, 30), Some(MAX_EXTRANONCE2_SIZE));
        assert_eq!(padding_len(8, 2, 4), Some(2));
        assert_eq!(padding_len(5, 2, 4), None);
    }

    #[test]
    fn upstream_layout() {
        let mut buf = [0xaa; 32];
        let e = upstream_extranonce(&[1, 2], &[3, 4, 5, 6], 8, &mut buf).unwrap();
        assert_eq!(e, &[1, 2, 3, 4, 5, 6, 0, 0]);
        let mut buf = [0; 32];
        assert!(upstream_extranonce(&[1, 2], &[3, 4, 5, 6], 5, &mut buf).is_none());
        assert!(upstream_extranonce(&[1; 2], &[3; 4], 33, &mut buf).is_none());
    }
}
