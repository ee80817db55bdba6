//! The RPC methods: parameter binding and checking, and the reply objects, field for field in
//! the order and number format Bitcoin Core 31 uses.

use std::str::FromStr;
use std::time::Instant;

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::{Block, BlockHash};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::chain::{BlockEntry, MempoolError, Node, SubmitResult};
use super::envelope::{codes, Call, Params, RpcError};
use super::format::{bits_hex, difficulty_from_bits, target_hex, work_hex, BtcAmount, CoreFloat};
use super::params::{MAX_BLOCK_SIGOPS_COST, MAX_BLOCK_WEIGHT};
use super::shared::Shared;
use super::template::BlockTemplate;
use super::validation::stripped_size;

/// JSON type a parameter must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Num,
    Bool,
    Obj,
    /// A number, or a boolean standing for 0/1 (getblock's verbosity).
    NumOrBool,
}

#[derive(Debug)]
struct ParamSpec {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn req(name: &'static str, kind: Kind) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        required: true,
    }
}

const fn opt(name: &'static str, kind: Kind) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        required: false,
    }
}

#[derive(Debug)]
struct MethodSpec {
    name: &'static str,
    params: &'static [ParamSpec],
    help: &'static str,
}

const METHODS: &[MethodSpec] = &[
    MethodSpec {
        name: "getbestblockhash",
        params: &[],
        help: "getbestblockhash\n\nHash of the block at the tip of the active chain.\n\nResult:\n\"hex\"    (string) block hash\n",
    },
    MethodSpec {
        name: "getblockcount",
        params: &[],
        help: "getblockcount\n\nHeight of the active chain tip.\n\nResult:\nn    (numeric) height\n",
    },
    MethodSpec {
        name: "getblockhash",
        params: &[req("height", Kind::Num)],
        help: "getblockhash height\n\nHash of the active-chain block at a height.\n\nArguments:\n1. height    (numeric, required)\n\nResult:\n\"hex\"    (string) block hash\n",
    },
    MethodSpec {
        name: "getblockheader",
        params: &[req("blockhash", Kind::Str), opt("verbose", Kind::Bool)],
        help: "getblockheader \"blockhash\" ( verbose )\n\nA block header as an object (verbose, default) or as hex.\n\nArguments:\n1. blockhash    (string, required)\n2. verbose      (boolean, optional, default=true)\n",
    },
    MethodSpec {
        name: "getblock",
        params: &[req("blockhash", Kind::Str), opt("verbosity", Kind::NumOrBool)],
        help: "getblock \"blockhash\" ( verbosity )\n\nA block as hex (verbosity 0) or as an object with txids (verbosity 1, default).\n\nArguments:\n1. blockhash    (string, required)\n2. verbosity    (numeric, optional, default=1)\n",
    },
    MethodSpec {
        name: "getblockchaininfo",
        params: &[],
        help: "getblockchaininfo\n\nState of the block chain.\n",
    },
    MethodSpec {
        name: "getnetworkinfo",
        params: &[],
        help: "getnetworkinfo\n\nState of the P2P networking.\n",
    },
    MethodSpec {
        name: "getmininginfo",
        params: &[],
        help: "getmininginfo\n\nMining-related information.\n",
    },
    MethodSpec {
        name: "getblocktemplate",
        params: &[opt("template_request", Kind::Obj)],
        help: "getblocktemplate ( \"template_request\" )\n\nA block template (BIP22/BIP23), or a proposal check with {\"mode\":\"proposal\",\"data\":\"hex\"}.\nMust be called with {\"rules\":[\"segwit\"]}.\n",
    },
    MethodSpec {
        name: "submitblock",
        params: &[req("hexdata", Kind::Str), opt("dummy", Kind::Str)],
        help: "submitblock \"hexdata\" ( \"dummy\" )\n\nSubmits a serialized block. Returns null when accepted, otherwise a BIP22 reason string.\n",
    },
    MethodSpec {
        name: "getrawmempool",
        params: &[opt("verbose", Kind::Bool), opt("mempool_sequence", Kind::Bool)],
        help: "getrawmempool ( verbose mempool_sequence )\n\nTxids in the mempool (verbose: an object of entries with vsize, weight, wtxid, fees and depends).\n",
    },
    MethodSpec {
        name: "getrawtransaction",
        params: &[
            req("txid", Kind::Str),
            opt("verbosity", Kind::NumOrBool),
            opt("blockhash", Kind::Str),
        ],
        help: "getrawtransaction \"txid\" ( verbosity \"blockhash\" )\n\nA mempool transaction, serialized (hex).\n",
    },
    MethodSpec {
        name: "sendrawtransaction",
        params: &[
            req("hexstring", Kind::Str),
            opt("maxfeerate", Kind::Num),
            opt("maxburnamount", Kind::Num),
        ],
        help: "sendrawtransaction \"hexstring\" ( maxfeerate maxburnamount )\n\nAdds a transaction to the mempool; returns its txid.\n",
    },
];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn kind_matches(kind: Kind, v: &Value) -> bool {
    match kind {
        Kind::Str => v.is_string(),
        Kind::Num => v.is_number(),
        Kind::Bool => v.is_boolean(),
        Kind::Obj => v.is_object(),
        Kind::NumOrBool => v.is_number() || v.is_boolean(),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Str => "string",
        Kind::Num | Kind::NumOrBool => "number",
        Kind::Bool => "bool",
        Kind::Obj => "object",
    }
}

