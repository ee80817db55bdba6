//! State shared between the RPC server tasks and the test's control handle.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::chain::Node;

/// Long-poll behaviour.
#[derive(Debug, Clone, Copy)]
pub struct LongPollSettings {
    /// A long poll returns the current template after this long even if nothing changed
    /// (`None`: wait until something changes, like Core).
    pub timeout: Option<Duration>,
    /// A mempool-only change releases a long poll once it has waited at least this long
    /// (Core: about a minute; the stand-in defaults to zero, i.e. immediately).
    pub mempool_delay: Duration,
}

/// Whether RPC calls currently hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// Calls are answered.
    Off,
    /// Calls hang until this instant.
    Until(Instant),
    /// Calls hang until the stall is lifted.
    Forever,
}

/// Accepted credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `-rpcuser`.
    pub user: String,
    /// `-rpcpassword`.
    pub password: String,
    /// Cookie password (user `__cookie__`), when a cookie file was written.
    pub cookie: Option<String>,
}

impl Credentials {
    /// Whether `user:password` may call the RPC server.
    pub fn accepts(&self, user: &str, password: &str) -> bool {
        (user == self.user && password == self.password)
            || self
                .cookie
                .as_deref()
                .is_some_and(|c| user == super::server::COOKIE_USER && password == c)
    }
}

/// Everything the server and the handle share.
#[derive(Debug)]
pub struct Shared {
    node: Mutex<Node>,
    events: watch::Sender<u64>,
    stall: watch::Sender<Stall>,
    /// Accepted credentials.
    pub credentials: Credentials,
    /// Long-poll behaviour.
    pub longpoll: LongPollSettings,
    /// Delay before answering a request with bad credentials (Core: 250 ms).
    pub auth_failure_delay: Duration,
}

impl Shared {
    /// Shared state around `node`.
    pub fn new(
        node: Node,
        credentials: Credentials,
        longpoll: LongPollSettings,
        auth_failure_delay: Duration,
    ) -> Self {
        Self {
            node: Mutex::new(node),
            events: watch::channel(0).0,
            stall: watch::channel(Stall::Off).0,
            credentials,
            longpoll,
            auth_failure_delay,
        }
    }

    /// Runs `f` on the node; wakes long pollers if the tip or the mempool changed.
    pub fn with_node<R>(&self, f: impl FnOnce(&mut Node) -> R) -> R {
        let mut node = self.node.lock().unwrap_or_else(PoisonError::into_inner);
        let before = (node.tip().hash, node.mempool_updates());
        let result = f(&mut node);
        let after = (node.tip().hash, node.mempool_updates());
        drop(node);
        if before != after {
            self.events
                .send_modify(|generation| *generation = generation.wrapping_add(1));
        }
        result
    }

    /// A receiver that sees every tip or mempool change from now on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }

    /// Sets the stall state.
    pub fn set_stall(&self, stall: Stall) {
        self.stall.send_replace(stall);
    }

    /// Waits while RPC calls are stalled.
    pub async fn wait_unstalled(&self) {
        let mut rx = self.stall.subscribe();
        loop {
            let stall = *rx.borrow_and_update();
            match stall {
                Stall::Off => return,
                Stall::Until(at) if at <= Instant::now() => return,
                Stall::Until(at) => {
                    tokio::select! {
                        changed = rx.changed() => if changed.is_err() { return },
                        () = tokio::time::sleep_until(at.into()) => {}
                    }
                }
                Stall::Forever => {
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
