//! Exact integer split of a block reward over sites, partners and treasury accounts.
//!
//! Rules (also in `TREASURY.md`):
//! 1. Each site's work (sum of accepted share difficulty in the block's window) becomes an
//!    integer weight: all difficulties are multiplied by the same power of two, so that the
//!    largest is between 2^55 and 2^56, and truncated. Multiplying by a power of two is exact,
//!    so integer or binary-fraction difficulties keep their exact ratios (3:1 stays 3:1).
//! 2. A site gets `floor(reward × weight / total_weight)` satoshis. The satoshis left over by the
//!    rounding go to the site with the largest weight (the first by id on a tie).
//! 3. The site's partner gets `floor(reward × weight × share_ppm / (total_weight × 10^6))`: the
//!    exact partner share rounded down, computed before step 2's leftover, so partners never
//!    receive rounding remainders. The rest of the site's part is the treasury's.
//! 4. The treasury's part of a site is divided over the treasury accounts by their payout
//!    weights, rounded down; the dust goes to the first account (as in the coinbase).
//!
//! Every satoshi of the reward ends in exactly one allocation, so the allocations of a block
//! always sum to its reward.

/// The largest site weight is scaled into `[2^55, 2^56)`: small enough that
/// `reward × weight × 10^6` fits in 128 bits.
const WEIGHT_TOP_BIT: i32 = 55;
/// Upper bound of a weight.
const TOP: f64 = (1u64 << 56) as f64;

/// `e` with `2^e <= x < 2^(e+1)` for positive finite `x`.
fn binary_exponent(x: f64) -> i32 {
    let biased = ((x.to_bits() >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: scale up first.
        binary_exponent(x * 2f64.powi(64)) - 64
    } else {
        biased - 1023
    }
}

/// `x × 2^k`, exact while the result is a normal number (applied in two steps so `2^k`
/// itself never overflows).
fn scale_pow2(x: f64, k: i32) -> f64 {
    let half = k / 2;
    x * 2f64.powi(half) * 2f64.powi(k - half)
}

/// Work of one site in a block's window.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteWork {
    /// Site id.
    pub site: String,
    /// Sum of accepted share difficulty.
    pub difficulty: f64,
}

/// Revenue terms of one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTerms {
    /// Ledger account of the hosting partner, if any.
    pub partner_account: Option<String>,
    /// The partner's share in parts per million (0..=1_000_000).
    pub partner_ppm: u32,
}

/// A treasury account and its weight (sum of its `[[payout]]` weights).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreasuryAccount {
    /// Ledger account id.
    pub account: String,
    /// Relative weight (> 0).
    pub weight: u64,
}

/// One site's part of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteShare {
    /// Site id.
    pub site: String,
    /// Work the site contributed to the window.
    pub difficulty: f64,
    /// The site's part of the reward, satoshis.
    pub sats: u64,
    /// Partner account and its satoshis (absent when the site has no partner).
    pub partner: Option<(String, u64)>,
    /// Treasury accounts and their satoshis, in configuration order.
    pub treasury: Vec<(String, u64)>,
}

/// The split of one block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlockSplit {
    /// Per site, sorted by site id.
    pub sites: Vec<SiteShare>,
}

/// A single ledger allocation of a split: `sats` to `account`, attributed to `site`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Site the satoshis are attributed to.
    pub site: String,
    /// Ledger account credited.
    pub account: String,
    /// Satoshis (> 0).
    pub sats: u64,
}

impl BlockSplit {
    /// Sum of every allocation (equals the reward).
    pub fn total(&self) -> u64 {
        self.sites.iter().map(|s| s.sats).sum()
    }

    /// Non-zero allocations, site by site (partner first, then treasury accounts).
    pub fn allocations(&self) -> Vec<Allocation> {
        let mut out = Vec::new();
        for s in &self.sites {
            let parts = s.partner.iter().chain(s.treasury.iter());
            for (account, sats) in parts {
                if *sats > 0 {
                    out.push(Allocation {
                        site: s.site.clone(),
                        account: account.clone(),
                        sats: *sats,
                    });
                }
            }
        }
        out
    }
}

