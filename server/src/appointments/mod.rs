//! Appointments between a family and a social worker, in the family's document: either side
//! proposes; the other accepts, declines, accepts tentatively or proposes another time. The
//! family answers in the app (offline, through the document); the worker through the API, which
//! the server writes into the document as itself, naming the worker. The same people see them
//! as a family's steps (`crate::steps::access`).

pub mod api;

use automerge::transaction::Transaction;
use chrono::{DateTime, Utc};
use reguide_protocol::AccountId;
use reguide_protocol::appointments::{
    AppointmentAnswerRequest, AppointmentDetail, AppointmentReply, NewAppointmentRequest,
};
use reguide_protocol::doc::status::{AppointmentEventKind, appointment_status, event_order};
use reguide_protocol::doc::write::{EventList, put_entry, server_event};
use reguide_protocol::doc::{Appointment, Author, Event, keys, new_id, read_entry};
use reguide_protocol::steps::HistoryEntry;

use crate::error::{ApiError, ApiResult};
use crate::text::line;

fn doc_error(e: reguide_protocol::doc::DocError) -> ApiError {
    ApiError::internal(anyhow::anyhow!("writing an appointment: {e}"))
}

pub fn not_found() -> ApiError {
    ApiError::not_found(
        "appointment_not_found",
        "this family has no such appointment",
    )
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// An appointment may be set from an hour ago (a late entry) up to a year ahead.
fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> ApiResult<i64> {
    if at < now - chrono::Duration::hours(1) || at > now + chrono::Duration::days(366) {
        return Err(ApiError::invalid(
            "invalid_time",
            "starts_at",
            "an appointment is set within the coming year",
        ));
    }
    Ok(at.timestamp_millis())
}

/// The latest `proposed` event: who proposed what stands now.
fn last_proposal(events: &[Event]) -> Option<&Event> {
    events
        .iter()
        .filter(|e| e.kind == AppointmentEventKind::Proposed.as_str())
        .max_by(|a, b| event_order(a, b))
}

pub fn detail(appointment: Appointment) -> AppointmentDetail {
    let status = appointment_status(&appointment.events);
    let proposed_by = match last_proposal(&appointment.events).map(|e| e.by) {
        Some(Author::Member(_)) => "family",
        _ => "worker",
    };
    let mut history: Vec<HistoryEntry> = appointment
        .events
        .iter()
        .map(|e| HistoryEntry {
            at: instant(e.at),
            kind: e.kind.clone(),
            detail: e.detail.clone(),
            by: e.by.to_text(),
            staff_account: e.staff_account,
        })
        .collect();
    history.sort_by_key(|h| h.at);
    AppointmentDetail {
        id: appointment.id,
        with_account: appointment.with_account,
        starts_at: instant(appointment.starts_at),
        place: appointment.place,
        purpose: appointment.purpose,
        step_id: appointment.step_id,
        status,
        proposed_by: proposed_by.to_owned(),
        history,
    }
}

/// One appointment of a document, as the API shows it.
pub fn one(doc: &automerge::Automerge, id: &str) -> ApiResult<AppointmentDetail> {
    read_entry::<Appointment, _>(doc, keys::APPOINTMENTS, id)
        .map_err(doc_error)?
        .map(detail)
        .ok_or_else(not_found)
}

/// Every appointment of a document, soonest first.
pub fn all(doc: &automerge::Automerge) -> ApiResult<Vec<AppointmentDetail>> {
    let map: std::collections::BTreeMap<String, Appointment> =
        reguide_protocol::doc::read_collection(doc, keys::APPOINTMENTS).map_err(doc_error)?;
    let mut list: Vec<AppointmentDetail> = map.into_values().map(detail).collect();
    list.sort_by_key(|a| a.starts_at);
    Ok(list)
}

fn staff_event(
    kind: AppointmentEventKind,
    staff: AccountId,
    at: i64,
    note: Option<String>,
) -> Event {
    let mut event = Event::new(kind.as_str(), at, Author::Server);
    event.staff_account = Some(staff);
    event.detail = note;
    event
}

/// A worker proposes an appointment with themself; returns its id.
pub fn propose(
    tx: &mut Transaction<'_>,
    request: NewAppointmentRequest,
    staff: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let starts_at = when(request.starts_at, now)?;
    let place = line(&request.place, "place", 300)?;
    let purpose = line(&request.purpose, "purpose", 300)?;
    if let Some(step) = &request.step_id {
        read_entry::<reguide_protocol::doc::StepSummary, _>(tx, keys::STEPS, step)
            .map_err(doc_error)?
            .ok_or_else(|| ApiError::invalid("step_not_found", "step_id", "no such step"))?;
    }
    let id = new_id();
    let entry = Appointment {
        id: id.clone(),
        with_account: staff,
        starts_at,
        place,
        purpose,
        step_id: request.step_id,
        events: vec![staff_event(
            AppointmentEventKind::Proposed,
            staff,
            now.timestamp_millis(),
            None,
        )],
    };
    put_entry(tx, keys::APPOINTMENTS, &id, &entry).map_err(doc_error)?;
    Ok(id)
}

/// The worker the appointment is with answers it.
pub fn answer(
    tx: &mut Transaction<'_>,
    id: &str,
    request: AppointmentAnswerRequest,
    staff: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let appointment = read_entry::<Appointment, _>(tx, keys::APPOINTMENTS, id)
        .map_err(doc_error)?
        .ok_or_else(not_found)?;
    if appointment.with_account != staff {
        return Err(ApiError::Forbidden(
            "only the social worker the appointment is with answers it".into(),
        ));
    }
    let note = request
        .note
        .as_deref()
        .map(|n| line(n, "note", 500))
        .transpose()?;
    let status = appointment_status(&appointment.events);
    if status == reguide_protocol::doc::status::AppointmentStatus::Cancelled {
        return Err(ApiError::conflict(
            "appointment_cancelled",
            "this appointment was called off",
        ));
    }
    let family_proposed = last_proposal(&appointment.events).is_some_and(|e| !e.by.is_server());
    let at = now.timestamp_millis();
    let list = EventList::Appointment(id);
    let kind = match request.answer {
        AppointmentReply::Cancelled => AppointmentEventKind::Cancelled,
        AppointmentReply::OtherTime => {
            let starts = request.starts_at.ok_or_else(|| {
                ApiError::invalid("invalid_value", "starts_at", "give the other time")
            })?;
            let starts = when(starts, now)?;
            let place = request
                .place
                .as_deref()
                .map(|p| line(p, "place", 300))
                .transpose()?;
            reguide_protocol::doc::write::put_entry_field(
                tx,
                keys::APPOINTMENTS,
                id,
                "starts_at",
                &starts,
            )
            .map_err(doc_error)?;
            if let Some(place) = place {
                reguide_protocol::doc::write::put_entry_field(
                    tx,
                    keys::APPOINTMENTS,
                    id,
                    "place",
                    &place,
                )
                .map_err(doc_error)?;
            }
            AppointmentEventKind::Proposed
        }
        reply => {
            if !family_proposed {
                return Err(ApiError::conflict(
                    "nothing_to_answer",
                    "the family answers your own proposal",
                ));
            }
            match reply {
                AppointmentReply::Accepted => AppointmentEventKind::Accepted,
                AppointmentReply::Declined => AppointmentEventKind::Declined,
                _ => AppointmentEventKind::Tentative,
            }
        }
    };
    server_event(tx, list, staff_event(kind, staff, at, note)).map_err(doc_error)?;
    Ok(())
}

/// A worker proposes an appointment: written into the family's document as the server, with
/// the email it causes, in the caller's transaction.
pub fn propose_and_tell(
    conn: &mut crate::db::DbConn,
    family: reguide_protocol::FamilyId,
    request: NewAppointmentRequest,
    staff: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<AppointmentDetail> {
    let made = crate::sync::store::edit_as_server_then(
        conn,
        family,
        |tx| propose(tx, request, staff, now),
        |doc, id| one(doc, &id),
    )?;
    crate::mail::events::appointment(conn, family, None, &made, now)?;
    Ok(made)
}

/// The worker answers (in the API or from an emailed link): written into the family's
/// document, with the email it causes, in the caller's transaction.
pub fn answer_and_tell(
    conn: &mut crate::db::DbConn,
    family: reguide_protocol::FamilyId,
    id: &str,
    request: AppointmentAnswerRequest,
    staff: AccountId,
    now: DateTime<Utc>,
) -> ApiResult<AppointmentDetail> {
    let (before, after) = crate::sync::store::edit_as_server_then(
        conn,
        family,
        |tx| {
            let before = read_entry::<Appointment, _>(tx, keys::APPOINTMENTS, id)
                .map_err(doc_error)?
                .map(detail);
            answer(tx, id, request, staff, now)?;
            Ok(before)
        },
        |doc, before| Ok((before, one(doc, id)?)),
    )?;
    crate::mail::events::appointment(conn, family, before.as_ref(), &after, now)?;
    Ok(after)
}
