//! Requests about personal data (GDPR art. 15 and 17): the registry of requests (`privacy_requests`),
//! who may ask and who decides, and the copy of everything held about a family member
//! ([`export`]). The member or their social worker asks; an administrator carries the request
//! out or refuses it, and both are recorded in the audit log by the request's id only.

pub mod api;
pub mod erase;
pub mod export;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use reguide_protocol::privacy::{NewPrivacyRequest, PrivacyKind, PrivacyRequest, PrivacyState};
use reguide_protocol::{FamilyId, MemberId};
use uuid::Uuid;

use crate::audit::{self, Object};
use crate::auth::principal::{Principal, parse_id};
use crate::db::schema::{family_members, privacy_requests};
use crate::db::{DbConn, now, to_utc};
use crate::error::{ApiError, ApiResult};
use crate::families::access::family_not_found;

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

const COLUMNS: (
    privacy_requests::id,
    privacy_requests::kind,
    privacy_requests::member_id,
    privacy_requests::family_id,
    privacy_requests::state,
    privacy_requests::note,
    privacy_requests::created_at,
    privacy_requests::decided_at,
) = (
    privacy_requests::id,
    privacy_requests::kind,
    privacy_requests::member_id,
    privacy_requests::family_id,
    privacy_requests::state,
    privacy_requests::note,
    privacy_requests::created_at,
    privacy_requests::decided_at,
);

fn to_wire(row: Row) -> ApiResult<PrivacyRequest> {
    let (id, kind, member, family, state, note, created, decided) = row;
    let corrupt = || ApiError::internal(anyhow::anyhow!("privacy request with an unknown value"));
    Ok(PrivacyRequest {
        id: parse_id(&id)?,
        kind: PrivacyKind::parse(&kind).ok_or_else(corrupt)?,
        member_id: parse_id(&member)?,
        family_id: parse_id(&family)?,
        state: PrivacyState::parse(&state).ok_or_else(corrupt)?,
        note,
        created_at: to_utc(created),
        decided_at: decided.map(to_utc),
    })
}

pub fn request_not_found() -> ApiError {
    ApiError::not_found("privacy_request_not_found", "no such request")
}

/// The family of a member, or `None` when there is no such member.
pub fn family_of(conn: &mut DbConn, member: MemberId) -> ApiResult<Option<FamilyId>> {
    family_members::table
        .find(member.to_string())
        .select(family_members::family_id)
        .first::<String>(conn)
        .optional()?
        .map(|f| parse_id(&f))
        .transpose()
}

/// Who may ask about a member's data: the member themselves, the social workers of the
/// family's caseload and administrators. Anyone else is told the family does not exist.
pub fn require_may_ask(principal: &Principal, family: FamilyId, member: MemberId) -> ApiResult<()> {
    let is_self = principal.member_in(family) == Some(member);
    if is_self || principal.is_admin() || principal.has_in_caseload(family) {
        Ok(())
    } else {
        Err(family_not_found())
    }
}

