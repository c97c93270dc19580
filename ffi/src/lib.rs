//! Bindings of `reguide-client-core` for the mobile shells (Kotlin on Android, Swift on iOS) and
//! for Python, which CI drives as a stand-in for a shell.
//!
//! This crate holds conversions and façades only: every rule lives in the client core. The
//! UniFFI surface (`Companion`, records, one error enum, a change listener) arrives with the FFI
//! work; until then the crate only fixes its place in the workspace.

pub use reguide_client_core as core;
