//! Deterministic family documents: the server's copy of a family of two with one of everything
//! (as in `protocol/tests/doc/policy.rs`), a phone's copy of it, and a prototype (version 0)
//! document.

use std::collections::BTreeMap;

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, ObjId, ObjType, ROOT, ReadDoc, Value};
use chrono::NaiveDate;
use reguide_protocol::doc::write::{self, EventList};
use reguide_protocol::doc::{
    Appointment, Author, DocMember, DocRegistration, DocVisitRequest, Event, FamilyDoc,
    Invitation, InvitationAnswer, NextActor, Rsvp, Step, StepOwner, keys,
};
use reguide_protocol::sync::server_actor;
use reguide_protocol::visits::{SlotChoice, SupportNeed, VisitType};
use reguide_protocol::{AccountId, DetaineeId, FamilyId, Language, MemberId, PrisonId};
use uuid::Uuid;

/// The phone of the member who syncs.
pub const DEVICE_ACTOR: &[u8] = b"amina-phone-0001";
/// A phone of another member: its changes are not the syncing device's to send.
pub const OTHER_ACTOR: &[u8] = b"youssef-phone-01";

pub const FAMILY: FamilyId = FamilyId(Uuid::from_u128(0x0f00_0000_0000_4000_8000_0000_0000_0001));
/// The member who syncs.
pub const AMINA: MemberId = MemberId(Uuid::from_u128(0x0a00_0000_0000_4000_8000_0000_0000_00a1));
pub const YOUSSEF: MemberId = MemberId(Uuid::from_u128(0x0b00_0000_0000_4000_8000_0000_0000_00b2));
pub const STAFF: AccountId = AccountId(Uuid::from_u128(0x0c00_0000_0000_4000_8000_0000_0000_00c3));

pub const REQUEST: &str = "1e000000-0000-4000-8000-000000000001";
pub const REGISTRATION: &str = "2e000000-0000-4000-8000-000000000002";
pub const APPOINTMENT: &str = "3e000000-0000-4000-8000-000000000003";
pub const FAMILY_STEP: &str = "step-family";
pub const WORKER_STEP: &str = "step-worker";
pub const AMINA_INVITATION: &str = "inv-amina";
pub const YOUSSEF_INVITATION: &str = "inv-youssef";
/// The event id of the server's `proposed` on [`REQUEST`].
pub const PROPOSAL: &str = "ev-proposed";

/// Commits `tx` at a fixed time: the change hash depends on nothing else than its content.
pub fn commit(tx: Transaction<'_>) {
    tx.commit_with(CommitOptions::default().with_time(0));
}

pub fn actor(bytes: &[u8]) -> ActorId {
    ActorId::from(bytes)
}

pub fn slot() -> SlotChoice {
    SlotChoice {
        template_id: Uuid::from_u128(42),
        date: NaiveDate::from_ymd_opt(2026, 6, 2).unwrap_or_default(),
    }
}

pub fn event(id: &str, kind: &str, at: i64, by: Author) -> Event {
    Event {
        id: id.to_owned(),
        kind: kind.to_owned(),
        at,
        by,
        staff_account: None,
        detail: None,
        refers_to: None,
        slot: None,
    }
}

fn step(id: &str, owner: StepOwner) -> Step {
    Step {
        id: id.to_owned(),
        title: "Identity card".into(),
        category: "documents".into(),
        owner,
        description: "Renew it at the commune".into(),
        due_date: None,
        next_actor: NextActor::Family,
        agency: None,
        documents: Vec::new(),
        template: None,
        checklist: BTreeMap::new(),
        notes: Vec::new(),
        events: vec![event(&format!("{id}-created"), "created", 1, Author::Server)],
    }
}

fn invitation(id: &str, member: MemberId) -> Invitation {
    Invitation {
        id: id.to_owned(),
        session_id: "lab-1".into(),
        member_id: member,
        title: "Living Lab: the visit app".into(),
        starts_at: 1_000,
        answers: Vec::new(),
        place: None,
        summary: None,
    }
}

