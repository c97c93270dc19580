//! What the fuzz targets share: deterministic family documents to start from, arbitrary edits of
//! an Automerge document, the server's handling of a sync request (load the device's changes,
//! check them) and a way to tolerate the panics the server itself catches.
//!
//! Everything here is deterministic (fixed actors, ids and change times), so that an input that
//! holds encoded changes (a seed of the `sync_request` corpus) means the same on every run.

pub mod family;
pub mod ops;
pub mod panics;
pub mod server;
