//! Prison visits: rules per prison and visit type, weekly session templates, blocked dates,
//! slots computed in the prison's time zone, visitor lists, visit requests and their decisions,
//! the waiting list, and coordinators' day lists. Capacity is enforced inside the database
//! transaction, so no slot is ever overbooked.

pub mod access;
pub mod api;
pub mod dayview;
pub mod history;
pub mod names;
pub mod prison_api;
pub mod requests;
pub mod rules;
pub mod slots;
pub mod visitors;
pub mod waitlist;
