//! A visit request's history: an append-only list of who did what, when.

use diesel::prelude::*;
use reguide_protocol::AccountId;
use reguide_protocol::visits::VisitEvent;

use crate::auth::principal::parse_id;
use crate::db::schema::visit_events;
use crate::db::{DbConn, now, to_utc};
use crate::error::ApiResult;

/// Appends an event; `actor` is `None` for the system (automatic confirmation, expiry). The
/// email the event causes is written with it ([`crate::mail::events::visit`]).
pub fn append(
    conn: &mut DbConn,
    request: &str,
    actor: Option<AccountId>,
    kind: &str,
    detail: serde_json::Value,
) -> ApiResult<()> {
    let last: Option<i32> = visit_events::table
        .filter(visit_events::request_id.eq(request))
        .select(diesel::dsl::max(visit_events::seq))
        .first(conn)?;
    diesel::insert_into(visit_events::table)
        .values((
            visit_events::id.eq(uuid::Uuid::new_v4().to_string()),
            visit_events::request_id.eq(request),
            visit_events::seq.eq(last.unwrap_or(0) + 1),
            visit_events::at.eq(now()),
            visit_events::actor_account_id.eq(actor.map(|a| a.to_string())),
            visit_events::kind.eq(kind),
            visit_events::detail.eq(detail.to_string()),
        ))
        .execute(conn)?;
    // The family hears of what matters, in the same transaction.
    crate::mail::events::visit(conn, request, kind, chrono::Utc::now())
}

pub fn load(conn: &mut DbConn, request: &str) -> ApiResult<Vec<VisitEvent>> {
    visit_events::table
        .filter(visit_events::request_id.eq(request))
        .order(visit_events::seq.asc())
        .select((
            visit_events::seq,
            visit_events::at,
            visit_events::actor_account_id,
            visit_events::kind,
            visit_events::detail,
        ))
        .load::<(i32, chrono::NaiveDateTime, Option<String>, String, String)>(conn)?
        .into_iter()
        .map(|(seq, at, actor, kind, detail)| {
            Ok(VisitEvent {
                seq,
                at: to_utc(at),
                actor_account_id: actor.as_deref().map(parse_id).transpose()?,
                kind,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect()
}
