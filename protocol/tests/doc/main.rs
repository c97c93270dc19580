//! The family document on real Automerge documents: the write policy and convergence. One test
//! binary for the crate's integration tests keeps link time down.

mod convergence;
mod policy;