/// Maps positional or named params onto the method's parameter list, checking count and types.
fn bind(spec: &MethodSpec, params: &Params) -> Result<Vec<Option<Value>>, RpcError> {
    let help = || RpcError::new(codes::MISC_ERROR, spec.help);
    let mut bound: Vec<Option<Value>> = vec![None; spec.params.len()];
    match params {
        Params::Positional(values) => {
            if values.len() > spec.params.len() {
                return Err(help());
            }
            for (slot, value) in bound.iter_mut().zip(values) {
                if !value.is_null() {
                    *slot = Some(value.clone());
                }
            }
        }
        Params::Named(map) => {
            for (name, value) in map {
                let Some(index) = spec.params.iter().position(|p| p.name == name) else {
                    return Err(RpcError::new(
                        codes::INVALID_PARAMETER,
                        format!("Unknown named parameter {name}"),
                    ));
                };
                if !value.is_null() {
                    bound[index] = Some(value.clone());
                }
            }
        }
    }
    if spec
        .params
        .iter()
        .zip(&bound)
        .any(|(p, v)| p.required && v.is_none())
    {
        return Err(help());
    }
    for (i, (p, v)) in spec.params.iter().zip(&bound).enumerate() {
        if let Some(v) = v {
            if !kind_matches(p.kind, v) {
                return Err(RpcError::new(
                    codes::TYPE_ERROR,
                    format!(
                        "Wrong type passed:\n{{\n    \"Position {} ({})\": \"JSON value of type {} is not of expected type {}\"\n}}",
                        i + 1,
                        p.name,
                        type_name(v),
                        kind_name(p.kind)
                    ),
                ));
            }
        }
    }
    Ok(bound)
}

fn to_raw<T: Serialize>(value: &T) -> Result<Box<RawValue>, RpcError> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| RpcError::new(codes::MISC_ERROR, e.to_string()))
}

fn parse_hash(name: &str, s: &str) -> Result<BlockHash, RpcError> {
    if s.len() != 64 {
        return Err(RpcError::new(
            codes::INVALID_PARAMETER,
            format!("{name} must be of length 64 (not {}, for '{s}')", s.len()),
        ));
    }
    BlockHash::from_str(s).map_err(|_| {
        RpcError::new(
            codes::INVALID_PARAMETER,
            format!("{name} must be hexadecimal string (not '{s}')"),
        )
    })
}

fn decode_block(hex_str: &str) -> Result<Block, RpcError> {
    let failed = || RpcError::new(codes::DESERIALIZATION_ERROR, "Block decode failed");
    let bytes = hex::decode(hex_str).map_err(|_| failed())?;
    deserialize::<Block>(&bytes).map_err(|_| failed())
}

fn block_not_found() -> RpcError {
    RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Block not found")
}

fn header_not_available() -> RpcError {
    RpcError::new(
        codes::INVALID_ADDRESS_OR_KEY,
        "Block not available (the stand-in's chain starts at this block and it was given without its data)",
    )
}

