//! The public handle: start a stand-in, read its address and credentials, and steer it from
//! a test (mine, re-org, stall, go down, fill the mempool, inspect submissions).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::{Amount, Block, BlockHash, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::chain::{
    ChainStart, Node, NodeError, NodeSettings, Submission, SubmittedBlock, TipInfo,
};
use super::fixture::{FixtureError, TemplateFixture};
use super::server::{accept_loop, write_cookie, Command};
use super::shared::{Credentials, LongPollSettings, Shared, Stall};
use super::template::BlockTemplate;
use super::txgen::{FabricatedTx, TxFactory};

/// How to run a stand-in.
#[derive(Debug, Clone)]
pub struct StandInConfig {
    /// Address to listen on; port 0 picks a free port (see [`StandIn::addr`]).
    pub bind: SocketAddr,
    /// RPC user name.
    pub rpc_user: String,
    /// RPC password.
    pub rpc_password: String,
    /// If set, a `.cookie` file (`__cookie__:<hex>`) is written in this directory and the
    /// cookie credentials are accepted too. The file is removed when the stand-in stops.
    pub cookie_dir: Option<PathBuf>,
    /// Blocks to mine on top of the starting block before serving.
    pub premine: u32,
    /// Script the stand-in's own blocks pay to.
    pub coinbase_script: ScriptBuf,
    /// Return the current template from a long poll after this long even if nothing changed.
    pub longpoll_timeout: Option<Duration>,
    /// A mempool-only change wakes a long poll only after it has waited this long (Core: ~60 s).
    pub longpoll_mempool_delay: Duration,
    /// After a mempool-only change keep serving the previous template for this long (Core: 5 s).
    pub template_cache: Duration,
    /// Delay before the 401 answer to bad credentials (Core: 250 ms).
    pub auth_failure_delay: Duration,
    /// Fixed node time in UNIX seconds (like `bitcoind -mocktime`).
    pub mock_time: Option<u32>,
}

impl Default for StandInConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            rpc_user: "pool".to_owned(),
            rpc_password: "poolpass".to_owned(),
            cookie_dir: None,
            premine: 0,
            coinbase_script: default_coinbase_script(),
            longpoll_timeout: None,
            longpoll_mempool_delay: Duration::ZERO,
            template_cache: Duration::ZERO,
            auth_failure_delay: Duration::from_millis(250),
            mock_time: None,
        }
    }
}

/// The script the stand-in's own blocks pay to by default: P2WSH of `OP_TRUE`.
pub fn default_coinbase_script() -> ScriptBuf {
    ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::hash(&[0x51]))
}

/// Errors from starting or steering a stand-in.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    /// Binding the listener or writing the cookie failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A chain or mempool operation failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A template fixture could not be read.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// The server task has stopped.
    #[error("the stand-in server task is gone")]
    Stopped,
}

/// A running bitcoind stand-in. Dropping it stops the server and removes the cookie file.
/// All methods take `&self` and may be called from any thread.
#[derive(Debug)]
pub struct StandIn {
    shared: Arc<Shared>,
    addr: SocketAddr,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
    cookie_path: Option<PathBuf>,
    factory: Mutex<TxFactory>,
    rpc_user: String,
    rpc_password: String,
}

impl StandIn {
    /// Starts from the regtest genesis block plus `config.premine` blocks.
    pub async fn start(config: StandInConfig) -> Result<Self, StandInError> {
        Self::start_from(config, ChainStart::Genesis).await
    }

    /// Starts from `start` plus `config.premine` blocks.
    pub async fn start_from(
        config: StandInConfig,
        start: ChainStart,
    ) -> Result<Self, StandInError> {
        let settings = NodeSettings {
            coinbase_script: config.coinbase_script.clone(),
            template_cache: config.template_cache,
            mock_time: config.mock_time,
        };
        let mut node = Node::new(start, settings)?;
        node.premine(config.premine)?;
        Self::serve(config, node).await
    }

