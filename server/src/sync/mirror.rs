//! The relational domains written into a family's document, as the server's actor.
//!
//! The relational tables are the server's record of what happened; the family document is how
//! the family's phones see it. Whatever changed a visit request or a family-day registration —
//! a coordinator's decision in the web admin, a staff cancellation, a family acting through the
//! JSON API, the server confirming automatically or promoting a waiting family — reaches the
//! document here, at the family's next sync, before the device's changes are applied (and again
//! after the projection has acted on them, so that its answers come back in the same round
//! trip). Staff actions record the staff account in the event.
//!
//! - **Visit requests** follow their relational history (`visit_events`) one to one: each
//!   history row becomes one server event *with the row's id*, so mirroring is idempotent (a row
//!   already in the document is skipped) and two instances that mirror the same row write the
//!   same event. A request the document does not have yet (made by phone at the desk, or through
//!   the API) is created in it first.
//! - **Family-day registrations** have a status, not a history: when the document's fold and the
//!   relational status differ, one server event brings the fold to it (`registered`,
//!   `waitlisted`, `cancelled`), naming the account that last changed the row.
//!
//! A decision that carries out an open family intent (a `withdrawn` or `cancelled` after a
//! `withdraw_requested` or `cancel_requested`, a confirmation after a `proposal_accepted`)
//! `refers_to` that intent, which answers it.
//!
//! Everything is written in one Automerge transaction per call: one change, or none when the
//! document is up to date.

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::Automerge;
use automerge::transaction::Transaction;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use reguide_protocol::doc::status::{
    RegistrationEventKind, RegistrationState, VisitEventKind, open_registration_intents,
    open_visit_intents, registration_status,
};
use reguide_protocol::doc::write::{EventList, append_event, put_entry};
use reguide_protocol::doc::{
    Author, DocRegistration, DocVisitRequest, Event, keys, read_collection, read_entry,
    schema::new_id,
};
use reguide_protocol::family_days::RegistrationStatus;
use reguide_protocol::visits::SlotChoice;
use reguide_protocol::{AccountId, FamilyId, MemberId};

use super::internal;
use crate::db::schema::{
    family_day_registrations as regs, family_members, visit_events, visit_requests,
};
use crate::db::{DbConn, to_utc};
use crate::error::ApiResult;
use crate::visits::requests;