/// Runs one call.
pub async fn dispatch(shared: &Shared, call: &Call) -> Result<Box<RawValue>, RpcError> {
    let Some(spec) = METHODS.iter().find(|m| m.name == call.method) else {
        return Err(RpcError::new(codes::METHOD_NOT_FOUND, "Method not found"));
    };
    let args = bind(spec, &call.params)?;
    let arg = |i: usize| args.get(i).and_then(Option::as_ref);
    match spec.name {
        "getbestblockhash" => to_raw(&shared.with_node(|n| n.tip().hash.to_string())),
        "getblockcount" => to_raw(&shared.with_node(|n| n.tip().height)),
        "getblockhash" => {
            let height = arg(0)
                .and_then(Value::as_i64)
                .and_then(|h| u32::try_from(h).ok());
            let hash = shared.with_node(|n| height.and_then(|h| n.hash_at(h)));
            let hash = hash.ok_or_else(|| {
                RpcError::new(codes::INVALID_PARAMETER, "Block height out of range")
            })?;
            to_raw(&hash.to_string())
        }
        "getblockheader" => {
            let hash = parse_hash(
                "blockhash",
                arg(0).and_then(Value::as_str).unwrap_or_default(),
            )?;
            let verbose = arg(1).and_then(Value::as_bool).unwrap_or(true);
            shared.with_node(|n| getblockheader(n, &hash, verbose))
        }
        "getblock" => {
            let hash = parse_hash(
                "blockhash",
                arg(0).and_then(Value::as_str).unwrap_or_default(),
            )?;
            let verbosity = match arg(1) {
                None => 1,
                Some(Value::Bool(b)) => i64::from(*b),
                Some(v) => v.as_i64().unwrap_or(-1),
            };
            shared.with_node(|n| getblock(n, &hash, verbosity))
        }
        "getblockchaininfo" => shared.with_node(|n| to_raw(&BlockchainInfo::new(n))),
        "getnetworkinfo" => to_raw(&NetworkInfo::regtest()),
        "getmininginfo" => shared.with_node(|n| to_raw(&MiningInfo::new(n))),
        "getblocktemplate" => getblocktemplate(shared, arg(0)).await,
        "submitblock" => {
            let hex_str = arg(0).and_then(Value::as_str).unwrap_or_default();
            let block = match decode_block(hex_str) {
                Ok(block) => block,
                Err(e) => {
                    shared.with_node(Node::record_decode_failure);
                    return Err(e);
                }
            };
            if !block
                .txdata
                .first()
                .is_some_and(bitcoin::Transaction::is_coinbase)
            {
                shared.with_node(Node::record_decode_failure);
                return Err(RpcError::new(
                    codes::DESERIALIZATION_ERROR,
                    "Block does not start with a coinbase",
                ));
            }
            match shared.with_node(|n| n.submit_block(block)) {
                SubmitResult::Accepted => Ok(RawValue::NULL.to_owned()),
                SubmitResult::Rejected(reason) => to_raw(&reason),
                SubmitResult::DecodeFailed => Err(RpcError::new(
                    codes::DESERIALIZATION_ERROR,
                    "Block decode failed",
                )),
            }
        }
        "getrawmempool" => {
            let verbose = arg(0).and_then(Value::as_bool).unwrap_or(false);
            if arg(1).and_then(Value::as_bool).unwrap_or(false) {
                return Err(RpcError::new(
                    codes::INVALID_PARAMETER,
                    "Verbose results cannot contain mempool sequence values.",
                ));
            }
            shared.with_node(|n| getrawmempool(n, verbose))
        }
        "getrawtransaction" => {
            let txid = parse_txid(arg(0).and_then(Value::as_str).unwrap_or_default())?;
            let verbosity = match arg(1) {
                None => 0,
                Some(Value::Bool(b)) => i64::from(*b),
                Some(v) => v.as_i64().unwrap_or(-1),
            };
            if verbosity != 0 {
                return Err(RpcError::new(
                    codes::INVALID_PARAMETER,
                    "the stand-in answers getrawtransaction with verbosity 0 only",
                ));
            }
            let tx = shared.with_node(|n| n.mempool().get(&txid).map(|e| serialize_hex(&*e.tx)));
            match tx {
                Some(hex) => to_raw(&hex),
                None => Err(RpcError::new(
                    codes::INVALID_ADDRESS_OR_KEY,
                    "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain transaction queries. Use gettransaction for wallet transactions.",
                )),
            }
        }
        "sendrawtransaction" => {
            let hex_str = arg(0).and_then(Value::as_str).unwrap_or_default();
            let tx = hex::decode(hex_str)
                .ok()
                .and_then(|b| deserialize::<bitcoin::Transaction>(&b).ok())
                .ok_or_else(|| {
                    RpcError::new(
                        codes::DESERIALIZATION_ERROR,
                        "TX decode failed. Make sure the tx has at least one input.",
                    )
                })?;
            let txid = tx.compute_txid();
            match shared.with_node(|n| n.accept_raw_tx(tx)) {
                Ok(id) => to_raw(&id.to_string()),
                // Core answers with the txid when the transaction is already in its mempool.
                Err(MempoolError::AlreadyInMempool(_)) => to_raw(&txid.to_string()),
                Err(MempoolError::AlreadyConfirmed(_)) => Err(RpcError::new(
                    codes::VERIFY_ALREADY_IN_UTXO_SET,
                    "Transaction outputs already in utxo set",
                )),
                Err(MempoolError::MissingOrSpent(_)) => Err(RpcError::new(
                    codes::VERIFY_ERROR,
                    "bad-txns-inputs-missingorspent",
                )),
                Err(MempoolError::Conflict(_)) => Err(RpcError::new(
                    codes::VERIFY_REJECTED,
                    "txn-mempool-conflict",
                )),
                Err(MempoolError::Invalid(reason)) => {
                    Err(RpcError::new(codes::VERIFY_REJECTED, reason))
                }
                Err(MempoolError::Coinbase) => {
                    Err(RpcError::new(codes::VERIFY_REJECTED, "coinbase"))
                }
            }
        }
        _ => Err(RpcError::new(codes::METHOD_NOT_FOUND, "Method not found")),
    }
}

