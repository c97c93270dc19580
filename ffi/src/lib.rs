//! Bindings of `reguide-client-core` for the mobile shells (Kotlin on Android, Swift on iOS) and
//! for Python, which CI drives as a stand-in for a shell. Generated with UniFFI from the
//! proc-macros here (no UDL): `uniffi-bindgen generate --library libreguide_ffi.so`.
//!
//! This crate holds conversions and façades only: every rule lives in the client core.
//!
//! - [`Companion`]: one family member's account on the device, with every operation;
//! - [`CompanionListener`]: what the shell registers to hear that data or sync state changed;
//! - [`CompanionError`]: the one error the shells see, converted in one place
//!   (`error.rs`); no panic crosses the boundary: one inside becomes `Internal`;
//! - `records.rs`: the plain records and enums.

mod companion;
mod error;
mod records;

pub use companion::{Companion, CompanionListener, SessionInfo};
pub use error::{CompanionError, CompanionResult};
pub use records::*;

uniffi::setup_scaffolding!();