    /// Starts with the chain tip and mempool a captured `getblocktemplate` result describes
    /// (see [`TemplateFixture::parse`]) and the node clock fixed at its `curtime`, so blocks
    /// built from that template validate exactly as they did against bitcoind.
    pub async fn from_template_fixture(
        config: StandInConfig,
        template: &Value,
    ) -> Result<Self, StandInError> {
        let fixture = TemplateFixture::parse(template)?;
        let settings = NodeSettings {
            coinbase_script: config.coinbase_script.clone(),
            template_cache: config.template_cache,
            mock_time: Some(config.mock_time.unwrap_or(fixture.curtime)),
        };
        let mut node = Node::new(ChainStart::Anchor(Box::new(fixture.anchor)), settings)?;
        for (tx, fee, sigops) in fixture.mempool {
            node.add_mempool_tx(tx, fee, Some(sigops))
                .map_err(NodeError::from)?;
        }
        node.premine(config.premine)?;
        Self::serve(config, node).await
    }

    async fn serve(config: StandInConfig, node: Node) -> Result<Self, StandInError> {
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let (cookie_path, cookie) = match &config.cookie_dir {
            Some(dir) => {
                let (path, password) = write_cookie(dir)?;
                (Some(path), Some(password))
            }
            None => (None, None),
        };
        let credentials = Credentials {
            user: config.rpc_user.clone(),
            password: config.rpc_password.clone(),
            cookie,
        };
        let longpoll = LongPollSettings {
            timeout: config.longpoll_timeout,
            mempool_delay: config.longpoll_mempool_delay,
        };
        let shared = Arc::new(Shared::new(
            node,
            credentials,
            longpoll,
            config.auth_failure_delay,
        ));
        let (commands, rx) = mpsc::channel(4);
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), rx));
        Ok(Self {
            shared,
            addr,
            commands,
            task,
            cookie_path,
            factory: Mutex::new(TxFactory::new()),
            rpc_user: config.rpc_user,
            rpc_password: config.rpc_password,
        })
    }

    // ----- where and how to connect -----

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// RPC user name.
    pub fn rpc_user(&self) -> &str {
        &self.rpc_user
    }

    /// RPC password.
    pub fn rpc_password(&self) -> &str {
        &self.rpc_password
    }

    /// Path of the cookie file, if one was written.
    pub fn cookie_path(&self) -> Option<&Path> {
        self.cookie_path.as_deref()
    }

    // ----- chain control -----

    /// Mines one block with the mempool's transactions, as if another miner found it.
    /// Long polls wake. Returns the new tip hash.
    pub fn mine_block(&self) -> Result<BlockHash, StandInError> {
        Ok(self.shared.with_node(|n| n.mine_block(true))?)
    }

    /// Mines one coinbase-only block (the mempool is left alone).
    pub fn mine_empty_block(&self) -> Result<BlockHash, StandInError> {
        Ok(self.shared.with_node(|n| n.mine_block(false))?)
    }

    /// Mines `count` blocks with mempool transactions; returns their hashes.
    pub fn mine_blocks(&self, count: u32) -> Result<Vec<BlockHash>, StandInError> {
        (0..count).map(|_| self.mine_block()).collect()
    }

    /// Replaces the last `depth` blocks by a longer alternative branch of `depth + 1` blocks,
    /// so `getblockhash` changes for those heights. Returns the new tip.
    pub fn reorg(&self, depth: u32) -> Result<BlockHash, StandInError> {
        Ok(self.shared.with_node(|n| n.reorg(depth))?)
    }

    /// Tip summary.
    pub fn tip(&self) -> TipInfo {
        self.shared.with_node(|n| n.tip())
    }

    /// Active-chain hash at `height`.
    pub fn block_hash(&self, height: u32) -> Option<BlockHash> {
        self.shared.with_node(|n| n.hash_at(height))
    }

    /// A stored block (active or not), if its data is known.
    pub fn block(&self, hash: &BlockHash) -> Option<Block> {
        self.shared
            .with_node(|n| n.entry(hash).and_then(|e| e.block.as_deref().cloned()))
    }

    /// The template `getblocktemplate` would return now.
    pub fn block_template(&self) -> BlockTemplate {
        self.shared.with_node(|n| n.build_template())
    }

    /// Serves this chain's templates over the Template Distribution protocol (Noise with
    /// `keys`) on `listen`, as Bitcoin Core's SV2 template provider does; solutions are
    /// submitted like `submitblock` calls. Stops when the returned handle is dropped.
    pub async fn start_template_provider(
        &self,
        keys: sv2_noise::ServerKeys,
        listen: SocketAddr,
    ) -> Result<super::template_provider::TemplateProvider, StandInError> {
        Ok(super::template_provider::start(self.shared.clone(), keys, listen).await?)
    }

    /// Blocks accepted through `submitblock` (answer `null`), oldest first.
    pub fn submitted_blocks(&self) -> Vec<SubmittedBlock> {
        self.shared.with_node(|n| n.submitted_blocks().to_vec())
    }

    /// Every `submitblock` call and its answer, oldest first.
    pub fn submissions(&self) -> Vec<Submission> {
        self.shared.with_node(|n| n.submissions().to_vec())
    }

    // ----- mempool -----

    /// Adds a transaction paying `fee`. Its sigop cost is computed from the outputs it spends
    /// where the stand-in knows them (legacy sigops only otherwise). Long polls wake.
    pub fn add_mempool_tx(&self, tx: Transaction, fee: Amount) -> Result<Txid, StandInError> {
        Ok(self
            .shared
            .with_node(|n| n.add_mempool_tx(tx, fee, None))
            .map_err(NodeError::from)?)
    }

    /// Adds a transaction with an explicit sigop cost (e.g. from a captured template).
    pub fn add_mempool_tx_with_sigops(
        &self,
        tx: Transaction,
        fee: Amount,
        sigops: u64,
    ) -> Result<Txid, StandInError> {
        Ok(self
            .shared
            .with_node(|n| n.add_mempool_tx(tx, fee, Some(sigops)))
            .map_err(NodeError::from)?)
    }

    /// Adds a fabricated transaction (registering the coins it spends so its sigops are exact).
    pub fn add_fabricated(&self, fabricated: &FabricatedTx) -> Result<Txid, StandInError> {
        let prevouts: Vec<_> = fabricated
            .tx
            .input
            .iter()
            .map(|i| i.previous_output)
            .zip(fabricated.spent_outputs.iter().cloned())
            .collect();
        let sigops = fabricated.sigop_cost();
        let tx = fabricated.tx.clone();
        let fee = fabricated.fee;
        Ok(self
            .shared
            .with_node(|n| {
                n.register_prevouts(prevouts);
                n.add_mempool_tx(tx, fee, Some(sigops))
            })
            .map_err(NodeError::from)?)
    }

    /// Fabricates `count` transactions (mixed kinds, with parent/child chains) and adds them.
    pub fn add_random_mempool_txs(&self, count: usize) -> Result<Vec<Txid>, StandInError> {
        let batch = self
            .factory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .batch(count);
        batch.iter().map(|f| self.add_fabricated(f)).collect()
    }

    /// Makes coins known to the node (as if in its UTXO set), so `sendrawtransaction` of a
    /// transaction spending them can compute its fee. Tests use it to give a second stand-in
    /// the coins a transaction created on the first one spends.
    pub fn register_prevouts(&self, prevouts: impl IntoIterator<Item = (OutPoint, TxOut)>) {
        let prevouts: Vec<_> = prevouts.into_iter().collect();
        self.shared.with_node(|n| n.register_prevouts(prevouts));
    }

    /// Mempool txids, parents first.
    pub fn mempool_txids(&self) -> Vec<Txid> {
        self.shared.with_node(|n| n.mempool_txids())
    }

    // ----- failure injection -----

    /// RPC calls (including ones already waiting) hang for `duration` from now.
    pub fn stall(&self, duration: Duration) {
        self.shared
            .set_stall(Stall::Until(Instant::now() + duration));
    }

    /// RPC calls hang while `stalled` is true.
    pub fn set_stalled(&self, stalled: bool) {
        self.shared
            .set_stall(if stalled { Stall::Forever } else { Stall::Off });
    }

    /// `true`: close the listener and every open connection (connection refused);
    /// `false`: listen again on the same address.
    pub async fn set_down(&self, down: bool) -> Result<(), StandInError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::SetDown(down, tx))
            .await
            .map_err(|_| StandInError::Stopped)?;
        rx.await
            .map_err(|_| StandInError::Stopped)?
            .map_err(StandInError::Io)
    }

    /// Sets `initialblockdownload`; while true getblocktemplate fails with -10.
    pub fn set_ibd(&self, ibd: bool) {
        self.shared.with_node(|n| n.set_ibd(ibd));
    }

    /// Fixes the node clock (UNIX seconds) or returns it to the system clock.
    pub fn set_mock_time(&self, time: Option<u32>) {
        self.shared.with_node(|n| n.set_mock_time(time));
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(path) = &self.cookie_path {
            let _ = std::fs::remove_file(path);
        }
    }
}