pub fn visit_request(id: &str, by: MemberId) -> DocVisitRequest {
    DocVisitRequest {
        id: id.to_owned(),
        detainee_id: DetaineeId(Uuid::from_u128(0xd)),
        prison_id: PrisonId(Uuid::from_u128(0xe)),
        visit_type: VisitType::Table,
        preferences: vec![slot()],
        visitors: vec![by],
        support_needs: vec![SupportNeed::Pram],
        support_note: Some("a pram".into()),
        requested_by: by,
        created_at: 10,
        events: vec![event(&format!("{id}-requested"), "requested", 10, Author::Member(by))],
    }
}

pub fn registration(id: &str, by: MemberId) -> DocRegistration {
    DocRegistration {
        id: id.to_owned(),
        family_day_id: Uuid::from_u128(7),
        adults: 1,
        children: 2,
        requested_by: by,
        events: vec![event(&format!("{id}-requested"), "requested", 12, Author::Member(by))],
    }
}

pub fn appointment(id: &str, first: Event) -> Appointment {
    Appointment {
        id: id.to_owned(),
        with_account: STAFF,
        starts_at: 2_000,
        place: "CPAS".into(),
        purpose: "Housing".into(),
        step_id: None,
        events: vec![first],
    }
}

/// The server's copy: created as `new_document` creates it, then one change with the members
/// and one entry of each collection. Fixed actor and times, so always the same bytes.
pub fn server_document() -> Automerge {
    let mut doc = Automerge::new().with_actor(server_actor());
    let mut tx = doc.transaction();
    // What `new_document` writes, without its wall-clock commit time.
    let _ = FamilyDoc::new_for_family(FAMILY).write(&mut tx);
    commit(tx);

    let mut tx = doc.transaction();
    for (id, name) in [(AMINA, "Amina"), (YOUSSEF, "Youssef")] {
        let member = DocMember {
            display_name: name.into(),
            relation: "family".into(),
            language: Language::Fr,
        };
        let _ = write::put_member(&mut tx, id, &member);
    }
    let _ = write::put_entry(&mut tx, keys::STEPS, FAMILY_STEP, &step(FAMILY_STEP, StepOwner::Family));
    let _ = write::put_entry(&mut tx, keys::STEPS, WORKER_STEP, &step(WORKER_STEP, StepOwner::Worker));
    let _ = write::add_checklist_item(&mut tx, FAMILY_STEP, "form", "Fill in the form");
    let _ = write::add_checklist_item(&mut tx, WORKER_STEP, "call", "Call the commune");
    let _ = write::put_entry(
        &mut tx,
        keys::INVITATIONS,
        AMINA_INVITATION,
        &invitation(AMINA_INVITATION, AMINA),
    );
    let mut theirs = invitation(YOUSSEF_INVITATION, YOUSSEF);
    theirs.answers.push(InvitationAnswer {
        answer: Rsvp::Accepted,
        note: None,
        at: 5,
        by: Author::Member(YOUSSEF),
    });
    let _ = write::put_entry(&mut tx, keys::INVITATIONS, YOUSSEF_INVITATION, &theirs);
    let _ = write::put_entry(&mut tx, keys::VISIT_REQUESTS, REQUEST, &visit_request(REQUEST, AMINA));
    let _ = write::server_event(
        &mut tx,
        EventList::VisitRequest(REQUEST),
        Event {
            slot: Some(slot()),
            ..event(PROPOSAL, "proposed", 11, Author::Server)
        },
    );
    let _ = write::put_entry(
        &mut tx,
        keys::FAMILY_DAY_REGISTRATIONS,
        REGISTRATION,
        &registration(REGISTRATION, AMINA),
    );
    let first = Event {
        staff_account: Some(STAFF),
        ..event("ev-appt-proposed", "proposed", 13, Author::Server)
    };
    let _ = write::put_entry(
        &mut tx,
        keys::APPOINTMENTS,
        APPOINTMENT,
        &appointment(APPOINTMENT, first),
    );
    commit(tx);
    doc
}

/// A phone's copy of `server`, writing as `actor`.
pub fn device_copy(server: &Automerge, actor_bytes: &[u8]) -> Automerge {
    match Automerge::load(&server.save()) {
        Ok(doc) => doc.with_actor(actor(actor_bytes)),
        Err(_) => server.fork().with_actor(actor(actor_bytes)),
    }
}

