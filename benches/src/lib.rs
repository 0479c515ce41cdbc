//! Benchmarks crate: the criterion targets live in `benches/`; the swarm load generator comes with its own issue.
