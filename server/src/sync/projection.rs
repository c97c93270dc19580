//! Projection of a family device's accepted changes into the relational visits domain, in the
//! sync's own write transaction, and the server's answers written back into the document.
//!
//! - A visit request new in this sync is entered with [`requests::create_with_id`] under the
//!   document's id (so that the relational row and the document entry map one to one). An
//!   automatic confirmation comes back as a server `confirmed` event with the slot; a request
//!   the rules refuse comes back as a server `declined` event whose `detail` is the error code.
//!   Nothing refuses the sync itself except internal errors.
//! - Open family intents (`withdraw_requested`, `cancel_requested`, `proposal_accepted`) on
//!   requests that exist relationally are carried out and answered with a server event that
//!   `refers_to` them (`withdrawn`, `cancelled`, `confirmed`), or `intent_refused` with the
//!   code. An answered intent is not open any more, so a retried sync does nothing twice.
//!
//! The answers are written on the copy that is about to be stored, with the server's actor.

use automerge::Automerge;
use chrono::{DateTime, Utc};
use reguide_protocol::doc::status::{VisitEventKind, open_visit_intents};
use reguide_protocol::doc::write::{EventList, server_event};
use reguide_protocol::doc::{Author, DocVisitRequest, Event, FamilyDoc, keys, read_entry};
use reguide_protocol::visits::{Channel, NewVisitRequest, SlotChoice, VisitStatus};
use uuid::Uuid;

use super::{Syncer, internal};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::visits::access::Party;
use crate::visits::requests::{self, Stored};
use crate::visits::slots;

/// Projects what `copy` adds to `base` and writes the server's answers into `copy`.
pub fn project(
    conn: &mut DbConn,
    who: Syncer,
    base: &Automerge,
    copy: &mut Automerge,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let before = FamilyDoc::read(base).map_err(|e| internal("reading the stored document", e))?;
    let after = FamilyDoc::read(copy).map_err(|e| internal("reading the synced document", e))?;
    let at = now.timestamp_millis();

    for (key, request) in &after.visit_requests {
        if before.visit_requests.contains_key(key) {
            continue;
        }
        if let Some(event) = enter_request(conn, who, key, request, now, at)? {
            append(copy, key, event)?;
        }
    }

    for key in after.visit_requests.keys() {
        answer_intents(conn, who, copy, key, now, at)?;
    }
    Ok(())
}

/// Whether an error is the visits domain saying no (answered in the document), rather than a
/// failure of the server (which aborts the sync).
fn is_business(e: &ApiError) -> bool {
    !matches!(e, ApiError::Internal(_) | ApiError::Unavailable(_))
}

fn decision(kind: VisitEventKind, at: i64) -> Event {
    Event::new(kind.as_str(), at, Author::Server)
}

fn append(copy: &mut Automerge, key: &str, event: Event) -> ApiResult<()> {
    let mut tx = copy.transaction();
    server_event(&mut tx, EventList::VisitRequest(key), event)
        .map_err(|e| internal("writing a server event", e))?;
    tx.commit();
    Ok(())
}

/// The slot a stored request holds, as the document names slots.
fn slot_of(stored: &Stored) -> ApiResult<Option<SlotChoice>> {
    stored
        .slot
        .as_deref()
        .map(|key| {
            let (template_id, date, _) = slots::parse_slot_key(key)?;
            Ok(SlotChoice { template_id, date })
        })
        .transpose()
}

fn load(conn: &mut DbConn, id: Uuid) -> ApiResult<Option<Stored>> {
    match requests::load_stored(conn, id) {
        Ok(stored) => Ok(Some(stored)),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Enters a request new in the document; returns the server's answer to write, if any.
fn enter_request(
    conn: &mut DbConn,
    who: Syncer,
    key: &str,
    request: &DocVisitRequest,
    now: DateTime<Utc>,
    at: i64,
) -> ApiResult<Option<Event>> {
    let declined = |code: &str| Event {
        detail: Some(code.to_owned()),
        ..decision(VisitEventKind::Declined, at)
    };
    let Ok(id) = Uuid::parse_str(key) else {
        return Ok(Some(declined("invalid_request_id")));
    };
    if load(conn, id)?.is_some() {
        // Already entered (by an earlier sync whose document was lost, say): nothing to redo.
        return Ok(None);
    }
    let new = NewVisitRequest {
        family_id: who.family,
        detainee_id: request.detainee_id,
        visit_type: request.visit_type,
        preferences: request.preferences.clone(),
        visitors: request.visitors.clone(),
        support_needs: request.support_needs.clone(),
        support_note: request.support_note.clone(),
        channel: Some(Channel::App),
    };
    match requests::create_with_id(conn, &new, Party::Family, who.account, now, id) {
        Ok(_) => {}
        Err(e) if is_business(&e) => return Ok(Some(declined(e.code()))),
        Err(e) => return Err(e),
    }
    let stored = requests::load_stored(conn, id)?;
    Ok(match stored.status {
        VisitStatus::Confirmed => Some(Event {
            slot: slot_of(&stored)?,
            ..decision(VisitEventKind::Confirmed, at)
        }),
        _ => None,
    })
}

/// Carries out the open family intents of one request, one at a time, answering each.
fn answer_intents(
    conn: &mut DbConn,
    who: Syncer,
    copy: &mut Automerge,
    key: &str,
    now: DateTime<Utc>,
    at: i64,
) -> ApiResult<()> {
    let Ok(id) = Uuid::parse_str(key) else {
        return Ok(());
    };
    // Each pass answers one intent, so this ends; the bound is a guard against a fold that
    // would keep an answered intent open.
    for _ in 0..64 {
        let request: Option<DocVisitRequest> = read_entry(copy, keys::VISIT_REQUESTS, key)
            .map_err(|e| internal("reading a visit request", e))?;
        let Some(request) = request else {
            return Ok(());
        };
        let Some(intent) = open_visit_intents(&request.events)
            .first()
            .copied()
            .cloned()
        else {
            return Ok(());
        };
        let Some(stored) = load(conn, id)? else {
            return Ok(());
        };
        let refused = |e: &ApiError| Event {
            refers_to: Some(intent.id.clone()),
            detail: Some(e.code().to_owned()),
            ..decision(VisitEventKind::IntentRefused, at)
        };
        let answered = |kind: VisitEventKind| Event {
            refers_to: Some(intent.id.clone()),
            ..decision(kind, at)
        };
        let outcome = match VisitEventKind::parse(&intent.kind) {
            Some(VisitEventKind::WithdrawRequested) => {
                requests::withdraw(conn, &stored, who.account, now)
                    .map(|()| answered(VisitEventKind::Withdrawn))
            }
            Some(VisitEventKind::CancelRequested) => {
                requests::cancel(conn, &stored, Party::Family, None, who.account, now)
                    .map(|()| answered(VisitEventKind::Cancelled))
            }
            Some(VisitEventKind::ProposalAccepted) => {
                requests::accept_proposal(conn, &stored, who.account).and_then(|()| {
                    let stored = requests::load_stored(conn, id)?;
                    Ok(Event {
                        slot: slot_of(&stored)?,
                        ..answered(VisitEventKind::Confirmed)
                    })
                })
            }
            _ => return Ok(()),
        };
        let event = match outcome {
            Ok(event) => event,
            Err(e) if is_business(&e) => refused(&e),
            Err(e) => return Err(e),
        };
        append(copy, key, event)?;
    }
    Err(internal(
        "answering visit intents",
        format!("request {key} keeps open intents"),
    ))
}