fn parse_txid(s: &str) -> Result<bitcoin::Txid, RpcError> {
    if s.len() != 64 {
        return Err(RpcError::new(
            codes::INVALID_PARAMETER,
            format!("txid must be of length 64 (not {}, for '{s}')", s.len()),
        ));
    }
    bitcoin::Txid::from_str(s).map_err(|_| {
        RpcError::new(
            codes::INVALID_PARAMETER,
            format!("txid must be hexadecimal string (not '{s}')"),
        )
    })
}

// ----- mempool -----

#[derive(Serialize)]
struct MempoolFees {
    base: BtcAmount,
    modified: BtcAmount,
}

/// A verbose `getrawmempool` entry: the fields the stand-in knows, named as Core names them.
#[derive(Serialize)]
struct MempoolEntryVerbose {
    vsize: u64,
    weight: u64,
    wtxid: String,
    fees: MempoolFees,
    depends: Vec<String>,
}

fn getrawmempool(n: &Node, verbose: bool) -> Result<Box<RawValue>, RpcError> {
    let pool = n.mempool();
    let entries = pool.ordered();
    if !verbose {
        let ids: Vec<String> = entries.iter().map(|e| e.txid.to_string()).collect();
        return to_raw(&ids);
    }
    let mut map: Vec<(String, MempoolEntryVerbose)> = Vec::with_capacity(entries.len());
    for e in entries {
        let fee = BtcAmount(i64::try_from(e.fee.to_sat()).unwrap_or(i64::MAX));
        let entry = MempoolEntryVerbose {
            vsize: e.weight.div_ceil(4),
            weight: e.weight,
            wtxid: e.wtxid.to_string(),
            fees: MempoolFees {
                base: fee,
                modified: BtcAmount(fee.0),
            },
            depends: pool
                .parents_of(&e.tx)
                .iter()
                .map(|p| p.to_string())
                .collect(),
        };
        map.push((e.txid.to_string(), entry));
    }
    to_raw(&EntryMap(map))
}

/// Serializes `(key, value)` pairs as a JSON object, keeping their order.
struct EntryMap<V>(Vec<(String, V)>);

