//! Criterion benches live in `benches/`; this library is intentionally empty.
