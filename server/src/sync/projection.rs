//! Projection of a family device's accepted changes into the relational domains, in the
//! sync's own write transaction, and the server's answers written back into the document.
//!
//! - A visit request new in this sync is entered with [`requests::create_with_id`] under the
//!   document's id (so that the relational row and the document entry map one to one); a
//!   family-day registration new in this sync likewise with [`days::register_with_id`] (on the
//!   waiting list when the day is full: the family asked offline and can still cancel).
//! - Open family intents (`withdraw_requested`, `cancel_requested`, `proposal_accepted` on
//!   visit requests, `cancel_requested` on registrations) are carried out. A withdrawal of a
//!   request the coordinator confirmed meanwhile becomes a cancellation (the family said it will
//!   not come; the prison's cut-off still applies).
//! - What the domains did comes back through [`mirror`] (an automatic confirmation, the
//!   `withdrawn`, `cancelled` or `confirmed` that answers an intent, a registration's
//!   `registered` or `waitlisted`); what they refused is answered here: a `declined` event whose
//!   `detail` is the error code for a new entry, an `intent_refused` with the code for an intent.
//!   Nothing refuses the sync itself except internal errors.
//!
//! An answered intent is not open any more, so a retried sync does nothing twice. The answers
//! are written on the copy that is about to be stored, with the server's actor.

use std::collections::{BTreeMap, BTreeSet};

use automerge::Automerge;
use chrono::{DateTime, Utc};
use reguide_protocol::doc::status::invitation_answer;
use reguide_protocol::doc::status::{
    RegistrationEventKind, VisitEventKind, open_registration_intents, open_visit_intents,
};
use reguide_protocol::doc::write::{EventList, put_entry_field, server_event};
use reguide_protocol::doc::{
    Appointment, Author, DocRegistration, DocVisitRequest, Event, Hydrate, Invitation, keys,
    read_collection, read_entry, touched_entries,
};
use reguide_protocol::family_days::NewRegistration;
use reguide_protocol::visits::{Channel, NewVisitRequest, VisitStatus};
use uuid::Uuid;

use super::mirror::{self, Scope};
use super::{Syncer, internal};
use crate::db::{DbConn, to_naive};
use crate::error::{ApiError, ApiResult};
use crate::family_days::{self as days, api::audit_promotions, api::check_registration};
use crate::visits::access::Party;
use crate::visits::requests::{self, Stored};
use crate::{appointments, mail};

/// Projects what `copy` adds to `base` and writes the server's answers into `copy`.
pub fn project(
    conn: &mut DbConn,
    who: Syncer,
    base: &Automerge,
    copy: &mut Automerge,
    patches: &[automerge::Patch],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let at = now.timestamp_millis();

    // Only the entries the device's changes touched are read (`None`: they cannot be told
    // apart, and every entry is). Open intents live only in entries a sync touched: each sync
    // answers those of its own entries before it is stored.
    let touched = touched_entries(patches);

    let requests: Vec<(String, Option<DocVisitRequest>)> =
        new_entries(base, copy, keys::VISIT_REQUESTS, touched.as_ref())?;
    for (key, request) in &requests {
        if let Some(request) = request {
            enter_request(conn, who, copy, key, request, now, at)?;
        }
    }
    for (key, _) in &requests {
        answer_visit_intents(conn, who, copy, key, now, at)?;
    }

    let registrations: Vec<(String, Option<DocRegistration>)> =
        new_entries(base, copy, keys::FAMILY_DAY_REGISTRATIONS, touched.as_ref())?;
    for (key, registration) in &registrations {
        if let Some(registration) = registration {
            enter_registration(conn, who, copy, key, registration, at)?;
        }
    }
    for (key, _) in &registrations {
        answer_registration_intents(conn, who, copy, key, now, at)?;
    }

    // Appointments the family proposed or answered, and its steps' due dates: the email they
    // cause (the worker's request with answer links, a confirmation, reminders).
    let appointments: Vec<(String, Option<Appointment>, Appointment)> =
        changed_entries(base, copy, keys::APPOINTMENTS, touched.as_ref())?;
    for (_, earlier, appointment) in appointments {
        let earlier = earlier.map(appointments::detail);
        let current = appointments::detail(appointment);
        mail::events::appointment(conn, who.family, earlier.as_ref(), &current, now)?;
    }
    let invitations: Vec<(String, Option<Invitation>, Invitation)> =
        changed_entries(base, copy, keys::INVITATIONS, touched.as_ref())?;
    answer_invitations(conn, who, copy, &invitations, now)?;
    let steps_touched = touched
        .as_ref()
        .is_none_or(|set| set.iter().any(|(c, _)| c == keys::STEPS));
    if steps_touched {
        let plan = mail::events::plan_step_reminders(copy, now)?;
        mail::events::step_reminders(conn, who.family, &plan)?;
    }
    Ok(())
}