impl<V: Serialize> Serialize for EntryMap<V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

// ----- getblocktemplate -----

async fn getblocktemplate(
    shared: &Shared,
    request: Option<&Value>,
) -> Result<Box<RawValue>, RpcError> {
    let empty = Map::new();
    let request = request.and_then(Value::as_object).unwrap_or(&empty);
    let mode = match request.get("mode") {
        None | Some(Value::Null) => "template",
        Some(Value::String(m)) => m.as_str(),
        Some(_) => return Err(RpcError::new(codes::INVALID_PARAMETER, "Invalid mode")),
    };
    if mode == "proposal" {
        let Some(data) = request.get("data").and_then(Value::as_str) else {
            return Err(RpcError::new(
                codes::INVALID_PARAMETER,
                "Missing data String key for proposal",
            ));
        };
        let block = decode_block(data)?;
        return match shared.with_node(|n| n.test_block_validity(&block)) {
            None => Ok(RawValue::NULL.to_owned()),
            Some(reason) => to_raw(&reason),
        };
    }
    if mode != "template" {
        return Err(RpcError::new(codes::INVALID_PARAMETER, "Invalid mode"));
    }
    if shared.with_node(|n| n.ibd()) {
        return Err(RpcError::new(
            codes::CLIENT_IN_INITIAL_DOWNLOAD,
            "Bitcoin Core is in initial sync and waiting for blocks...",
        ));
    }
    let has_segwit = request
        .get("rules")
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|r| r.as_str() == Some("segwit")));
    if !has_segwit {
        return Err(RpcError::new(
            codes::INVALID_PARAMETER,
            "getblocktemplate must be called with the segwit rule set (call with {\"rules\": [\"segwit\"]})",
        ));
    }
    let mut use_cache = true;
    if let Some(lp) = request.get("longpollid").filter(|v| !v.is_null()) {
        let (hash, counter) = match lp.as_str() {
            Some(s) => parse_longpollid(s)?,
            None => shared.with_node(|n| (n.tip().hash, n.mempool_updates())),
        };
        wait_longpoll(shared, hash, counter).await;
        use_cache = false;
    }
    let template = shared.with_node(|n| n.block_template(use_cache));
    to_raw(&GbtResult::new(&template))
}

fn parse_longpollid(s: &str) -> Result<(BlockHash, u64), RpcError> {
    let bad = || {
        RpcError::new(
            codes::INVALID_PARAMETER,
            "longpollid must be a block hash followed by a number",
        )
    };
    let hash_part = s.get(..64).ok_or_else(bad)?;
    let hash = BlockHash::from_str(hash_part).map_err(|_| bad())?;
    let counter = s.get(64..).unwrap_or_default().parse::<u64>().unwrap_or(0);
    Ok((hash, counter))
}