/// Why a split is impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// No treasury account (at least one `[[payout]]` is required).
    #[error("no treasury account to credit")]
    NoTreasury,
    /// A treasury weight is zero.
    #[error("treasury account `{0}` has weight 0")]
    ZeroWeight(String),
    /// A partner share above 100%.
    #[error("partner share of site `{0}` exceeds 100%")]
    Share(String),
}

/// Splits `reward` over the sites of `work` (sites with no positive, finite difficulty are
/// dropped). When no site has work, everything goes to `fallback_site`.
pub fn split_block(
    reward: u64,
    work: &[SiteWork],
    fallback_site: &str,
    terms: &dyn Fn(&str) -> SiteTerms,
    treasury: &[TreasuryAccount],
) -> Result<BlockSplit, SplitError> {
    if treasury.is_empty() {
        return Err(SplitError::NoTreasury);
    }
    if let Some(t) = treasury.iter().find(|t| t.weight == 0) {
        return Err(SplitError::ZeroWeight(t.account.clone()));
    }
    // Merge duplicate sites, keep positive finite work, sort by id.
    let mut merged: Vec<(String, f64)> = Vec::new();
    for w in work {
        if !(w.difficulty.is_finite() && w.difficulty > 0.0) {
            continue;
        }
        match merged.iter_mut().find(|(s, _)| *s == w.site) {
            Some((_, d)) => *d += w.difficulty,
            None => merged.push((w.site.clone(), w.difficulty)),
        }
    }
    merged.retain(|(_, d)| d.is_finite());
    if merged.is_empty() {
        merged.push((fallback_site.to_owned(), 1.0));
    }
    merged.sort_by(|a, b| a.0.cmp(&b.0));

    let max = merged.iter().map(|(_, d)| *d).fold(0.0_f64, f64::max);
    let k = WEIGHT_TOP_BIT - binary_exponent(max);
    let weights: Vec<u128> = merged
        .iter()
        .map(|(_, d)| scale_pow2(*d, k).floor().clamp(0.0, TOP) as u128)
        .collect();
    let total: u128 = weights.iter().sum();
    let reward128 = u128::from(reward);

    let mut site_sats: Vec<u64> = weights
        .iter()
        .map(|w| (reward128 * w / total) as u64)
        .collect();
    let distributed: u64 = site_sats.iter().sum();
    let leftover = reward - distributed;
    // The first site with the largest weight takes the leftover.
    let top = weights.iter().enumerate().fold(
        0usize,
        |best, (i, w)| if *w > weights[best] { i } else { best },
    );
    site_sats[top] += leftover;

    let mut sites = Vec::with_capacity(merged.len());
    for (i, (site, difficulty)) in merged.into_iter().enumerate() {
        let t = terms(&site);
        if t.partner_ppm > 1_000_000 {
            return Err(SplitError::Share(site));
        }
        let partner = t.partner_account.map(|account| {
            let exact = reward128 * weights[i] * u128::from(t.partner_ppm);
            (account, (exact / (total * 1_000_000)) as u64)
        });
        let partner_sats = partner.as_ref().map_or(0, |(_, s)| *s);
        let treasury_sats = site_sats[i] - partner_sats;
        sites.push(SiteShare {
            site,
            difficulty,
            sats: site_sats[i],
            partner,
            treasury: split_by_weight(treasury_sats, treasury),
        });
    }
    Ok(BlockSplit { sites })
}

