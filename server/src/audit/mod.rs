//! The audit log: who did what to which object, when. Entries name accounts and objects by id
//! only, so the log itself holds no personal data and can outlive an erased account.

pub mod api;

use diesel::prelude::*;
use reguide_protocol::AccountId;

use crate::db::schema::audit_log;
use crate::db::{DbConn, now};
use crate::error::ApiResult;

/// What was acted on.
#[derive(Clone, Copy)]
pub struct Object<'a> {
    pub kind: &'static str,
    pub id: &'a dyn std::fmt::Display,
}

impl<'a> Object<'a> {
    pub fn new(kind: &'static str, id: &'a dyn std::fmt::Display) -> Self {
        Self { kind, id }
    }
}

impl std::fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// Writes one entry, in the caller's transaction so the entry and the action commit together.
pub fn record(
    conn: &mut DbConn,
    actor: Option<AccountId>,
    action: &str,
    object: Option<Object<'_>>,
) -> ApiResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(now()),
            audit_log::actor_account_id.eq(actor.map(|a| a.to_string())),
            audit_log::action.eq(action),
            audit_log::object_type.eq(object.map(|o| o.kind)),
            audit_log::object_id.eq(object.map(|o| o.id.to_string())),
        ))
        .execute(conn)?;
    Ok(())
}