/// Blocks until the tip is no longer `watched`, the mempool counter moved away from
/// `counter` (after the configured mempool delay), or the long-poll timeout passes.
async fn wait_longpoll(shared: &Shared, watched: BlockHash, counter: u64) {
    let start = Instant::now();
    let deadline = shared.longpoll.timeout.map(|t| start + t);
    let mempool_release = start + shared.longpoll.mempool_delay;
    loop {
        let mut rx = shared.subscribe();
        let (tip, updates) = shared.with_node(|n| (n.tip().hash, n.mempool_updates()));
        if tip != watched {
            return;
        }
        let now = Instant::now();
        let mempool_changed = updates != counter;
        if mempool_changed && now >= mempool_release {
            return;
        }
        if deadline.is_some_and(|d| now >= d) {
            return;
        }
        let wake = match (deadline, mempool_changed) {
            (Some(d), true) => Some(d.min(mempool_release)),
            (Some(d), false) => Some(d),
            (None, true) => Some(mempool_release),
            (None, false) => None,
        };
        match wake {
            Some(at) => {
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() { return },
                    () = tokio::time::sleep_until(at.into()) => {}
                }
            }
            None => {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

#[derive(Serialize)]
struct GbtTx {
    data: String,
    txid: String,
    hash: String,
    depends: Vec<usize>,
    fee: u64,
    sigops: u64,
    weight: u64,
}

#[derive(Serialize)]
struct GbtResult {
    capabilities: [&'static str; 1],
    version: i32,
    rules: [&'static str; 3],
    vbavailable: Map<String, Value>,
    vbrequired: u32,
    previousblockhash: String,
    transactions: Vec<GbtTx>,
    coinbaseaux: Map<String, Value>,
    coinbasevalue: u64,
    longpollid: String,
    target: String,
    mintime: u32,
    mutable: [&'static str; 3],
    noncerange: &'static str,
    sigoplimit: u64,
    sizelimit: u64,
    weightlimit: u64,
    curtime: u32,
    bits: String,
    height: u32,
    default_witness_commitment: String,
}

impl GbtResult {
    fn new(t: &BlockTemplate) -> Self {
        Self {
            capabilities: ["proposal"],
            version: t.version,
            rules: ["csv", "!segwit", "taproot"],
            vbavailable: Map::new(),
            vbrequired: 0,
            previousblockhash: t.prev_hash.to_string(),
            transactions: t
                .txs
                .iter()
                .map(|x| GbtTx {
                    data: serialize_hex(&*x.tx),
                    txid: x.txid.to_string(),
                    hash: x.wtxid.to_string(),
                    depends: x.depends.clone(),
                    fee: x.fee.to_sat(),
                    sigops: x.sigops,
                    weight: x.weight,
                })
                .collect(),
            coinbaseaux: Map::new(),
            coinbasevalue: t.coinbase_value.to_sat(),
            longpollid: t.longpollid.clone(),
            target: target_hex(t.bits),
            mintime: t.mintime,
            mutable: ["time", "transactions", "prevblock"],
            noncerange: "00000000ffffffff",
            sigoplimit: MAX_BLOCK_SIGOPS_COST,
            sizelimit: MAX_BLOCK_WEIGHT,
            weightlimit: MAX_BLOCK_WEIGHT,
            curtime: t.curtime,
            bits: bits_hex(t.bits),
            height: t.height,
            default_witness_commitment: hex::encode(t.witness_commitment.as_bytes()),
        }
    }
}

// ----- block and header queries -----

#[derive(Serialize)]
#[allow(non_snake_case)]
struct HeaderVerbose {
    hash: String,
    confirmations: i64,
    height: u32,
    version: i32,
    versionHex: String,
    merkleroot: String,
    time: u32,
    mediantime: u32,
    nonce: u32,
    bits: String,
    target: String,
    difficulty: CoreFloat,
    chainwork: String,
    nTx: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    previousblockhash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nextblockhash: Option<String>,
}

impl HeaderVerbose {
    fn new(node: &Node, entry: &BlockEntry, header: &bitcoin::block::Header) -> Self {
        let version = header.version.to_consensus();
        Self {
            hash: entry.hash.to_string(),
            confirmations: node.confirmations(entry),
            height: entry.height,
            version,
            versionHex: format!("{:08x}", version as u32),
            merkleroot: header.merkle_root.to_string(),
            time: header.time,
            mediantime: entry.median_time,
            nonce: header.nonce,
            bits: bits_hex(header.bits),
            target: target_hex(header.bits),
            difficulty: CoreFloat(difficulty_from_bits(header.bits)),
            chainwork: work_hex(entry.chainwork),
            nTx: entry.block.as_ref().map_or(0, |b| b.txdata.len()),
            previousblockhash: (entry.height > 0).then(|| header.prev_blockhash.to_string()),
            nextblockhash: node.next_hash(entry).map(|h| h.to_string()),
        }
    }
}

fn getblockheader(node: &Node, hash: &BlockHash, verbose: bool) -> Result<Box<RawValue>, RpcError> {
    let entry = node.entry(hash).ok_or_else(block_not_found)?;
    let header = entry.header.ok_or_else(header_not_available)?;
    if verbose {
        to_raw(&HeaderVerbose::new(node, entry, &header))
    } else {
        to_raw(&serialize_hex(&header))
    }
}

#[derive(Serialize)]
struct CoinbaseSummary {
    version: i32,
    locktime: u32,
    sequence: u32,
    coinbase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    witness: Option<String>,
}

#[derive(Serialize)]
struct BlockVerbose {
    #[serde(flatten)]
    header: HeaderVerbose,
    strippedsize: u64,
    size: usize,
    weight: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    coinbase_tx: Option<CoinbaseSummary>,
    tx: Vec<String>,
}

fn getblock(node: &Node, hash: &BlockHash, verbosity: i64) -> Result<Box<RawValue>, RpcError> {
    let entry = node.entry(hash).ok_or_else(block_not_found)?;
    let block = entry.block.as_ref().ok_or_else(header_not_available)?;
    match verbosity {
        0 => to_raw(&serialize_hex(block.as_ref())),
        1 => {
            let coinbase_tx = block.txdata.first().and_then(|cb| {
                let input = cb.input.first()?;
                Some(CoinbaseSummary {
                    version: cb.version.0,
                    locktime: cb.lock_time.to_consensus_u32(),
                    sequence: input.sequence.to_consensus_u32(),
                    coinbase: hex::encode(input.script_sig.as_bytes()),
                    witness: input.witness.nth(0).map(hex::encode),
                })
            });
            to_raw(&BlockVerbose {
                header: HeaderVerbose::new(node, entry, &block.header),
                strippedsize: stripped_size(block),
                size: block.total_size(),
                weight: block.weight().to_wu(),
                coinbase_tx,
                tx: block
                    .txdata
                    .iter()
                    .map(|t| t.compute_txid().to_string())
                    .collect(),
            })
        }
        _ => Err(RpcError::new(
            codes::INVALID_PARAMETER,
            format!("Verbosity {verbosity} is not supported by the bitcoind stand-in (use 0 or 1)"),
        )),
    }
}

// ----- status objects -----

#[derive(Serialize)]
struct BlockchainInfo {
    chain: &'static str,
    blocks: u32,
    headers: u32,
    bestblockhash: String,
    bits: String,
    target: String,
    difficulty: CoreFloat,
    time: u32,
    mediantime: u32,
    verificationprogress: CoreFloat,
    initialblockdownload: bool,
    chainwork: String,
    size_on_disk: u64,
    pruned: bool,
    warnings: Vec<String>,
}

impl BlockchainInfo {
    fn new(node: &Node) -> Self {
        let tip = node.tip_entry();
        Self {
            chain: "regtest",
            blocks: tip.height,
            headers: node.best_header_height(),
            bestblockhash: tip.hash.to_string(),
            bits: bits_hex(tip.bits),
            target: target_hex(tip.bits),
            difficulty: CoreFloat(difficulty_from_bits(tip.bits)),
            time: tip.time,
            mediantime: tip.median_time,
            verificationprogress: CoreFloat(if node.ibd() { 0.5 } else { 1.0 }),
            initialblockdownload: node.ibd(),
            chainwork: work_hex(tip.chainwork),
            size_on_disk: node.size_on_disk(),
            pruned: false,
            warnings: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct NetworkEntry {
    name: &'static str,
    limited: bool,
    reachable: bool,
    proxy: &'static str,
    proxy_randomize_credentials: bool,
}

#[derive(Serialize)]
struct NetworkInfo {
    version: u32,
    subversion: &'static str,
    protocolversion: u32,
    localservices: &'static str,
    localservicesnames: [&'static str; 4],
    localrelay: bool,
    timeoffset: i64,
    networkactive: bool,
    connections: u32,
    connections_in: u32,
    connections_out: u32,
    networks: Vec<NetworkEntry>,
    relayfee: BtcAmount,
    incrementalfee: BtcAmount,
    localaddresses: Vec<Value>,
    warnings: Vec<String>,
}

impl NetworkInfo {
    fn regtest() -> Self {
        let net = |name: &'static str, reachable: bool| NetworkEntry {
            name,
            limited: !reachable,
            reachable,
            proxy: "",
            proxy_randomize_credentials: false,
        };
        Self {
            version: 310100,
            subversion: "/Satoshi:31.1.0/",
            protocolversion: 70016,
            localservices: "0000000000000c09",
            localservicesnames: ["NETWORK", "WITNESS", "NETWORK_LIMITED", "P2P_V2"],
            localrelay: true,
            timeoffset: 0,
            networkactive: true,
            connections: 0,
            connections_in: 0,
            connections_out: 0,
            networks: vec![
                net("ipv4", true),
                net("ipv6", true),
                net("onion", false),
                net("i2p", false),
                net("cjdns", false),
            ],
            relayfee: BtcAmount(100),
            incrementalfee: BtcAmount(100),
            localaddresses: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct NextBlock {
    height: u32,
    bits: String,
    difficulty: CoreFloat,
    target: String,
}

#[derive(Serialize)]
struct MiningInfo {
    blocks: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    currentblockweight: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currentblocktx: Option<usize>,
    bits: String,
    difficulty: CoreFloat,
    target: String,
    networkhashps: CoreFloat,
    pooledtx: usize,
    blockmintxfee: BtcAmount,
    chain: &'static str,
    next: NextBlock,
    warnings: Vec<String>,
}

impl MiningInfo {
    fn new(node: &Node) -> Self {
        let tip = node.tip_entry();
        let stats = node.last_template_stats();
        Self {
            blocks: tip.height,
            currentblockweight: stats.map(|s| s.0),
            currentblocktx: stats.map(|s| s.1),
            bits: bits_hex(tip.bits),
            difficulty: CoreFloat(difficulty_from_bits(tip.bits)),
            target: target_hex(tip.bits),
            networkhashps: CoreFloat(node.network_hash_ps(120)),
            pooledtx: node.mempool_len(),
            blockmintxfee: BtcAmount(1),
            chain: "regtest",
            next: NextBlock {
                height: tip.height.saturating_add(1),
                bits: bits_hex(tip.bits),
                difficulty: CoreFloat(difficulty_from_bits(tip.bits)),
                target: target_hex(tip.bits),
            },
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str) -> &'static MethodSpec {
        METHODS.iter().find(|m| m.name == name).unwrap()
    }

    #[test]
    fn binding_reports_core_style_errors() {
        let e = bind(spec("getblockheader"), &Params::Positional(vec![json!(42)])).unwrap_err();
        assert_eq!(e.code, codes::TYPE_ERROR);
        assert_eq!(
            e.message,
            "Wrong type passed:\n{\n    \"Position 1 (blockhash)\": \"JSON value of type number is not of expected type string\"\n}"
        );
        let e = bind(
            spec("getbestblockhash"),
            &Params::Positional(vec![json!(1)]),
        )
        .unwrap_err();
        assert_eq!(e.code, codes::MISC_ERROR);
        assert!(e.message.starts_with("getbestblockhash\n"));
        let e = bind(spec("getblockhash"), &Params::Positional(vec![])).unwrap_err();
        assert_eq!(e.code, codes::MISC_ERROR);
        let mut named = Map::new();
        named.insert("bogus".into(), json!(1));
        let e = bind(spec("getblockhash"), &Params::Named(named)).unwrap_err();
        assert_eq!(e.code, codes::INVALID_PARAMETER);
        let mut named = Map::new();
        named.insert("height".into(), json!(3));
        assert_eq!(
            bind(spec("getblockhash"), &Params::Named(named)).unwrap(),
            vec![Some(json!(3))]
        );
    }

    #[test]
    fn hash_parsing_messages() {
        assert_eq!(
            parse_hash("blockhash", "nothex").unwrap_err().message,
            "blockhash must be of length 64 (not 6, for 'nothex')"
        );
        let bad = "z".repeat(64);
        assert_eq!(
            parse_hash("blockhash", &bad).unwrap_err().code,
            codes::INVALID_PARAMETER
        );
        assert!(parse_hash("blockhash", &"11".repeat(32)).is_ok());
    }

    #[test]
    fn longpollid_parsing() {
        let hash = "10c44329475e1e6263647e82c235de0de8ef83a8f4ffb0ffbbe79722e06af230";
        let (h, c) = parse_longpollid(&format!("{hash}152")).unwrap();
        assert_eq!(h.to_string(), hash);
        assert_eq!(c, 152);
        assert!(parse_longpollid("short").is_err());
    }

    #[test]
    fn decode_rejects_garbage() {
        assert_eq!(
            decode_block("00").unwrap_err().code,
            codes::DESERIALIZATION_ERROR
        );
        assert_eq!(
            decode_block("zz").unwrap_err().code,
            codes::DESERIALIZATION_ERROR
        );
    }
}