/// The entries of `collection` in `copy` the projection looks at — those the device's changes
/// touched (`touched`), or all when that is not known — in key order, each with its content when
/// it is new in this sync (absent from `base`).
fn new_entries<T: Hydrate>(
    base: &Automerge,
    copy: &Automerge,
    collection: &str,
    touched: Option<&BTreeSet<(String, String)>>,
) -> ApiResult<Vec<(String, Option<T>)>> {
    let stored = |e| internal("reading the stored document", e);
    let synced = |e| internal("reading the synced document", e);
    let Some(touched) = touched else {
        let before: BTreeMap<String, T> = read_collection(base, collection).map_err(stored)?;
        let after: BTreeMap<String, T> = read_collection(copy, collection).map_err(synced)?;
        return Ok(after
            .into_iter()
            .map(|(key, entry)| {
                let new = !before.contains_key(&key);
                (key, new.then_some(entry))
            })
            .collect());
    };
    let mut entries = Vec::new();
    for (c, key) in touched {
        if c != collection {
            continue;
        }
        let after: Option<T> = read_entry(copy, collection, key).map_err(synced)?;
        let Some(after) = after else {
            continue;
        };
        let existed = has_entry(base, collection, key)
            .map_err(|e| internal("reading the stored document", e))?;
        entries.push((key.clone(), (!existed).then_some(after)));
    }
    Ok(entries)
}

/// Whether `collection` of `doc` has an entry `id`, without reading it.
fn has_entry(
    doc: &Automerge,
    collection: &str,
    id: &str,
) -> Result<bool, automerge::AutomergeError> {
    use automerge::ReadDoc;
    let Some((_, map)) = doc.get(automerge::ROOT, collection)? else {
        return Ok(false);
    };
    Ok(doc.get(&map, id)?.is_some())
}

/// The entries of `collection` that the device's changes touched (`touched`; all when that is
/// not known) and that changed in this sync, in key order, each as `base` had it (`None`: new)
/// and as `copy` has it. Only those entries are read: an appointment carries its whole history.
fn changed_entries<T: Hydrate + PartialEq>(
    base: &Automerge,
    copy: &Automerge,
    collection: &str,
    touched: Option<&BTreeSet<(String, String)>>,
) -> ApiResult<Vec<(String, Option<T>, T)>> {
    let stored = |e| internal("reading the stored document", e);
    let synced = |e| internal("reading the synced document", e);
    let entries: Vec<(String, Option<T>, T)> = match touched {
        None => {
            let mut before: BTreeMap<String, T> =
                read_collection(base, collection).map_err(stored)?;
            let after: BTreeMap<String, T> = read_collection(copy, collection).map_err(synced)?;
            after
                .into_iter()
                .map(|(key, entry)| {
                    let earlier = before.remove(&key);
                    (key, earlier, entry)
                })
                .collect()
        }
        Some(touched) => {
            let mut entries = Vec::new();
            for (c, key) in touched.iter().filter(|(c, _)| c == collection) {
                let Some(after) = read_entry(copy, c, key).map_err(synced)? else {
                    continue;
                };
                let before = read_entry(base, c, key).map_err(stored)?;
                entries.push((key.clone(), before, after));
            }
            entries
        }
    };
    Ok(entries
        .into_iter()
        .filter(|(_, before, after)| before.as_ref() != Some(after))
        .collect())
}

