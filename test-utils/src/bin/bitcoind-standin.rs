//! Standalone Bitcoin Core regtest stand-in.
fn main() {}
