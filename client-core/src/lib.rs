//! The offline reguide client that runs on a family member's phone.
//!
//! It keeps the family's data as an Automerge document in a local store, lets every family
//! operation work with no network, and syncs with the server when it can. It depends on
//! `reguide-protocol` for the document schema and write policy, and never on the server's stack
//! (diesel, actix, lettre): CI checks that.
//!
//! The store, operations and sync client arrive with the client-core work; today this crate
//! re-exports the shared protocol so the mobile bindings build against one surface.

pub use reguide_protocol as protocol;