/// Living Lab answers new in this sync: each goes through the session's capacity and waiting
/// list like any other answer; the places it gives are written into the synced document (and,
/// for members of other families promoted meanwhile, into theirs). An answer the session no
/// longer takes (started, cancelled) stays in the document and changes nothing.
fn answer_invitations(
    conn: &mut DbConn,
    who: Syncer,
    copy: &mut Automerge,
    invitations: &[(String, Option<Invitation>, Invitation)],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    for (id, before, invitation) in invitations {
        let latest = invitation_answer(&invitation.answers);
        let earlier = before.as_ref().and_then(|i| invitation_answer(&i.answers));
        let Some(latest) = latest.filter(|l| Some(*l) != earlier) else {
            continue;
        };
        if !matches!(latest.by, Author::Member(m) if m == invitation.member_id) {
            continue;
        }
        let places = match crate::living_labs::answer(
            conn,
            id,
            latest.answer,
            latest.note.as_deref(),
            &[],
            now,
        ) {
            Ok((_, places)) => places,
            Err(e) if is_business(&e) => continue,
            Err(e) => return Err(e),
        };
        let (here, elsewhere): (Vec<_>, Vec<_>) = places
            .into_iter()
            .partition(|(family, ..)| *family == who.family);
        crate::living_labs::write_places(conn, &elsewhere)?;
        if !here.is_empty() {
            let mut tx = copy.transaction();
            for (_, invitation, word) in &here {
                put_entry_field(&mut tx, keys::INVITATIONS, invitation, "place", word)
                    .map_err(|e| internal("writing a place", e))?;
            }
            tx.commit();
        }
    }
    Ok(())
}

/// Whether an error is a domain saying no (answered in the document), rather than a failure of
/// the server (which aborts the sync).
fn is_business(e: &ApiError) -> bool {
    !matches!(e, ApiError::Internal(_) | ApiError::Unavailable(_))
}

/// A server event of `kind` at `at`, with `detail`.
fn answer(kind: &str, at: i64, detail: &str, refers_to: Option<&str>) -> Event {
    Event {
        detail: Some(detail.to_owned()),
        refers_to: refers_to.map(str::to_owned),
        ..Event::new(kind, at, Author::Server)
    }
}

fn append(copy: &mut Automerge, list: EventList<'_>, event: Event) -> ApiResult<()> {
    let mut tx = copy.transaction();
    server_event(&mut tx, list, event).map_err(|e| internal("writing a server event", e))?;
    tx.commit();
    Ok(())
}

fn load(conn: &mut DbConn, id: Uuid) -> ApiResult<Option<Stored>> {
    match requests::load_stored(conn, id) {
        Ok(stored) => Ok(Some(stored)),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Enters a request new in the document and writes what became of it.
fn enter_request(
    conn: &mut DbConn,
    who: Syncer,
    copy: &mut Automerge,
    key: &str,
    request: &DocVisitRequest,
    now: DateTime<Utc>,
    at: i64,
) -> ApiResult<()> {
    let declined = |code: &str| answer(VisitEventKind::Declined.as_str(), at, code, None);
    let Ok(id) = Uuid::parse_str(key) else {
        return append(
            copy,
            EventList::VisitRequest(key),
            declined("invalid_request_id"),
        );
    };
    if load(conn, id)?.is_none() {
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
            Err(e) if is_business(&e) => {
                return append(copy, EventList::VisitRequest(key), declined(e.code()));
            }
            Err(e) => return Err(e),
        }
    }
    // Already entered (by an earlier sync whose document was lost, say) or just now: either way
    // the document gets what the domain knows.
    mirror::mirror(conn, who.family, copy, Scope::VisitRequest(key))
}

/// Carries out the open family intents of one request, one at a time, answering each.
fn answer_visit_intents(
    conn: &mut DbConn,
    who: Syncer,
    copy: &mut Automerge,
    key: &str,
    now: DateTime<Utc>,
    at: i64,
) -> ApiResult<()> {
    use VisitEventKind as K;
    let Ok(id) = Uuid::parse_str(key) else {
        return Ok(());
    };
    // Each pass answers one intent (the mirror's decision refers to it, or a refusal does), so
    // this ends; the bound guards against a fold that would keep an answered intent open.
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
        let outcome = match K::parse(&intent.kind) {
            Some(K::WithdrawRequested | K::CancelRequested) => match stored.status {
                VisitStatus::Confirmed => {
                    requests::cancel(conn, &stored, Party::Family, None, who.account, now)
                }
                _ => requests::withdraw(conn, &stored, who.account, now),
            },
            Some(K::ProposalAccepted) => requests::accept_proposal(conn, &stored, who.account),
            _ => return Ok(()),
        };
        match outcome {
            Ok(()) => mirror::mirror(conn, who.family, copy, Scope::VisitRequest(key))?,
            Err(e) if is_business(&e) => append(
                copy,
                EventList::VisitRequest(key),
                answer(K::IntentRefused.as_str(), at, e.code(), Some(&intent.id)),
            )?,
            Err(e) => return Err(e),
        }
    }
    Err(internal(
        "answering visit intents",
        format!("request {key} keeps open intents"),
    ))
}