/// Divides `sats` by weight, rounding down, dust to the first account.
fn split_by_weight(sats: u64, accounts: &[TreasuryAccount]) -> Vec<(String, u64)> {
    let total: u128 = accounts.iter().map(|a| u128::from(a.weight)).sum();
    let mut parts: Vec<(String, u64)> = accounts
        .iter()
        .map(|a| {
            (
                a.account.clone(),
                (u128::from(sats) * u128::from(a.weight) / total) as u64,
            )
        })
        .collect();
    let given: u64 = parts.iter().map(|(_, s)| *s).sum();
    if let Some(first) = parts.first_mut() {
        first.1 += sats - given;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn treasury(ws: &[u64]) -> Vec<TreasuryAccount> {
        ws.iter()
            .enumerate()
            .map(|(i, w)| TreasuryAccount {
                account: format!("treasury/t{i}"),
                weight: *w,
            })
            .collect()
    }

    fn partner_terms(ppm: u32) -> impl Fn(&str) -> SiteTerms {
        move |site: &str| SiteTerms {
            partner_account: Some(format!("partner/{site}")),
            partner_ppm: ppm,
        }
    }

    #[test]
    fn single_site_hand_computed() {
        // 50 BTC, one site, partner 29.1%.
        let s = split_block(
            5_000_000_000,
            &[SiteWork {
                site: "fra1".into(),
                difficulty: 7.5,
            }],
            "x",
            &partner_terms(291_000),
            &treasury(&[1]),
        )
        .unwrap();
        assert_eq!(s.sites.len(), 1);
        assert_eq!(
            s.sites[0].partner,
            Some(("partner/fra1".into(), 1_455_000_000))
        );
        assert_eq!(
            s.sites[0].treasury,
            vec![("treasury/t0".into(), 3_545_000_000)]
        );
    }

    #[test]
    fn two_sites_and_remainders() {
        // 3:1 work over 100 sats: 75 / 25; partner 29.1% → floor(21.825)=21, floor(7.275)=7.
        let s = split_block(
            100,
            &[
                SiteWork {
                    site: "b".into(),
                    difficulty: 1.0,
                },
                SiteWork {
                    site: "a".into(),
                    difficulty: 3.0,
                },
            ],
            "x",
            &partner_terms(291_000),
            &treasury(&[1]),
        )
        .unwrap();
        assert_eq!(s.sites[0].site, "a");
        assert_eq!(s.sites[0].sats, 75);
        assert_eq!(s.sites[0].partner.as_ref().unwrap().1, 21);
        assert_eq!(s.sites[1].sats, 25);
        assert_eq!(s.sites[1].partner.as_ref().unwrap().1, 7);
        // Three equal sites over 100 sats: 33 each, the first takes the leftover 1.
        let w: Vec<SiteWork> = ["x", "y", "z"]
            .iter()
            .map(|s| SiteWork {
                site: (*s).into(),
                difficulty: 2.0,
            })
            .collect();
        let s = split_block(100, &w, "f", &partner_terms(500_000), &treasury(&[1])).unwrap();
        let sats: Vec<u64> = s.sites.iter().map(|s| s.sats).collect();
        assert_eq!(sats, vec![34, 33, 33]);
        // Partner of x gets floor(16.67)=16, not a share of the leftover.
        assert_eq!(s.sites[0].partner.as_ref().unwrap().1, 16);
        assert_eq!(s.sites[0].treasury[0].1, 18);
    }

    #[test]
    fn treasury_weights_dust_to_first() {
        let s = split_block(
            10,
            &[],
            "unassigned",
            &|_| SiteTerms {
                partner_account: None,
                partner_ppm: 0,
            },
            &treasury(&[1, 1, 1]),
        )
        .unwrap();
        assert_eq!(s.sites[0].site, "unassigned");
        let t: Vec<u64> = s.sites[0].treasury.iter().map(|x| x.1).collect();
        assert_eq!(t, vec![4, 3, 3]);
    }

    #[test]
    fn exact_ratios_and_exponents() {
        assert_eq!(binary_exponent(1.0), 0);
        assert_eq!(binary_exponent(180.0), 7);
        assert_eq!(binary_exponent(0.75), -1);
        assert_eq!(binary_exponent(f64::MIN_POSITIVE / 8.0), -1025);
        let w = |d: f64| SiteWork {
            site: format!("{d}"),
            difficulty: d,
        };
        let none = |_: &str| SiteTerms {
            partner_account: None,
            partner_ppm: 0,
        };
        let s = split_block(
            5_000_000_000,
            &[w(180.0), w(60.0)],
            "f",
            &none,
            &treasury(&[1]),
        )
        .unwrap();
        let sats: Vec<u64> = s.sites.iter().map(|s| s.sats).collect();
        assert_eq!(sats, vec![3_750_000_000, 1_250_000_000]);
        let s = split_block(1000, &[w(1e-300), w(3e-300)], "f", &none, &treasury(&[1])).unwrap();
        assert_eq!(s.total(), 1000);
    }

    #[test]
    fn errors() {
        let none = |_: &str| SiteTerms {
            partner_account: None,
            partner_ppm: 0,
        };
        assert_eq!(
            split_block(1, &[], "f", &none, &[]),
            Err(SplitError::NoTreasury)
        );
        assert!(split_block(1, &[], "f", &none, &treasury(&[0])).is_err());
        assert!(split_block(1, &[], "f", &partner_terms(1_000_001), &treasury(&[1])).is_err());
    }

    fn site_strategy() -> impl Strategy<Value = Vec<(f64, u32)>> {
        prop::collection::vec(
            (
                prop_oneof![Just(0.0), 1e-9f64..1e-3, 1e-3f64..1e6, 1e6f64..1e18,],
                prop_oneof![Just(0u32), Just(1_000_000u32), 0u32..=1_000_000],
            ),
            0..24,
        )
    }

    proptest! {
        #[test]
        fn always_sums_to_reward(
            reward in prop_oneof![Just(0u64), 0u64..1000, 0u64..=2_100_000_000_000_000],
            sites in site_strategy(),
            weights in prop::collection::vec(1u64..1000, 1..5),
        ) {
            let work: Vec<SiteWork> = sites
                .iter()
                .enumerate()
                .map(|(i, (d, _))| SiteWork { site: format!("s{i:02}"), difficulty: *d })
                .collect();
            let ppm: Vec<u32> = sites.iter().map(|(_, p)| *p).collect();
            let terms = |site: &str| {
                let i: usize = site.trim_start_matches('s').parse().unwrap_or(0);
                SiteTerms {
                    partner_account: (i % 3 != 2).then(|| format!("partner/p{}", i % 4)),
                    partner_ppm: if i % 3 != 2 { ppm.get(i).copied().unwrap_or(0) } else { 0 },
                }
            };
            let split = split_block(reward, &work, "fallback", &terms, &treasury(&weights)).unwrap();
            prop_assert_eq!(split.total(), reward);
            let alloc_sum: u64 = split.allocations().iter().map(|a| a.sats).sum();
            prop_assert_eq!(alloc_sum, reward);
            let total_d: f64 = work.iter().map(|w| w.difficulty).filter(|d| *d > 0.0).sum();
            for s in &split.sites {
                let parts: u64 = s.partner.iter().map(|p| p.1).sum::<u64>()
                    + s.treasury.iter().map(|t| t.1).sum::<u64>();
                prop_assert_eq!(parts, s.sats);
                if total_d > 0.0 {
                    // Within rounding of the exact proportional share (the leftover is < sites).
                    let exact = reward as f64 * s.difficulty / total_d;
                    let tol = exact * 1e-12 + (work.len() as f64) + 2.0 + reward as f64 * 2f64.powi(-53);
                    prop_assert!((s.sats as f64 - exact).abs() <= tol, "site {} got {} exact {}", s.site, s.sats, exact);
                    if let Some((_, p)) = &s.partner {
                        let i: usize = s.site.trim_start_matches('s').parse().unwrap();
                        let exact_p = exact * f64::from(ppm[i]) / 1e6;
                        prop_assert!(*p as f64 <= exact_p + tol);
                        prop_assert!(*p as f64 >= exact_p - tol);
                        prop_assert!(*p <= s.sats);
                    }
                } else {
                    prop_assert_eq!(s.site.as_str(), "fallback");
                }
            }
        }
    }
}
