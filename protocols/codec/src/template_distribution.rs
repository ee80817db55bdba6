//! Template Distribution protocol messages (spec section 7), laid out as in
//! `template_distribution_sv2` 7. All are sent with the channel bit clear.

use crate::message_types as mt;
use crate::wire::{Bool, Seq0255, Seq064K, Str0255, B016M, B0255, B064K, U16, U256, U32, U64};

/// Error codes of `RequestTransactionData.Error`.
pub mod error_codes {
    /// The template is too old.
    pub const STALE_TEMPLATE_ID: &str = "stale-template-id";
    /// The template id is unknown.
    pub const TEMPLATE_ID_NOT_FOUND: &str = "template-id-not-found";
}

sv2_message! {
    /// `CoinbaseOutputConstraints` (client -> server): space the client needs in the coinbase.
    #[derive(Default, Eq, Copy)]
    pub struct CoinbaseOutputConstraints [mt::COINBASE_OUTPUT_CONSTRAINTS, channel_msg = false] {
        /// Extra serialized bytes the client will add to the coinbase outputs.
        pub coinbase_output_max_additional_size: u32 => U32,
        /// Extra sigops the client's outputs will use.
        pub coinbase_output_max_additional_sigops: u16 => U16,
    }
}

sv2_message! {
    /// `NewTemplate` (server -> client).
    #[derive(Default, Eq)]
    pub struct NewTemplate [mt::NEW_TEMPLATE, channel_msg = false] {
        /// Template id.
        pub template_id: u64 => U64,
        /// True if for a future block (activated by `SetNewPrevHash`).
        pub future_template: bool => Bool,
        /// Header nVersion.
        pub version: u32 => U32,
        /// Coinbase transaction version.
        pub coinbase_tx_version: u32 => U32,
        /// Start of the coinbase scriptSig (BIP34 height etc.).
        pub coinbase_prefix: Vec<u8> => B0255,
        /// Coinbase input nSequence.
        pub coinbase_tx_input_sequence: u32 => U32,
        /// Satoshis left for the client's coinbase outputs.
        pub coinbase_tx_value_remaining: u64 => U64,
        /// Number of outputs in `coinbase_tx_outputs`.
        pub coinbase_tx_outputs_count: u32 => U32,
        /// Serialized outputs the coinbase must carry (e.g. witness commitment).
        pub coinbase_tx_outputs: Vec<u8> => B064K,
        /// Coinbase locktime.
        pub coinbase_tx_locktime: u32 => U32,
        /// Merkle path for the coinbase, deepest first.
        pub merkle_path: Vec<[u8; 32]> => Seq0255<U256>,
    }
}

sv2_message! {
    /// Template Distribution `SetNewPrevHash` (server -> client).
    #[derive(Default, Eq)]
    pub struct SetNewPrevHash [mt::TEMPLATE_SET_NEW_PREV_HASH, channel_msg = false] {
        /// Future template this prev hash activates.
        pub template_id: u64 => U64,
        /// Previous block hash.
        pub prev_hash: [u8; 32] => U256,
        /// Header nTime to use.
        pub header_timestamp: u32 => U32,
        /// Header nBits.
        pub n_bits: u32 => U32,
        /// Network target matching `n_bits`.
        pub target: [u8; 32] => U256,
    }
}

sv2_message! {
    /// `RequestTransactionData` (client -> server).
    #[derive(Default, Eq, Copy)]
    pub struct RequestTransactionData [mt::REQUEST_TRANSACTION_DATA, channel_msg = false] {
        /// Template whose transactions are requested.
        pub template_id: u64 => U64,
    }
}

sv2_message! {
    /// `RequestTransactionData.Success` (server -> client).
    #[derive(Default, Eq)]
    pub struct RequestTransactionDataSuccess [mt::REQUEST_TRANSACTION_DATA_SUCCESS, channel_msg = false] {
        /// Template id from the request.
        pub template_id: u64 => U64,
        /// Extra data for the pool (as defined by the spec).
        pub excess_data: Vec<u8> => B064K,
        /// Serialized transactions (without the coinbase).
        pub transaction_list: Vec<Vec<u8>> => Seq064K<B016M>,
    }
}

sv2_message! {
    /// `RequestTransactionData.Error` (server -> client).
    #[derive(Default, Eq)]
    pub struct RequestTransactionDataError [mt::REQUEST_TRANSACTION_DATA_ERROR, channel_msg = false] {
        /// Template id from the request.
        pub template_id: u64 => U64,
        /// Error code, see [`error_codes`].
        pub error_code: String => Str0255,
    }
}

sv2_message! {
    /// `SubmitSolution` (client -> server): a block was found on this template.
    #[derive(Default, Eq)]
    pub struct SubmitSolution [mt::SUBMIT_SOLUTION, channel_msg = false] {
        /// Template id.
        pub template_id: u64 => U64,
        /// Header nVersion.
        pub version: u32 => U32,
        /// Header nTime.
        pub header_timestamp: u32 => U32,
        /// Header nonce.
        pub header_nonce: u32 => U32,
        /// Full serialized coinbase transaction.
        pub coinbase_tx: Vec<u8> => B064K,
    }
}

protocol_enum! {
    /// Any Template Distribution message.
    pub enum TemplateDistributionMessage {
        CoinbaseOutputConstraints = mt::COINBASE_OUTPUT_CONSTRAINTS,
        NewTemplate = mt::NEW_TEMPLATE,
        SetNewPrevHash = mt::TEMPLATE_SET_NEW_PREV_HASH,
        RequestTransactionData = mt::REQUEST_TRANSACTION_DATA,
        RequestTransactionDataSuccess = mt::REQUEST_TRANSACTION_DATA_SUCCESS,
        RequestTransactionDataError = mt::REQUEST_TRANSACTION_DATA_ERROR,
        SubmitSolution = mt::SUBMIT_SOLUTION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CodecError, Sv2Message};

    #[test]
    fn transaction_list_uses_u24_prefixes() {
        let m = RequestTransactionDataSuccess {
            template_id: 1,
            excess_data: vec![],
            transaction_list: vec![vec![0xAB; 3], vec![]],
        };
        let mut out = Vec::new();
        m.encode_payload(&mut out).unwrap();
        assert_eq!(&out[8..], &[0, 0, 2, 0, 3, 0, 0, 0xAB, 0xAB, 0xAB, 0, 0, 0]);
        assert_eq!(
            RequestTransactionDataSuccess::decode_payload(&out).unwrap(),
            m
        );
    }

    #[test]
    fn truncated_new_template_names_the_field() {
        let m = NewTemplate {
            merkle_path: vec![[1; 32]],
            ..Default::default()
        };
        let mut out = Vec::new();
        m.encode_payload(&mut out).unwrap();
        out.pop();
        assert!(matches!(
            NewTemplate::decode_payload(&out),
            Err(CodecError::Truncated {
                message: "NewTemplate",
                field: "merkle_path"
            })
        ));
    }
}
