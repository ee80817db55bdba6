//! Test utilities for the pool's end-to-end tests.
#![deny(missing_docs)]
