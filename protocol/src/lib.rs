//! What the reguide server and its clients agree on.
//!
//! Typed ids, roles, and the JSON wire types of the API. The family document schema, its write
//! policy and the sync wire types live here too as they arrive, so that the server and the
//! offline client check the very same rules. This crate does no I/O and depends on no other
//! crate of the workspace.

pub mod api;
pub mod appointments;
pub mod caseloads;
pub mod doc;
pub mod error;
pub mod family_days;
pub mod ids;
pub mod lang;
pub mod living_labs;
pub mod mail;
pub mod privacy;
pub mod roles;
pub mod steps;
pub mod sync;
pub mod time;
pub mod visits;

pub use error::ErrorBody;
pub use ids::*;
pub use lang::Language;
pub use roles::Role;