/// What to mirror: the whole family, or one entry the projection just acted on.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    Family,
    VisitRequest(&'a str),
    Registration(&'a str),
}

/// The family's members as the mirror needs them: which accounts are the family's own (their
/// actions are not staff actions) and who to name as requester when no member asked.
struct Members {
    by_account: HashMap<String, MemberId>,
    first: Option<MemberId>,
}

impl Members {
    fn load(conn: &mut DbConn, family: FamilyId) -> ApiResult<Self> {
        let rows: Vec<(String, Option<String>)> = family_members::table
            .filter(family_members::family_id.eq(family.to_string()))
            .order(family_members::created_at.asc())
            .select((family_members::id, family_members::account_id))
            .load(conn)?;
        let mut by_account = HashMap::new();
        let mut first = None;
        for (id, account) in rows {
            let id: MemberId = id.parse().map_err(|e| internal("a stored member id", e))?;
            first.get_or_insert(id);
            if let Some(account) = account {
                by_account.insert(account, id);
            }
        }
        Ok(Self { by_account, first })
    }

    /// The staff account behind an action, or `None` for the family's own and the server's.
    fn staff(&self, actor: Option<&str>) -> ApiResult<Option<AccountId>> {
        match actor {
            Some(account) if !self.by_account.contains_key(account) => Ok(Some(
                account
                    .parse()
                    .map_err(|e| internal("a stored account id", e))?,
            )),
            _ => Ok(None),
        }
    }

    /// The member who asked: the acting account's member, else `fallback`, else the first.
    fn requester(&self, actor: Option<&str>, fallback: Option<MemberId>) -> Option<MemberId> {
        actor
            .and_then(|a| self.by_account.get(a).copied())
            .or(fallback)
            .or(self.first)
    }
}

/// Brings `doc` up to date with the relational records of `scope`, in one change.
pub fn mirror(
    conn: &mut DbConn,
    family: FamilyId,
    doc: &mut Automerge,
    scope: Scope<'_>,
) -> ApiResult<()> {
    // Only what the scope needs is read: hydrating a whole document costs with its size.
    let unreadable = |e| internal("reading a family document", e);
    let requests: BTreeMap<String, DocVisitRequest> = match scope {
        Scope::Family => read_collection(doc, keys::VISIT_REQUESTS).map_err(unreadable)?,
        Scope::VisitRequest(id) => read_entry(doc, keys::VISIT_REQUESTS, id)
            .map_err(unreadable)?
            .map(|entry| (id.to_owned(), entry))
            .into_iter()
            .collect(),
        Scope::Registration(_) => BTreeMap::new(),
    };
    let registered: BTreeMap<String, DocRegistration> = match scope {
        Scope::Family => {
            read_collection(doc, keys::FAMILY_DAY_REGISTRATIONS).map_err(unreadable)?
        }
        Scope::Registration(id) => read_entry(doc, keys::FAMILY_DAY_REGISTRATIONS, id)
            .map_err(unreadable)?
            .map(|entry| (id.to_owned(), entry))
            .into_iter()
            .collect(),
        Scope::VisitRequest(_) => BTreeMap::new(),
    };
    let members = Members::load(conn, family)?;
    let mut tx = doc.transaction();
    let written = match scope {
        Scope::Family => visit_requests(conn, family, &requests, &members, None, &mut tx)
            .and_then(|()| registrations(conn, family, &registered, &members, None, &mut tx)),
        Scope::VisitRequest(id) => {
            visit_requests(conn, family, &requests, &members, Some(id), &mut tx)
        }
        Scope::Registration(id) => {
            registrations(conn, family, &registered, &members, Some(id), &mut tx)
        }
    };
    match written {
        Ok(()) => {
            tx.commit();
            Ok(())
        }
        Err(e) => {
            tx.rollback();
            Err(e)
        }
    }
}

type HistoryRow = (
    String,
    String,
    NaiveDateTime,
    Option<String>,
    String,
    String,
);

fn millis(at: NaiveDateTime) -> i64 {
    to_utc(at).timestamp_millis()
}

fn visit_requests(
    conn: &mut DbConn,
    family: FamilyId,
    current: &BTreeMap<String, DocVisitRequest>,
    members: &Members,
    only: Option<&str>,
    tx: &mut Transaction<'_>,
) -> ApiResult<()> {
    let of_family = visit_requests::table
        .filter(visit_requests::family_id.eq(family.to_string()))
        .select(visit_requests::id);
    let mut query = visit_events::table
        .filter(visit_events::request_id.eq_any(of_family))
        .order((visit_events::request_id.asc(), visit_events::seq.asc()))
        .select((
            visit_events::id,
            visit_events::request_id,
            visit_events::at,
            visit_events::actor_account_id,
            visit_events::kind,
            visit_events::detail,
        ))
        .into_boxed();
    if let Some(id) = only {
        query = query.filter(visit_events::request_id.eq(id.to_owned()));
    }
    let rows: Vec<HistoryRow> = query.load(conn)?;
    let mut by_request: BTreeMap<&str, Vec<&HistoryRow>> = BTreeMap::new();
    for row in &rows {
        by_request.entry(row.1.as_str()).or_default().push(row);
    }
    for (request, history) in by_request {
        let (mut events, created_here) = match current.get(request) {
            Some(entry) => (entry.events.clone(), false),
            None => {
                let entry = new_request_entry(conn, request, history[0], members)?;
                put_entry(tx, keys::VISIT_REQUESTS, request, &entry)
                    .map_err(|e| internal("writing a visit request", e))?;
                // Its `requested` row becomes a server `requested` event below.
                (Vec::new(), true)
            }
        };
        let known: HashSet<String> = events.iter().map(|e| e.id.clone()).collect();
        for row in history {
            if known.contains(&row.0) {
                continue;
            }
            let Some(event) = history_event(row, &events, members, created_here)? else {
                continue;
            };
            append_event(tx, EventList::VisitRequest(request), &event)
                .map_err(|e| internal("writing a visit event", e))?;
            events.push(event);
        }
    }
    Ok(())
}

/// The document entry of a request made outside the document.
fn new_request_entry(
    conn: &mut DbConn,
    request: &str,
    first: &HistoryRow,
    members: &Members,
) -> ApiResult<DocVisitRequest> {
    let wire = requests::load_one(conn, request)?;
    let requested_by = members
        .requester(first.3.as_deref(), wire.visitors.first().copied())
        .ok_or_else(|| internal("a visit request", "its family has no member"))?;
    Ok(DocVisitRequest {
        id: request.to_owned(),
        detainee_id: wire.detainee_id,
        prison_id: wire.prison_id,
        visit_type: wire.visit_type,
        preferences: wire.preferences,
        visitors: wire.visitors,
        support_needs: wire.support_needs,
        support_note: wire.support_note,
        requested_by,
        created_at: wire.created_at.timestamp_millis(),
        events: Vec::new(),
    })
}

/// The server event for one history row; `None` for rows the document does not show (a
/// `requested` row of a request the family created in the document, which has its own).
fn history_event(
    row: &HistoryRow,
    events: &[Event],
    members: &Members,
    created_here: bool,
) -> ApiResult<Option<Event>> {
    use VisitEventKind as K;
    let (id, _, at, actor, kind, detail) = row;
    let detail: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
    let text = |key: &str| detail.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let slot = detail
        .get("slot")
        .and_then(|v| serde_json::from_value::<SlotChoice>(v.clone()).ok());
    // A decision that carries out an open family intent answers it.
    let answering = |intents: &[K]| {
        open_visit_intents(events)
            .into_iter()
            .find(|e| K::parse(&e.kind).is_some_and(|k| intents.contains(&k)))
            .map(|e| e.id.clone())
    };
    let (kind, detail, refers_to, slot) = match kind.as_str() {
        "requested" if created_here => (K::Requested, None, None, None),
        "requested" => return Ok(None),
        "confirmed" => (K::Confirmed, None, None, slot),
        "proposal_accepted" => (K::Confirmed, None, answering(&[K::ProposalAccepted]), slot),
        "waitlist_offer_accepted" => (K::WaitlistOfferAccepted, None, None, slot),
        "proposed" => (K::Proposed, None, None, slot),
        "declined" => (K::Declined, text("reason"), None, None),
        "withdrawn" => (
            K::Withdrawn,
            None,
            answering(&[K::WithdrawRequested, K::CancelRequested]),
            None,
        ),
        "cancelled" => (
            K::Cancelled,
            text("reason"),
            answering(&[K::CancelRequested, K::WithdrawRequested]),
            None,
        ),
        "amended" => (K::Amended, text("reason"), None, slot),
        "flagged" => (K::Flagged, text("blocked_date"), None, None),
        _ => return Ok(None),
    };
    Ok(Some(Event {
        id: id.clone(),
        kind: kind.as_str().to_owned(),
        at: millis(*at),
        by: Author::Server,
        staff_account: members.staff(actor.as_deref())?,
        detail,
        refers_to,
        slot,
    }))
}

type RegistrationRow = (
    String,
    String,
    i32,
    i32,
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

fn registrations(
    conn: &mut DbConn,
    family: FamilyId,
    current: &BTreeMap<String, DocRegistration>,
    members: &Members,
    only: Option<&str>,
    tx: &mut Transaction<'_>,
) -> ApiResult<()> {
    let mut query = regs::table
        .filter(regs::family_id.eq(family.to_string()))
        .order(regs::created_at.asc())
        .select((
            regs::id,
            regs::family_day_id,
            regs::adults,
            regs::children,
            regs::status,
            regs::created_by,
            regs::updated_by,
            regs::updated_at,
        ))
        .into_boxed();
    if let Some(id) = only {
        query = query.filter(regs::id.eq(id.to_owned()));
    }
    let rows: Vec<RegistrationRow> = query.load(conn)?;
    for (id, day, adults, children, status, created_by, updated_by, updated_at) in rows {
        let status = RegistrationStatus::parse(&status)
            .ok_or_else(|| internal("a stored registration", "unknown status"))?;
        let (target, kind) = match status {
            RegistrationStatus::Registered => (
                RegistrationState::Registered,
                RegistrationEventKind::Registered,
            ),
            RegistrationStatus::Waiting => (
                RegistrationState::Waiting,
                RegistrationEventKind::Waitlisted,
            ),
            RegistrationStatus::Cancelled => (
                RegistrationState::Cancelled,
                RegistrationEventKind::Cancelled,
            ),
        };
        let events = match current.get(&id) {
            Some(entry) => entry.events.clone(),
            None => {
                let entry = DocRegistration {
                    id: id.clone(),
                    family_day_id: day
                        .parse()
                        .map_err(|e| internal("a stored family day id", e))?,
                    adults: i64::from(adults),
                    children: i64::from(children),
                    requested_by: members
                        .requester(created_by.as_deref(), None)
                        .ok_or_else(|| internal("a registration", "its family has no member"))?,
                    events: Vec::new(),
                };
                put_entry(tx, keys::FAMILY_DAY_REGISTRATIONS, &id, &entry)
                    .map_err(|e| internal("writing a registration", e))?;
                Vec::new()
            }
        };
        // A family's open cancellation already folds to `cancelled`; it still needs the
        // server's word, which answers it.
        let refers_to = (kind == RegistrationEventKind::Cancelled)
            .then(|| {
                open_registration_intents(&events)
                    .first()
                    .map(|e| e.id.clone())
            })
            .flatten();
        if registration_status(&events) == target && refers_to.is_none() {
            continue;
        }
        let event = Event {
            id: new_id(),
            kind: kind.as_str().to_owned(),
            at: millis(updated_at),
            by: Author::Server,
            staff_account: members.staff(updated_by.as_deref())?,
            detail: None,
            refers_to,
            slot: None,
        };
        // The fold must land on the relational status, or every sync would append again.
        let mut after = events.clone();
        after.push(event.clone());
        if registration_status(&after) != target {
            tracing::warn!(
                registration = %id,
                "a registration's document status cannot follow its relational status"
            );
            continue;
        }
        append_event(tx, EventList::Registration(&id), &event)
            .map_err(|e| internal("writing a registration event", e))?;
    }
    Ok(())
}
