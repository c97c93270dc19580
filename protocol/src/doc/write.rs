//! Typed writes into a family document.
//!
//! The family side writes only through these helpers: each one adds exactly what the write
//! policy lets a device add (a new entry, an event, a note, an answer) and checks the
//! preconditions the policy would check (the step is the family's, the invitation is the
//! member's), so a user is told at once instead of at sync. [`checked`] runs an edit and keeps it
//! only if the policy ([`super::check_change`]) accepts it: what the app does before every commit.
//!
//! The server side writes members, steps, invitations and its decisions as events (`server_*`,
//! [`put_entry`]); staff never write into a document directly.
//!
//! Helpers are generic over [`autosurgeon::Doc`], so they work in an Automerge `Transaction`
//! or on an `AutoCommit`. Instants are milliseconds since the Unix epoch, given by the caller.

use automerge::{Automerge, ObjId, ROOT, Value, transaction::Transaction};
use autosurgeon::{Doc, ReadDoc, Reconcile, reconcile_insert, reconcile_prop};
use uuid::Uuid;

use super::DocError;
use super::policy::{PolicyViolation, Writer, check_patches_since};
use super::schema::{
    Appointment, Author, ChecklistItem, DocMember, DocRegistration, DocVisitRequest, Event,
    Invitation, InvitationAnswer, Note, Rsvp, Step, StepOwner, keys, new_event_id, new_id,
    read_entry,
};
use super::status::{
    AppointmentEventKind, ChecklistEventKind, RegistrationEventKind, VisitEventKind,
};
use crate::visits::{SlotChoice, SupportNeed, VisitType};
use crate::{AccountId, DetaineeId, MemberId, PrisonId};