/// Enters a family-day registration new in the document and writes what became of it.
fn enter_registration(
    conn: &mut DbConn,
    who: Syncer,
    copy: &mut Automerge,
    key: &str,
    registration: &DocRegistration,
    at: i64,
) -> ApiResult<()> {
    let declined = |code: &str| answer(RegistrationEventKind::Declined.as_str(), at, code, None);
    let list = EventList::Registration(key);
    let Ok(id) = Uuid::parse_str(key) else {
        return append(copy, list, declined("invalid_registration_id"));
    };
    let outcome = (|| -> ApiResult<()> {
        let input = check_registration(NewRegistration {
            family_id: who.family,
            adults: i32::try_from(registration.adults).unwrap_or(i32::MAX),
            children: i32::try_from(registration.children).unwrap_or(i32::MAX),
            wait_if_full: true,
            note: None,
        })?;
        let day = days::lock_day(conn, registration.family_day_id)?;
        match days::load_registration(conn, id) {
            // Already entered by an earlier sync whose document was lost.
            Ok(_) => Ok(()),
            Err(ApiError::NotFound { .. }) => {
                days::register_with_id(conn, &day, &input, who.account, id).map(drop)
            }
            Err(e) => Err(e),
        }
    })();
    match outcome {
        Ok(()) => mirror::mirror(conn, who.family, copy, Scope::Registration(key)),
        Err(e) if is_business(&e) => append(copy, list, declined(e.code())),
        Err(e) => Err(e),
    }
}

/// Carries out the family's open cancellation of a registration, answering it.
fn answer_registration_intents(
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
    for _ in 0..64 {
        let registration: Option<DocRegistration> =
            read_entry(copy, keys::FAMILY_DAY_REGISTRATIONS, key)
                .map_err(|e| internal("reading a registration", e))?;
        let Some(registration) = registration else {
            return Ok(());
        };
        let Some(intent) = open_registration_intents(&registration.events)
            .first()
            .copied()
            .cloned()
        else {
            return Ok(());
        };
        let outcome = (|| -> ApiResult<()> {
            let day = days::lock_day(conn, registration.family_day_id)?;
            let row = days::registration_of_day(conn, &day, id)?;
            if row.family_id != who.family.to_string() {
                return Err(days::access::registration_not_found());
            }
            // The same rule as the family's cancellation through the API.
            if !day.registration_open(to_naive(now)) {
                return Err(days::registration_closed());
            }
            let promoted = days::cancel_registration(conn, &day, &row, who.account)?;
            audit_promotions(conn, &promoted)
        })();
        match outcome {
            Ok(()) => mirror::mirror(conn, who.family, copy, Scope::Registration(key))?,
            Err(ApiError::NotFound { .. }) => {
                // Declined when it was entered: nothing to cancel, and nothing will answer.
                append(
                    copy,
                    EventList::Registration(key),
                    answer(
                        RegistrationEventKind::IntentRefused.as_str(),
                        at,
                        "registration_not_found",
                        Some(&intent.id),
                    ),
                )?;
            }
            Err(e) if is_business(&e) => append(
                copy,
                EventList::Registration(key),
                answer(
                    RegistrationEventKind::IntentRefused.as_str(),
                    at,
                    e.code(),
                    Some(&intent.id),
                ),
            )?,
            Err(e) => return Err(e),
        }
    }
    Err(internal(
        "answering registration intents",
        format!("registration {key} keeps open intents"),
    ))
}
