//! Interpretation of `submitblock` answers (BIP22 strings).

/// What a node said about a submitted block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitBlockOutcome {
    /// `null`: the block was accepted and connected (or is being considered as best chain).
    Accepted,
    /// `duplicate`: the node already has this block as valid.
    Duplicate,
    /// `inconclusive`: valid but not (yet) on the best chain, e.g. another block at the same height won.
    Inconclusive,
    /// `duplicate-invalid`: the node already knows this block is invalid.
    DuplicateInvalid,
    /// `duplicate-inconclusive`: already known, not on the best chain.
    DuplicateInconclusive,
    /// Any other BIP22 rejection reason (`high-hash`, `bad-txnmrklroot`, `bad-cb-amount`, ...).
    Rejected(String),
}

impl SubmitBlockOutcome {
    /// Decodes the JSON `result` member of a `submitblock` reply.
    pub fn from_result(result: &serde_json::Value) -> Self {
        match result {
            serde_json::Value::Null => SubmitBlockOutcome::Accepted,
            serde_json::Value::String(s) => Self::from_reason(s),
            other => SubmitBlockOutcome::Rejected(other.to_string()),
        }
    }

    /// Decodes a BIP22 reason string.
    pub fn from_reason(reason: &str) -> Self {
        match reason {
            "duplicate" => SubmitBlockOutcome::Duplicate,
            "inconclusive" => SubmitBlockOutcome::Inconclusive,
            "duplicate-invalid" => SubmitBlockOutcome::DuplicateInvalid,
            "duplicate-inconclusive" => SubmitBlockOutcome::DuplicateInconclusive,
            other => SubmitBlockOutcome::Rejected(other.to_owned()),
        }
    }

    /// True when the node holds the block as valid (accepted now or before).
    pub fn is_valid_block(&self) -> bool {
        matches!(
            self,
            SubmitBlockOutcome::Accepted | SubmitBlockOutcome::Duplicate
        )
    }

    /// Short label for logs and metrics.
    pub fn label(&self) -> &str {
        match self {
            SubmitBlockOutcome::Accepted => "accepted",
            SubmitBlockOutcome::Duplicate => "duplicate",
            SubmitBlockOutcome::Inconclusive => "inconclusive",
            SubmitBlockOutcome::DuplicateInvalid => "duplicate-invalid",
            SubmitBlockOutcome::DuplicateInconclusive => "duplicate-inconclusive",
            SubmitBlockOutcome::Rejected(r) => r,
        }
    }
}
