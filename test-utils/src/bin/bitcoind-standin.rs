//! Runs the bitcoind regtest stand-in on its own, for demos and manual testing.
//!
//! ```text
//! bitcoind-standin --port 18443 --rpcuser pool --rpcpassword poolpass --premine 101 --mine-every 30
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use test_utils::bitcoind::{StandIn, StandInConfig};

/// A Bitcoin Core (regtest) JSON-RPC stand-in with an in-memory chain and mempool.
/// Prints a status line; a closed stdout (the reader went away) is not an error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[derive(Debug, Parser)]
#[command(name = "bitcoind-standin", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// RPC port (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = 18443)]
    port: u16,
    /// RPC user name.
    #[arg(long, default_value = "pool")]
    rpcuser: String,
    /// RPC password.
    #[arg(long, default_value = "poolpass")]
    rpcpassword: String,
    /// Also write a `.cookie` file into this directory and accept its credentials.
    #[arg(long)]
    datadir: Option<PathBuf>,
    /// Blocks to mine on top of genesis before serving.
    #[arg(long, default_value_t = 101)]
    premine: u32,
    /// Fabricated transactions to put in the mempool at start.
    #[arg(long, default_value_t = 0)]
    txs: usize,
    /// Mine a block (as "another miner") every this many seconds; 0 disables.
    #[arg(long, default_value_t = 0)]
    mine_every: u64,
    /// Fabricated transactions to add before each such block.
    #[arg(long, default_value_t = 0)]
    txs_per_block: usize,
    /// Answer long polls after this many seconds even if nothing changed.
    #[arg(long)]
    longpoll_timeout: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let config = StandInConfig {
        bind: SocketAddr::new(args.bind, args.port),
        rpc_user: args.rpcuser,
        rpc_password: args.rpcpassword,
        cookie_dir: args.datadir,
        premine: args.premine,
        longpoll_timeout: args.longpoll_timeout.map(Duration::from_secs),
        ..StandInConfig::default()
    };
    let node = StandIn::start(config).await?;
    if args.txs > 0 {
        node.add_random_mempool_txs(args.txs)?;
    }
    let tip = node.tip();
    say!("bitcoind-standin listening on {}", node.url());
    say!(
        "rpcuser={} rpcpassword={}",
        node.rpc_user(),
        node.rpc_password()
    );
    if let Some(cookie) = node.cookie_path() {
        say!("cookie file: {}", cookie.display());
    }
    say!("chain: regtest, tip {} at height {}", tip.hash, tip.height);

    let mut ticker =
        (args.mine_every > 0).then(|| tokio::time::interval(Duration::from_secs(args.mine_every)));
    if let Some(t) = ticker.as_mut() {
        t.tick().await; // the first tick fires immediately
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = async { if let Some(t) = ticker.as_mut() { t.tick().await; } else { std::future::pending::<()>().await } } => {
                if args.txs_per_block > 0 {
                    node.add_random_mempool_txs(args.txs_per_block)?;
                }
                let hash = node.mine_block()?;
                say!("mined block {} at height {}", hash, node.tip().height);
            }
        }
    }
    say!("shutting down");
    node.shutdown().await;
    Ok(())
}