/// Runs `edit` on `doc` in one transaction, checks what it changed against `writer`'s policy
/// and keeps it only if the policy accepts it. On any error `doc` is as it was.
///
/// The edit's patches are logged as it makes them (diffing afterwards would walk the whole
/// history) and checked against `doc` as it was before, read at its old heads: nothing is
/// copied on the way, so a write costs what the edit costs. A refused change is taken back by
/// going back to the old heads, which costs a replay; refusals are rare (the helpers check
/// the policy's preconditions themselves).
pub fn checked<T>(
    doc: &mut Automerge,
    writer: Writer,
    edit: impl FnOnce(&mut Transaction<'_>) -> Result<T, DocError>,
) -> Result<T, DocError> {
    checked_with_patches(doc, writer, edit).map(|(out, _)| out)
}

/// [`checked`], returning also the patches the edit made: what a client refreshes its views
/// from ([`super::touched_entries`]).
pub fn checked_with_patches<T>(
    doc: &mut Automerge,
    writer: Writer,
    edit: impl FnOnce(&mut Transaction<'_>) -> Result<T, DocError>,
) -> Result<(T, Vec<automerge::Patch>), DocError> {
    let before = doc.get_heads();
    let mut tx = doc
        .transaction_log_patches(automerge::PatchLog::active())
        .map_err(|e| DocError::from(automerge::AutomergeError::from(e)))?;
    let out = match edit(&mut tx) {
        Ok(out) => out,
        Err(e) => {
            tx.rollback();
            return Err(e);
        }
    };
    let (_, mut log) = tx.commit_with(automerge::transaction::CommitOptions::default());
    let patches = doc.make_patches(&mut log);
    if let Err(refused) = check_patches_since(writer, doc, &before, &patches) {
        let actor = doc.get_actor().clone();
        *doc = doc.fork_at(&before)?.with_actor(actor);
        return Err(refused.into());
    }
    Ok((out, patches))
}

/// An append-only event list of the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventList<'a> {
    VisitRequest(&'a str),
    Registration(&'a str),
    Appointment(&'a str),
    Step(&'a str),
    ChecklistItem { step: &'a str, item: &'a str },
}

impl EventList<'_> {
    fn path(&self) -> Vec<&str> {
        match *self {
            Self::VisitRequest(id) => vec![keys::VISIT_REQUESTS, id, keys::EVENTS],
            Self::Registration(id) => vec![keys::FAMILY_DAY_REGISTRATIONS, id, keys::EVENTS],
            Self::Appointment(id) => vec![keys::APPOINTMENTS, id, keys::EVENTS],
            Self::Step(id) => vec![keys::STEPS, id, keys::EVENTS],
            Self::ChecklistItem { step, item } => {
                vec![keys::STEPS, step, keys::CHECKLIST, item, keys::EVENTS]
            }
        }
    }
}

/// The object at a path of map keys.
fn obj_at<D: ReadDoc>(doc: &D, path: &[&str]) -> Result<ObjId, DocError> {
    let mut obj = ROOT;
    for (n, key) in path.iter().enumerate() {
        match doc.get(&obj, *key)? {
            Some((Value::Object(_), id)) => obj = id,
            _ => {
                return Err(DocError::NotFound {
                    path: path[..=n].join("/"),
                });
            }
        }
    }
    Ok(obj)
}

/// Appends `value` at the end of the list at `path`.
fn push<D: Doc, R: Reconcile>(doc: &mut D, path: &[&str], value: &R) -> Result<(), DocError> {
    let list = obj_at(doc, path)?;
    let len = doc.length(&list);
    reconcile_insert(doc, list, len, value)?;
    Ok(())
}

/// Appends `event` to `list` as it is. Prefer the named helpers, which set kind and author.
pub fn append_event<D: Doc>(
    doc: &mut D,
    list: EventList<'_>,
    event: &Event,
) -> Result<(), DocError> {
    push(doc, &list.path(), event)
}

fn forbidden(path: String, code: &'static str, message: &str) -> DocError {
    DocError::Forbidden(PolicyViolation {
        path,
        code,
        message: message.to_owned(),
    })
}

fn family_event<D: Doc>(
    doc: &mut D,
    member: MemberId,
    list: EventList<'_>,
    kind: &str,
    at: i64,
    refers_to: Option<String>,
) -> Result<String, DocError> {
    let event = Event {
        refers_to,
        ..Event::new(kind, at, Author::Member(member))
    };
    append_event(doc, list, &event)?;
    Ok(event.id)
}

// ---- Family side --------------------------------------------------------------------------

/// What a family fills in to ask for a visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDocVisitRequest {
    pub detainee_id: DetaineeId,
    pub prison_id: PrisonId,
    pub visit_type: VisitType,
    pub preferences: Vec<SlotChoice>,
    pub visitors: Vec<MemberId>,
    pub support_needs: Vec<SupportNeed>,
    pub support_note: Option<String>,
}

/// Opens a visit request in `member`'s name; returns its id. The server checks it against the
/// prison's rules when the request reaches it, and answers with an event.
pub fn request_visit<D: Doc>(
    doc: &mut D,
    member: MemberId,
    request: NewDocVisitRequest,
    at: i64,
) -> Result<String, DocError> {
    let id = new_id();
    let entry = DocVisitRequest {
        id: id.clone(),
        detainee_id: request.detainee_id,
        prison_id: request.prison_id,
        visit_type: request.visit_type,
        preferences: request.preferences,
        visitors: request.visitors,
        support_needs: request.support_needs,
        support_note: request.support_note,
        requested_by: member,
        created_at: at,
        events: vec![Event::new(
            VisitEventKind::Requested.as_str(),
            at,
            Author::Member(member),
        )],
    };
    let requests = obj_at(doc, &[keys::VISIT_REQUESTS])?;
    reconcile_prop(doc, requests, id.as_str(), &entry)?;
    Ok(id)
}

/// Asks to withdraw a request that is not confirmed yet (pending or proposed). Returns the
/// event id.
pub fn ask_to_withdraw_visit<D: Doc>(
    doc: &mut D,
    member: MemberId,
    request_id: &str,
    at: i64,
) -> Result<String, DocError> {
    let kind = VisitEventKind::WithdrawRequested.as_str();
    family_event(
        doc,
        member,
        EventList::VisitRequest(request_id),
        kind,
        at,
        None,
    )
}

/// Asks to cancel a confirmed visit; the server applies the prison's cut-off and answers with
/// `cancelled` or `intent_refused`. Returns the event id.
pub fn ask_to_cancel_visit<D: Doc>(
    doc: &mut D,
    member: MemberId,
    request_id: &str,
    at: i64,
) -> Result<String, DocError> {
    let kind = VisitEventKind::CancelRequested.as_str();
    family_event(
        doc,
        member,
        EventList::VisitRequest(request_id),
        kind,
        at,
        None,
    )
}

/// Accepts the slot the coordinator proposed (the latest `proposed` event, which the new event
/// refers to). Returns the event id.
pub fn accept_proposal<D: Doc>(
    doc: &mut D,
    member: MemberId,
    request_id: &str,
    at: i64,
) -> Result<String, DocError> {
    let request: DocVisitRequest =
        read_entry(doc, keys::VISIT_REQUESTS, request_id)?.ok_or_else(|| DocError::NotFound {
            path: format!("{}/{request_id}", keys::VISIT_REQUESTS),
        })?;
    let proposal = request
        .events
        .iter()
        .filter(|e| e.kind == VisitEventKind::Proposed.as_str() && e.by.is_server())
        .max_by(|a, b| super::status::event_order(a, b))
        .map(|e| e.id.clone())
        .ok_or_else(|| DocError::NotFound {
            path: format!(
                "{}/{request_id}/{}/proposed",
                keys::VISIT_REQUESTS,
                keys::EVENTS
            ),
        })?;
    let kind = VisitEventKind::ProposalAccepted.as_str();
    family_event(
        doc,
        member,
        EventList::VisitRequest(request_id),
        kind,
        at,
        Some(proposal),
    )
}

/// What a family fills in to register for a family day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewDocRegistration {
    pub family_day_id: Uuid,
    pub adults: i64,
    pub children: i64,
}

/// Registers the family for a family day in `member`'s name; returns the registration id.
pub fn register_for_family_day<D: Doc>(
    doc: &mut D,
    member: MemberId,
    registration: NewDocRegistration,
    at: i64,
) -> Result<String, DocError> {
    let id = new_id();
    let entry = DocRegistration {
        id: id.clone(),
        family_day_id: registration.family_day_id,
        adults: registration.adults,
        children: registration.children,
        requested_by: member,
        events: vec![Event::new(
            RegistrationEventKind::Requested.as_str(),
            at,
            Author::Member(member),
        )],
    };
    let registrations = obj_at(doc, &[keys::FAMILY_DAY_REGISTRATIONS])?;
    reconcile_prop(doc, registrations, id.as_str(), &entry)?;
    Ok(id)
}

/// Asks to cancel a family-day registration. Returns the event id.
pub fn ask_to_cancel_registration<D: Doc>(
    doc: &mut D,
    member: MemberId,
    registration_id: &str,
    at: i64,
) -> Result<String, DocError> {
    let kind = RegistrationEventKind::CancelRequested.as_str();
    family_event(
        doc,
        member,
        EventList::Registration(registration_id),
        kind,
        at,
        None,
    )
}

/// Ticks (or unticks) an item of the checklist of one of the family's own steps. Returns the
/// event id.
pub fn tick_item<D: Doc>(
    doc: &mut D,
    member: MemberId,
    step_id: &str,
    item_id: &str,
    ticked: bool,
    at: i64,
) -> Result<String, DocError> {
    let path = format!("{}/{step_id}", keys::STEPS);
    let step: Step =
        read_entry(doc, keys::STEPS, step_id)?.ok_or(DocError::NotFound { path: path.clone() })?;
    if step.owner != StepOwner::Family {
        return Err(forbidden(
            path,
            "step_not_family_owned",
            "only the checklists of the family's own steps are ticked by the family",
        ));
    }
    let kind = if ticked {
        ChecklistEventKind::Ticked
    } else {
        ChecklistEventKind::Unticked
    };
    let list = EventList::ChecklistItem {
        step: step_id,
        item: item_id,
    };
    family_event(doc, member, list, kind.as_str(), at, None)
}

/// Adds a note to any step. Returns the note id.
pub fn add_note<D: Doc>(
    doc: &mut D,
    member: MemberId,
    step_id: &str,
    text: &str,
    at: i64,
) -> Result<String, DocError> {
    let note = Note {
        id: new_event_id(),
        by: Author::Member(member),
        at,
        text: text.to_owned(),
        staff_account: None,
    };
    push(doc, &[keys::STEPS, step_id, keys::NOTES], &note)?;
    Ok(note.id)
}

/// What a family fills in to propose an appointment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDocAppointment {
    pub with_account: AccountId,
    pub starts_at: i64,
    pub place: String,
    pub purpose: String,
    pub step_id: Option<String>,
}

/// Proposes an appointment; returns its id.
pub fn propose_appointment<D: Doc>(
    doc: &mut D,
    member: MemberId,
    appointment: NewDocAppointment,
    at: i64,
) -> Result<String, DocError> {
    let id = new_id();
    let entry = Appointment {
        id: id.clone(),
        with_account: appointment.with_account,
        starts_at: appointment.starts_at,
        place: appointment.place,
        purpose: appointment.purpose,
        step_id: appointment.step_id,
        events: vec![Event::new(
            AppointmentEventKind::Proposed.as_str(),
            at,
            Author::Member(member),
        )],
    };
    let appointments = obj_at(doc, &[keys::APPOINTMENTS])?;
    reconcile_prop(doc, appointments, id.as_str(), &entry)?;
    Ok(id)
}

/// Answers an appointment: `accepted`, `declined` or `tentative`. Returns the event id.
pub fn answer_appointment<D: Doc>(
    doc: &mut D,
    member: MemberId,
    appointment_id: &str,
    answer: AppointmentEventKind,
    at: i64,
) -> Result<String, DocError> {
    if !answer.family_may_append() {
        return Err(forbidden(
            format!("{}/{appointment_id}/{}", keys::APPOINTMENTS, keys::EVENTS),
            "event_kind_not_allowed",
            "a family answers an appointment with accepted, declined or tentative",
        ));
    }
    let list = EventList::Appointment(appointment_id);
    family_event(doc, member, list, answer.as_str(), at, None)
}

/// Answers an invitation addressed to `member`.
pub fn answer_invitation<D: Doc>(
    doc: &mut D,
    member: MemberId,
    invitation_id: &str,
    answer: Rsvp,
    note: Option<String>,
    at: i64,
) -> Result<(), DocError> {
    let path = format!("{}/{invitation_id}", keys::INVITATIONS);
    let invitation: Invitation = read_entry(doc, keys::INVITATIONS, invitation_id)?
        .ok_or(DocError::NotFound { path: path.clone() })?;
    if invitation.member_id != member {
        return Err(forbidden(
            path,
            "not_own_invitation",
            "a member answers only their own invitations",
        ));
    }
    let answer = InvitationAnswer {
        answer,
        note,
        at,
        by: Author::Member(member),
    };
    push(
        doc,
        &[keys::INVITATIONS, invitation_id, keys::ANSWERS],
        &answer,
    )
}

// ---- Server side --------------------------------------------------------------------------

/// Appends a server event (a decision, or a staff action with `staff_account` set) to `list`;
/// `by` is set to the server. Returns the event id.
pub fn server_event<D: Doc>(
    doc: &mut D,
    list: EventList<'_>,
    event: Event,
) -> Result<String, DocError> {
    let event = Event {
        by: Author::Server,
        ..event
    };
    append_event(doc, list, &event)?;
    Ok(event.id)
}

/// Writes an entry of a root collection (a member, a step, an invitation, an appointment a
/// worker sets up…), creating or updating it field by field. Server only.
pub fn put_entry<D: Doc, T: Reconcile>(
    doc: &mut D,
    collection: &str,
    id: &str,
    entry: &T,
) -> Result<(), DocError> {
    let map = obj_at(doc, &[collection])?;
    reconcile_prop(doc, map, id, entry)?;
    Ok(())
}

/// Writes a member (from the relational members table). Server only.
pub fn put_member<D: Doc>(
    doc: &mut D,
    member_id: MemberId,
    member: &DocMember,
) -> Result<(), DocError> {
    put_entry(doc, keys::MEMBERS, &member_id.to_string(), member)
}

/// Adds an item to a step's checklist. Server only.
pub fn add_checklist_item<D: Doc>(
    doc: &mut D,
    step_id: &str,
    item_id: &str,
    label: &str,
) -> Result<(), DocError> {
    let checklist = obj_at(doc, &[keys::STEPS, step_id, keys::CHECKLIST])?;
    let item = ChecklistItem {
        label: label.to_owned(),
        events: Vec::new(),
    };
    reconcile_prop(doc, checklist, item_id, &item)?;
    Ok(())
}

/// Writes one field of a step (`title`, `due_date`, `next_actor`…). Server only: record the
/// change with an `updated` event ([`server_event`]).
pub fn put_step_field<D: Doc, T: Reconcile>(
    doc: &mut D,
    step_id: &str,
    field: &str,
    value: &T,
) -> Result<(), DocError> {
    put_entry_field(doc, keys::STEPS, step_id, field, value)
}

/// Writes one field of an entry of a root collection (an appointment's new time…). Server
/// only.
pub fn put_entry_field<D: Doc, T: Reconcile>(
    doc: &mut D,
    collection: &str,
    id: &str,
    field: &str,
    value: &T,
) -> Result<(), DocError> {
    let entry = obj_at(doc, &[collection, id])?;
    reconcile_prop(doc, entry, field, value)?;
    Ok(())
}

/// Adds a note written by a staff member to a step. Server only. Returns the note id.
pub fn server_add_note<D: Doc>(
    doc: &mut D,
    step_id: &str,
    text: &str,
    staff: AccountId,
    at: i64,
) -> Result<String, DocError> {
    let note = Note {
        id: new_event_id(),
        by: Author::Server,
        at,
        text: text.to_owned(),
        staff_account: Some(staff),
    };
    push(doc, &[keys::STEPS, step_id, keys::NOTES], &note)?;
    Ok(note.id)
}