/// A prototype document (version 0): no `schema_version`, `family_id`, `members` with one
/// member and an empty `visit_requests`, as in the upgrade tests.
pub fn version_0_document() -> Automerge {
    let mut doc = Automerge::new().with_actor(server_actor());
    let mut tx = doc.transaction();
    let _ = tx.put(ROOT, keys::FAMILY_ID, FAMILY.to_string());
    if let Ok(members) = tx.put_object(ROOT, keys::MEMBERS, ObjType::Map) {
        if let Ok(amina) = tx.put_object(&members, AMINA.to_string(), ObjType::Map) {
            let _ = tx.put(&amina, "display_name", "Amina");
            let _ = tx.put(&amina, "relation", "mother");
            let _ = tx.put(&amina, "language", "fr");
        }
    }
    let _ = tx.put_object(ROOT, keys::VISIT_REQUESTS, ObjType::Map);
    commit(tx);
    doc
}

/// Every object of `doc` reachable from the root, breadth first in key order (at most `max`):
/// the targets of arbitrary edits.
pub fn objects<D: ReadDoc>(doc: &D, max: usize) -> Vec<ObjId> {
    let mut found = vec![ROOT];
    let mut next = 0;
    while next < found.len() && found.len() < max {
        let obj = found[next].clone();
        next += 1;
        let children: Vec<ObjId> = match doc.object_type(&obj) {
            Ok(ObjType::Map | ObjType::Table) => doc
                .keys(&obj)
                .filter_map(|key| match doc.get(&obj, key.as_str()) {
                    Ok(Some((Value::Object(_), id))) => Some(id),
                    _ => None,
                })
                .collect(),
            Ok(ObjType::List) => (0..doc.length(&obj))
                .filter_map(|i| match doc.get(&obj, i) {
                    Ok(Some((Value::Object(_), id))) => Some(id),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for child in children {
            if found.len() >= max {
                break;
            }
            found.push(child);
        }
    }
    found
}

/// Words an edit is likely to need: the schema's keys, the fixture's ids and the event kinds.
pub fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = [
        keys::SCHEMA_VERSION,
        keys::FAMILY_ID,
        keys::MEMBERS,
        keys::VISIT_REQUESTS,
        keys::FAMILY_DAY_REGISTRATIONS,
        keys::STEPS,
        keys::APPOINTMENTS,
        keys::INVITATIONS,
        keys::EVENTS,
        keys::CHECKLIST,
        keys::NOTES,
        keys::ANSWERS,
        // Fields of the schema's types.
        "id",
        "kind",
        "at",
        "by",
        "staff_account",
        "detail",
        "refers_to",
        "slot",
        "template_id",
        "date",
        "detainee_id",
        "prison_id",
        "visit_type",
        "preferences",
        "visitors",
        "support_needs",
        "support_note",
        "requested_by",
        "created_at",
        "family_day_id",
        "adults",
        "children",
        "title",
        "category",
        "owner",
        "description",
        "due_date",
        "next_actor",
        "agency",
        "documents",
        "template",
        "label",
        "text",
        "with_account",
        "starts_at",
        "place",
        "purpose",
        "step_id",
        "session_id",
        "member_id",
        "answer",
        "note",
        "summary",
        "display_name",
        "relation",
        "language",
        // Values.
        "server",
        "family",
        "worker",
        "table",
        "pram",
        "accepted",
        "declined",
        "tentative",
        "requested",
        "withdraw_requested",
        "cancel_requested",
        "proposal_accepted",
        "proposed",
        "confirmed",
        "cancelled",
        "ticked",
        "unticked",
        "created",
        "2026-06-02",
        "fr",
        "form",
        "call",
        REQUEST,
        REGISTRATION,
        APPOINTMENT,
        FAMILY_STEP,
        WORKER_STEP,
        AMINA_INVITATION,
        YOUSSEF_INVITATION,
        PROPOSAL,
    ]
    .iter()
    .map(|w| (*w).to_owned())
    .collect();
    for id in [
        AMINA.to_string(),
        YOUSSEF.to_string(),
        STAFF.to_string(),
        FAMILY.to_string(),
        Uuid::from_u128(42).to_string(),
        Uuid::from_u128(7).to_string(),
        Uuid::from_u128(0xd).to_string(),
        Uuid::from_u128(0xe).to_string(),
        "4e000000-0000-4000-8000-000000000004".to_owned(),
    ] {
        words.push(id);
    }
    words
}
