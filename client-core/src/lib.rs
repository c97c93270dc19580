//! The offline reguide client that runs on a family member's phone.
//!
//! It keeps the family's data as an Automerge document in a local store, lets every family
//! operation work with no network, and syncs with the server when it can. It depends on
//! `reguide-protocol` for the document schema and write policy, and never on the server's stack
//! (diesel, actix, lettre): CI checks that.
//!
//! - [`store`]: the account's data folder — durable before an operation returns, crash-safe,
//!   optionally encrypted at rest.

pub mod store;

pub use reguide_protocol as protocol;
pub use store::{Store, StoreError};