/// Records a request (one open request per member and kind: asking again answers the open one).
pub fn ask(
    conn: &mut DbConn,
    principal: &Principal,
    new: &NewPrivacyRequest,
) -> ApiResult<PrivacyRequest> {
    let family = family_of(conn, new.member_id)?.ok_or_else(family_not_found)?;
    require_may_ask(principal, family, new.member_id)?;
    let note = crate::text::optional_line(new.note.as_deref().unwrap_or_default(), "note", 1000)?;
    let open: Option<Row> = privacy_requests::table
        .filter(privacy_requests::member_id.eq(new.member_id.to_string()))
        .filter(privacy_requests::kind.eq(new.kind.as_str()))
        .filter(privacy_requests::state.eq(PrivacyState::Open.as_str()))
        .select(COLUMNS)
        .first(conn)
        .optional()?;
    if let Some(row) = open {
        return to_wire(row);
    }
    let id = Uuid::new_v4();
    diesel::insert_into(privacy_requests::table)
        .values((
            privacy_requests::id.eq(id.to_string()),
            privacy_requests::kind.eq(new.kind.as_str()),
            privacy_requests::member_id.eq(new.member_id.to_string()),
            privacy_requests::family_id.eq(family.to_string()),
            privacy_requests::requested_by.eq(principal.account_id.to_string()),
            privacy_requests::state.eq(PrivacyState::Open.as_str()),
            privacy_requests::note.eq(&note),
            privacy_requests::created_at.eq(now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "privacy_request_made",
        Some(Object::new("privacy_request", &id)),
    )?;
    load(conn, id)
}

pub fn load(conn: &mut DbConn, id: Uuid) -> ApiResult<PrivacyRequest> {
    let row: Row = privacy_requests::table
        .find(id.to_string())
        .select(COLUMNS)
        .first(conn)
        .optional()?
        .ok_or_else(request_not_found)?;
    to_wire(row)
}

/// Every request, open ones first, for administrators.
pub fn list(conn: &mut DbConn, principal: &Principal) -> ApiResult<Vec<PrivacyRequest>> {
    principal.require_admin()?;
    let rows: Vec<Row> = privacy_requests::table
        .select(COLUMNS)
        .order(privacy_requests::created_at.desc())
        .limit(500)
        .load(conn)?;
    let mut list = rows
        .into_iter()
        .map(to_wire)
        .collect::<ApiResult<Vec<_>>>()?;
    list.sort_by_key(|r| r.state != PrivacyState::Open);
    Ok(list)
}

/// An open request, locked for its decision (PostgreSQL: a second decision waits and then
/// sees the first). Administrators only.
pub fn open_for_decision(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<PrivacyRequest> {
    principal.require_admin()?;
    if let DbConn::Postgres(pg) = conn {
        privacy_requests::table
            .find(id.to_string())
            .select(privacy_requests::id)
            .for_update()
            .first::<String>(pg)
            .optional()?;
    }
    let request = load(conn, id)?;
    if request.state != PrivacyState::Open {
        return Err(ApiError::conflict(
            "privacy_request_closed",
            "this request has been decided already",
        ));
    }
    Ok(request)
}

/// Closes a request as carried out or refused, by an administrator, recorded.
pub fn close(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
    state: PrivacyState,
    note: Option<&str>,
) -> ApiResult<()> {
    let mut update = diesel::update(privacy_requests::table.find(id.to_string()))
        .set((
            privacy_requests::state.eq(state.as_str()),
            privacy_requests::decided_at.eq(now()),
            privacy_requests::decided_by.eq(principal.account_id.to_string()),
        ))
        .execute(conn)?;
    if let Some(note) = note {
        update += diesel::update(privacy_requests::table.find(id.to_string()))
            .set(privacy_requests::note.eq(note))
            .execute(conn)?;
    }
    if update == 0 {
        return Err(request_not_found());
    }
    let action = match state {
        PrivacyState::Refused => "privacy_request_refused",
        _ => "privacy_request_done",
    };
    audit::record(
        conn,
        Some(principal.account_id),
        action,
        Some(Object::new("privacy_request", &id)),
    )
}

/// Refuses an open request, with the reason for the person who asked.
pub fn refuse(conn: &mut DbConn, principal: &Principal, id: Uuid, note: &str) -> ApiResult<()> {
    let note = crate::text::line(note, "note", 1000)?;
    open_for_decision(conn, principal, id)?;
    close(conn, principal, id, PrivacyState::Refused, Some(&note))
}

/// The names of members, with their family's label, for the requests that name them (a member
/// erased since has none).
pub fn member_names(
    conn: &mut DbConn,
    members: &[MemberId],
) -> ApiResult<std::collections::HashMap<MemberId, (String, String)>> {
    let ids: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    family_members::table
        .inner_join(crate::db::schema::families::table)
        .filter(family_members::id.eq_any(&ids))
        .select((
            family_members::id,
            family_members::display_name,
            crate::db::schema::families::label,
        ))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, name, label)| Ok((parse_id(&id)?, (name, label))))
        .collect()
}
