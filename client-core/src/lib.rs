//! The offline reguide client that runs on a family member's phone.
//!
//! It keeps the family's data as an Automerge document in a local store, lets every family
//! operation work with no network, and syncs with the server when it can. It depends on
//! `reguide-protocol` for the document schema and write policy, and never on the server's stack
//! (diesel, actix, lettre): CI checks that.
//!
//! - [`store`]: the account's data folder — durable before an operation returns, crash-safe,
//!   optionally encrypted at rest;
//! - [`Client`] ([`client`]): sign-in and enrolment, the session, logout (which wipes the
//!   folder);
//! - [`ops`]: typed reads of the family document and policy-checked writes;
//! - [`sync`]: `sync_now`, the sync state and the backoff a background scheduler follows;
//! - [`reference`]: prisons, rules, open slots and family days, cached with their age;
//! - [`agenda`]: the visits ahead with the prison's advice, and reminders for local
//!   notifications, in the family's time zone;
//! - [`waitlist`]: waiting lists of full visit slots (online), kept for offline reading.

pub mod agenda;
pub mod client;
pub mod error;
#[doc(hidden)]
pub mod fixture;
pub mod ops;
pub mod reference;
mod replay;
pub mod store;
pub mod sync;
pub mod waitlist;

pub use agenda::{Reminder, ReminderKind, UpcomingVisit};
pub use client::{Client, Session};
pub use error::{ClientError, ClientResult};
pub use ops::{FamilyData, Overview};
pub use reference::{PrisonReference, ReferenceCache};
pub use reguide_protocol as protocol;
pub use store::{Store, StoreError};
pub use sync::{SyncExchange, SyncNext, SyncOutcome, SyncReply, SyncState, SyncStatus};
pub use waitlist::{NewWaitlistRequest, WaitlistCache};
