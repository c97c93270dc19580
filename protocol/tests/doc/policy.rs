//! The write policy on real Automerge documents: each write a family device may make passes,
//! each one it may not make is refused with its code, on the device (before it commits) and on
//! the server (after loading the device's changes into its copy) alike.

use automerge::transaction::{Transactable, Transaction};
use automerge::{ActorId, Automerge, ObjId, ObjType, ROOT, ReadDoc, ScalarValue};
use chrono::NaiveDate;
use reguide_protocol::doc::status::{self, AppointmentEventKind};
use reguide_protocol::doc::write::{
    self, EventList, NewDocAppointment, NewDocRegistration, NewDocVisitRequest,
};
use reguide_protocol::doc::{
    Appointment, Author, DocMember, DocVisitRequest, Event, FamilyDoc, Invitation,
    InvitationAnswer, NextActor, PolicyViolation, Rsvp, Step, StepOwner, Writer, check_authorship,
    check_change, check_patches, check_patches_since, keys, new_document,
};
use reguide_protocol::visits::{SlotChoice, SupportNeed, VisitStatus, VisitType};
use reguide_protocol::{AccountId, DetaineeId, FamilyId, Language, MemberId, PrisonId};
use uuid::Uuid;

struct Fixture {
    server: Automerge,
    device: Automerge,
    amina: MemberId,
    youssef: MemberId,
    request: String,
    registration: String,
    appointment: String,
    family_step: String,
    worker_step: String,
    amina_invitation: String,
    youssef_invitation: String,
}

fn slot() -> SlotChoice {
    SlotChoice {
        template_id: Uuid::from_u128(42),
        date: NaiveDate::from_ymd_opt(2026, 6, 2).expect("date"),
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
        checklist: Default::default(),
        notes: vec![],
        events: vec![Event::new("created", 1, Author::Server)],
    }
}

fn invitation(id: &str, member: MemberId) -> Invitation {
    Invitation {
        id: id.to_owned(),
        session_id: "lab-1".into(),
        member_id: member,
        title: "Living Lab: the visit app".into(),
        starts_at: 1_000,
        answers: vec![],
        place: None,
        summary: None,
    }
}

/// A family of two with one of everything, written by the server; Amina's phone has a copy.
fn fixture() -> Fixture {
    let amina = MemberId::new();
    let youssef = MemberId::new();
    let mut server =
        new_document(FamilyId::new(), ActorId::from(b"server".as_slice())).expect("document");
    let (family_step, worker_step) = ("step-family".to_owned(), "step-worker".to_owned());
    let (amina_invitation, youssef_invitation) = ("inv-amina".to_owned(), "inv-youssef".to_owned());
    let mut tx = server.transaction();
    for (id, name) in [(amina, "Amina"), (youssef, "Youssef")] {
        let member = DocMember {
            display_name: name.into(),
            relation: "family".into(),
            language: Language::Fr,
        };
        write::put_member(&mut tx, id, &member).expect("member");
    }
    write::put_entry(
        &mut tx,
        keys::STEPS,
        &family_step,
        &step(&family_step, StepOwner::Family),
    )
    .expect("step");
    write::put_entry(
        &mut tx,
        keys::STEPS,
        &worker_step,
        &step(&worker_step, StepOwner::Worker),
    )
    .expect("step");
    write::add_checklist_item(&mut tx, &family_step, "form", "Fill in the form").expect("item");
    write::add_checklist_item(&mut tx, &worker_step, "call", "Call the commune").expect("item");
    write::put_entry(
        &mut tx,
        keys::INVITATIONS,
        &amina_invitation,
        &invitation(&amina_invitation, amina),
    )
    .expect("invitation");
    let mut theirs = invitation(&youssef_invitation, youssef);
    theirs.answers.push(InvitationAnswer {
        answer: Rsvp::Accepted,
        note: None,
        at: 5,
        by: Author::Member(youssef),
    });
    write::put_entry(&mut tx, keys::INVITATIONS, &youssef_invitation, &theirs).expect("invitation");
    let request = write::request_visit(&mut tx, amina, new_request(amina), 10).expect("request");
    write::server_event(
        &mut tx,
        EventList::VisitRequest(&request),
        Event {
            slot: Some(slot()),
            ..Event::new("proposed", 11, Author::Server)
        },
    )
    .expect("proposed");
    let registration = write::register_for_family_day(
        &mut tx,
        amina,
        NewDocRegistration {
            family_day_id: Uuid::from_u128(7),
            adults: 1,
            children: 2,
        },
        12,
    )
    .expect("registration");
    let appointment_id = "appt-1".to_owned();
    let appointment = Appointment {
        id: appointment_id.clone(),
        with_account: AccountId::new(),
        starts_at: 2_000,
        place: "CPAS".into(),
        purpose: "Housing".into(),
        step_id: None,
        events: vec![Event {
            staff_account: Some(AccountId::new()),
            ..Event::new("proposed", 13, Author::Server)
        }],
    };
    write::put_entry(&mut tx, keys::APPOINTMENTS, &appointment_id, &appointment).expect("appt");
    tx.commit();
    let device = Automerge::load(&server.save())
        .expect("load")
        .with_actor(ActorId::from(b"amina-phone".as_slice()));
    Fixture {
        server,
        device,
        amina,
        youssef,
        request,
        registration,
        appointment: appointment_id,
        family_step,
        worker_step,
        amina_invitation,
        youssef_invitation,
    }
}

fn new_request(member: MemberId) -> NewDocVisitRequest {
    NewDocVisitRequest {
        detainee_id: DetaineeId::new(),
        prison_id: PrisonId::new(),
        visit_type: VisitType::Table,
        preferences: vec![slot()],
        visitors: vec![member],
        support_needs: vec![SupportNeed::Pram],
        support_note: Some("a pram".into()),
    }
}

/// The object at a path of keys.
fn at(tx: &Transaction<'_>, path: &[&str]) -> ObjId {
    let mut obj = ROOT;
    for key in path {
        obj = tx.get(&obj, *key).expect("get").expect("present").1;
    }
    obj
}

impl Fixture {
    /// Makes `edit` on a fork of Amina's phone and checks it as Amina's device would before
    /// committing, and as the server would after loading the change. Both must agree.
    fn amina_writes(
        &self,
        edit: impl FnOnce(&mut Transaction<'_>, &Fixture),
    ) -> Result<(), PolicyViolation> {
        self.writes(
            Writer::FamilyDevice {
                member_id: self.amina,
            },
            edit,
        )
    }

    fn writes(
        &self,
        writer: Writer,
        edit: impl FnOnce(&mut Transaction<'_>, &Fixture),
    ) -> Result<(), PolicyViolation> {
        let mut after = self
            .device
            .fork()
            .with_actor(self.device.get_actor().clone());
        let mut tx = after
            .transaction_log_patches(automerge::PatchLog::active())
            .expect("patch log");
        edit(&mut tx, self);
        let (_, mut log) = tx.commit_with(automerge::transaction::CommitOptions::default());
        let logged = after.make_patches(&mut log);
        let on_device = check_change(writer, &self.device, &after);
        // What `write::checked` runs: the patches logged while editing. They may name another
        // first fault (a replaced entry logs its deletion first, where the change applied to a
        // copy shows one overwrite) but must refuse exactly what `check_change` refuses.
        let from_log = check_patches(writer, &self.device, &after, &logged);
        assert_eq!(
            on_device.is_ok(),
            from_log.is_ok(),
            "the logged patches and check_change disagree: {on_device:?} / {from_log:?}"
        );
        // The same patches checked against the edited document read at its old heads (no
        // copy of the document before): the very same verdict.
        let in_place = check_patches_since(writer, &after, &self.device.get_heads(), &logged);
        assert_eq!(from_log, in_place, "a copy and the old heads disagree");

        let mut on_server = self.server.fork();
        let mut server_log = automerge::PatchLog::active();
        on_server
            .load_incremental_log_patches(
                &after.save_after(&self.server.get_heads()),
                &mut server_log,
            )
            .expect("load");
        assert!(on_server.get_missing_deps(&[]).is_empty());
        check_authorship(&self.server, &on_server, self.device.get_actor()).expect("own actor");
        let verdict = check_change(writer, &self.server, &on_server);
        assert_eq!(on_device, verdict, "device and server disagree");
        // What the sync endpoint runs: the patches logged while loading the device's changes.
        let loaded = on_server.make_patches(&mut server_log);
        let from_server_log = check_patches(writer, &self.server, &on_server, &loaded);
        assert_eq!(
            verdict.is_ok(),
            from_server_log.is_ok(),
            "the server's logged patches and check_change disagree: {verdict:?} / {from_server_log:?}"
        );
        verdict
    }
}

/// An edit made in a test, on a transaction of Amina's phone.
type Edit = dyn Fn(&mut Transaction<'_>, &Fixture);

fn code(result: Result<(), PolicyViolation>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(violation) => violation.code,
    }
}

// ---- Writes a family device may make ------------------------------------------------------

#[test]
fn a_device_may_open_a_visit_request_and_append_its_intents() {
    let fx = fixture();
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            write::request_visit(tx, fx.amina, new_request(fx.youssef), 20).expect("request");
        })),
        "ok"
    );
    for intent in 0..3 {
        assert_eq!(
            code(fx.amina_writes(|tx, fx| {
                let (member, request) = (fx.amina, fx.request.as_str());
                match intent {
                    0 => write::ask_to_withdraw_visit(tx, member, request, 21),
                    1 => write::ask_to_cancel_visit(tx, member, request, 21),
                    _ => write::accept_proposal(tx, member, request, 21),
                }
                .expect("intent");
            })),
            "ok"
        );
    }
    // Opening a request and withdrawing it before any sync travel together.
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let id =
                write::request_visit(tx, fx.amina, new_request(fx.amina), 20).expect("request");
            write::ask_to_withdraw_visit(tx, fx.amina, &id, 21).expect("withdraw");
        })),
        "ok"
    );
}

#[test]
fn a_device_may_register_tick_note_propose_and_answer() {
    let fx = fixture();
    let cases: Vec<Box<Edit>> = vec![
        Box::new(|tx, fx| {
            let r = NewDocRegistration {
                family_day_id: Uuid::from_u128(8),
                adults: 2,
                children: 0,
            };
            write::register_for_family_day(tx, fx.amina, r, 30).expect("register");
        }),
        Box::new(|tx, fx| {
            write::ask_to_cancel_registration(tx, fx.amina, &fx.registration, 30).expect("cancel");
        }),
        Box::new(|tx, fx| {
            write::tick_item(tx, fx.amina, &fx.family_step, "form", true, 30).expect("tick");
            write::tick_item(tx, fx.amina, &fx.family_step, "form", false, 31).expect("untick");
        }),
        Box::new(|tx, fx| {
            write::add_note(tx, fx.amina, &fx.worker_step, "They asked for a photo", 30)
                .expect("note");
            write::add_note(tx, fx.amina, &fx.family_step, "Done on Monday", 31).expect("note");
        }),
        Box::new(|tx, fx| {
            let appointment = NewDocAppointment {
                with_account: AccountId::new(),
                starts_at: 5_000,
                place: "Phone".into(),
                purpose: "Benefits".into(),
                step_id: Some(fx.worker_step.clone()),
            };
            write::propose_appointment(tx, fx.amina, appointment, 30).expect("propose");
        }),
        Box::new(|tx, fx| {
            for answer in [
                AppointmentEventKind::Tentative,
                AppointmentEventKind::Accepted,
            ] {
                write::answer_appointment(tx, fx.amina, &fx.appointment, answer, 30)
                    .expect("answer");
            }
        }),
        Box::new(|tx, fx| {
            write::answer_invitation(
                tx,
                fx.amina,
                &fx.amina_invitation,
                Rsvp::Declined,
                Some("ill".into()),
                30,
            )
            .expect("answer");
        }),
    ];
    for (n, case) in cases.iter().enumerate() {
        assert_eq!(code(fx.amina_writes(case)), "ok", "case {n}");
    }
}

#[test]
fn checked_keeps_a_valid_edit_and_leaves_the_document_alone_otherwise() {
    let mut fx = fixture();
    let amina = Writer::FamilyDevice {
        member_id: fx.amina,
    };
    let request = fx.request.clone();
    let heads = fx.device.get_heads();
    let actor = fx.device.get_actor().clone();
    let err = write::checked(&mut fx.device, amina, |tx| {
        let confirm = Event::new("confirmed", 40, Author::Member(fx.amina));
        write::append_event(tx, EventList::VisitRequest(&request), &confirm)
    })
    .expect_err("refused");
    assert_eq!(err.code(), "event_kind_not_allowed");
    assert_eq!(fx.device.get_heads(), heads, "nothing written");
    assert_eq!(fx.device.get_actor(), &actor, "still the device's actor");
    // An edit that fails on its own way is rolled back too.
    let member = fx.amina;
    let missing = write::checked(&mut fx.device, amina, |tx| {
        write::accept_proposal(tx, member, "no-such-request", 40)
    })
    .expect_err("no such request");
    assert_eq!(missing.code(), "not_found");
    assert_eq!(fx.device.get_heads(), heads, "nothing written");

    let member = fx.amina;
    write::checked(&mut fx.device, amina, |tx| {
        write::accept_proposal(tx, member, &request, 41)
    })
    .expect("accepted");
    let doc = FamilyDoc::read(&fx.device).expect("read");
    assert_eq!(
        status::visit_request_status(&doc.visit_requests[&request].events),
        VisitStatus::Confirmed
    );
    assert_eq!(fx.device.get_heads().len(), 1);
    assert_ne!(fx.device.get_heads(), heads);
}

#[test]
fn helpers_refuse_what_the_policy_would_refuse() {
    let mut fx = fixture();
    let (amina, worker_step, theirs) = (
        fx.amina,
        fx.worker_step.clone(),
        fx.youssef_invitation.clone(),
    );
    let mut tx = fx.device.transaction();
    let err =
        write::tick_item(&mut tx, amina, &worker_step, "call", true, 1).expect_err("worker's");
    assert_eq!(err.code(), "step_not_family_owned");
    let err = write::answer_invitation(&mut tx, amina, &theirs, Rsvp::Accepted, None, 1)
        .expect_err("not hers");
    assert_eq!(err.code(), "not_own_invitation");
    let err =
        write::answer_appointment(&mut tx, amina, "appt-1", AppointmentEventKind::Cancelled, 1)
            .expect_err("not an answer");
    assert_eq!(err.code(), "event_kind_not_allowed");
    let err =
        write::ask_to_cancel_visit(&mut tx, amina, "no-such-request", 1).expect_err("missing");
    assert_eq!(err.code(), "not_found");
    tx.rollback();
}

// ---- Writes only the server may make ------------------------------------------------------

fn append_to_request(tx: &mut Transaction<'_>, fx: &Fixture, event: Event) {
    write::append_event(tx, EventList::VisitRequest(&fx.request), &event).expect("append");
}

#[test]
fn a_family_cannot_confirm_its_own_visit_nor_write_in_another_name() {
    let fx = fixture();
    let amina = Author::Member(fx.amina);
    assert_eq!(
        code(fx.amina_writes(|tx, fx| append_to_request(
            tx,
            fx,
            Event::new("confirmed", 50, amina)
        ))),
        "event_kind_not_allowed"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| append_to_request(
            tx,
            fx,
            Event::new("some_new_kind", 50, amina)
        ))),
        "event_kind_not_allowed"
    );
    let youssef = Author::Member(fx.youssef);
    assert_eq!(
        code(fx.amina_writes(|tx, fx| append_to_request(
            tx,
            fx,
            Event::new("cancel_requested", 50, youssef)
        ))),
        "event_author_mismatch"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| append_to_request(
            tx,
            fx,
            Event::new("cancel_requested", 50, Author::Server)
        ))),
        "event_author_mismatch"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| append_to_request(
            tx,
            fx,
            Event {
                staff_account: Some(AccountId::new()),
                ..Event::new("cancel_requested", 50, amina)
            }
        ))),
        "event_author_mismatch"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| append_to_request(
            tx,
            fx,
            Event {
                slot: Some(slot()),
                ..Event::new("proposal_accepted", 50, amina)
            }
        ))),
        "malformed_object"
    );
    // An event with the id of one already in the list.
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let existing = tx
                .get(
                    at(tx, &[keys::VISIT_REQUESTS, &fx.request, keys::EVENTS]),
                    0_usize,
                )
                .expect("get")
                .expect("event")
                .1;
            let id = tx
                .get(&existing, "id")
                .expect("get")
                .expect("id")
                .0
                .into_string()
                .expect("text");
            append_to_request(
                tx,
                fx,
                Event {
                    id,
                    ..Event::new("cancel_requested", 50, amina)
                },
            );
        })),
        "duplicate_event_id"
    );
}

#[test]
fn existing_events_and_answers_are_never_changed_or_deleted() {
    let fx = fixture();
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let events = at(tx, &[keys::VISIT_REQUESTS, &fx.request, keys::EVENTS]);
            let first = tx.get(&events, 0_usize).expect("get").expect("event").1;
            tx.put(&first, "kind", "confirmed").expect("put");
        })),
        "existing_event_modified"
    );
    // Youssef's answer to his own invitation, edited from Amina's phone.
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let answers = at(
                tx,
                &[keys::INVITATIONS, &fx.youssef_invitation, keys::ANSWERS],
            );
            let answer = tx.get(&answers, 0_usize).expect("get").expect("answer").1;
            tx.put(&answer, "answer", "declined").expect("put");
        })),
        "existing_event_modified"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let events = at(tx, &[keys::VISIT_REQUESTS, &fx.request, keys::EVENTS]);
            tx.delete(&events, 1_usize).expect("delete");
        })),
        "deletion_not_allowed"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let events = at(tx, &[keys::VISIT_REQUESTS, &fx.request, keys::EVENTS]);
            tx.put(&events, 0_usize, "gone").expect("put");
        })),
        "existing_event_modified"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let events = at(tx, &[keys::VISIT_REQUESTS, &fx.request, keys::EVENTS]);
            tx.insert(&events, 0, "plain").expect("insert");
        })),
        "malformed_object"
    );
}

#[test]
fn requests_members_and_the_root_are_the_servers() {
    let fx = fixture();
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let requests = at(tx, &[keys::VISIT_REQUESTS]);
            tx.delete(&requests, fx.request.as_str()).expect("delete");
        })),
        "deletion_not_allowed"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let member = at(tx, &[keys::MEMBERS, &fx.amina.to_string()]);
            tx.put(&member, "display_name", "Queen Amina").expect("put");
        })),
        "server_only_path"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, _| {
            let members = at(tx, &[keys::MEMBERS]);
            let new = tx
                .put_object(&members, MemberId::new().to_string(), ObjType::Map)
                .expect("put");
            tx.put(&new, "display_name", "Stranger").expect("put");
        })),
        "server_only_path"
    );
    for key in [keys::FAMILY_ID, keys::SCHEMA_VERSION] {
        assert_eq!(
            code(fx.amina_writes(|tx, _| tx.put(ROOT, key, "x").expect("put"))),
            "server_only_path"
        );
    }
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let visitors = at(tx, &[keys::VISIT_REQUESTS, &fx.request, "visitors"]);
            tx.insert(&visitors, 1, fx.youssef.to_string())
                .expect("insert");
        })),
        "server_only_path"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let request = at(tx, &[keys::VISIT_REQUESTS, &fx.request]);
            tx.put(&request, "support_note", "changed").expect("put");
        })),
        "server_only_path"
    );
    // Replacing a whole request with a valid-looking new one.
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let requests = at(tx, &[keys::VISIT_REQUESTS]);
            let mut copy: DocVisitRequest =
                autosurgeon::hydrate_prop(tx, &requests, fx.request.as_str()).expect("read");
            copy.events.truncate(1);
            copy.events[0].id = "fresh".into();
            tx.delete(&requests, fx.request.as_str()).expect("delete");
            autosurgeon::reconcile_prop(tx, requests, fx.request.as_str(), &copy).expect("write");
        })),
        "server_only_path"
    );
}

#[test]
fn steps_invitations_and_their_lists_are_guarded() {
    let fx = fixture();
    let amina = Author::Member(fx.amina);
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let e = Event::new("ticked", 60, amina);
            let list = EventList::ChecklistItem {
                step: &fx.worker_step,
                item: "call",
            };
            write::append_event(tx, list, &e).expect("append");
        })),
        "step_not_family_owned"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let e = Event::new("completed", 60, amina);
            write::append_event(tx, EventList::Step(&fx.family_step), &e).expect("append");
        })),
        "server_only_path"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, _| {
            write::put_entry(tx, keys::STEPS, "mine", &step("mine", StepOwner::Family))
                .expect("step");
        })),
        "server_only_path"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let step = at(tx, &[keys::STEPS, &fx.family_step]);
            tx.put(&step, "owner", "worker").expect("put");
        })),
        "server_only_path"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            write::put_entry(tx, keys::INVITATIONS, "self", &invitation("self", fx.amina))
                .expect("inv");
        })),
        "server_only_path"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let answer = InvitationAnswer {
                answer: Rsvp::Declined,
                note: None,
                at: 60,
                by: amina,
            };
            let answers = at(
                tx,
                &[keys::INVITATIONS, &fx.youssef_invitation, keys::ANSWERS],
            );
            autosurgeon::reconcile_insert(tx, answers, 1, &answer).expect("insert");
        })),
        "not_own_invitation"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let answer = InvitationAnswer {
                answer: Rsvp::Declined,
                note: None,
                at: 60,
                by: Author::Member(fx.youssef),
            };
            let answers = at(
                tx,
                &[keys::INVITATIONS, &fx.amina_invitation, keys::ANSWERS],
            );
            autosurgeon::reconcile_insert(tx, answers, 0, &answer).expect("insert");
        })),
        "event_author_mismatch"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let e = Event::new("cancelled", 60, amina);
            write::append_event(tx, EventList::Appointment(&fx.appointment), &e).expect("append");
        })),
        "event_kind_not_allowed"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let e = Event::new("registered", 60, amina);
            write::append_event(tx, EventList::Registration(&fx.registration), &e).expect("append");
        })),
        "event_kind_not_allowed"
    );
}

#[test]
fn new_entries_must_open_properly_and_hold_nothing_else() {
    let fx = fixture();
    let amina = fx.amina;
    let put_request = |tx: &mut Transaction<'_>, key: &str, request: &DocVisitRequest| {
        let requests = at(tx, &[keys::VISIT_REQUESTS]);
        autosurgeon::reconcile_prop(tx, requests, key, request).expect("write");
    };
    let valid = || DocVisitRequest {
        id: "r-new".into(),
        detainee_id: DetaineeId::new(),
        prison_id: PrisonId::new(),
        visit_type: VisitType::Video,
        preferences: vec![slot()],
        visitors: vec![amina],
        support_needs: vec![],
        support_note: None,
        requested_by: amina,
        created_at: 70,
        events: vec![Event::new("requested", 70, Author::Member(amina))],
    };
    assert_eq!(
        code(fx.amina_writes(|tx, _| put_request(tx, "r-new", &valid()))),
        "ok"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, _| put_request(tx, "other-key", &valid()))),
        "id_mismatch"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            put_request(
                tx,
                "r-new",
                &DocVisitRequest {
                    requested_by: fx.youssef,
                    ..valid()
                },
            )
        })),
        "event_author_mismatch"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, _| {
            let mut request = valid();
            request.events[0].kind = "confirmed".into();
            put_request(tx, "r-new", &request);
        })),
        "event_kind_not_allowed"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, _| {
            let mut request = valid();
            request
                .events
                .push(Event::new("confirmed", 71, Author::Member(amina)));
            put_request(tx, "r-new", &request);
        })),
        "event_kind_not_allowed"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, _| put_request(
            tx,
            "r-new",
            &DocVisitRequest {
                events: vec![],
                ..valid()
            }
        ))),
        "event_kind_not_allowed"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, _| {
            put_request(tx, "r-new", &valid());
            let request = at(tx, &[keys::VISIT_REQUESTS, "r-new"]);
            tx.put(&request, "priority", "urgent").expect("put");
        })),
        "malformed_object"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, _| {
            put_request(tx, "r-new", &valid());
            let request = at(tx, &[keys::VISIT_REQUESTS, "r-new"]);
            tx.put(&request, "created_at", ScalarValue::counter(1))
                .expect("put");
        })),
        "malformed_object"
    );
    assert_eq!(
        code(fx.amina_writes(|tx, fx| {
            let appointments = at(tx, &[keys::APPOINTMENTS]);
            let appointment = Appointment {
                id: "a-new".into(),
                with_account: AccountId::new(),
                starts_at: 1,
                place: "x".into(),
                purpose: "y".into(),
                step_id: None,
                events: vec![Event::new("accepted", 1, Author::Member(fx.amina))],
            };
            autosurgeon::reconcile_prop(tx, appointments, "a-new", &appointment).expect("write");
        })),
        "event_kind_not_allowed"
    );
}

#[test]
fn a_concurrent_write_to_a_servers_path_is_refused_even_when_it_loses() {
    let fx = fixture();
    // The server renamed Amina meanwhile; the phone renames her too, from the older state.
    let mut server = fx
        .server
        .fork()
        .with_actor(ActorId::from(b"server".as_slice()));
    let mut tx = server.transaction();
    let member = at(&tx, &[keys::MEMBERS, &fx.amina.to_string()]);
    tx.put(&member, "display_name", "Amina B.").expect("put");
    tx.commit();
    for phone_actor in [b"a".as_slice(), b"zzzzzzzz".as_slice()] {
        let mut phone = fx.device.fork().with_actor(ActorId::from(phone_actor));
        let mut tx = phone.transaction();
        let member = at(&tx, &[keys::MEMBERS, &fx.amina.to_string()]);
        tx.put(&member, "display_name", "Amina A.").expect("put");
        tx.commit();
        let mut after = server.fork();
        after
            .load_incremental(&phone.save_after(&fx.server.get_heads()))
            .expect("load");
        let verdict = check_change(
            Writer::FamilyDevice {
                member_id: fx.amina,
            },
            &server,
            &after,
        );
        assert_eq!(code(verdict), "server_only_path");
    }
}

#[test]
fn the_server_may_write_anything_and_strangers_nothing() {
    let fx = fixture();
    let anything = |tx: &mut Transaction<'_>, fx: &Fixture| {
        append_to_request(tx, fx, Event::new("confirmed", 80, Author::Server));
        let requests = at(tx, &[keys::VISIT_REQUESTS]);
        tx.delete(&requests, fx.request.as_str()).expect("delete");
        tx.put(ROOT, keys::FAMILY_ID, FamilyId::new().to_string())
            .expect("put");
    };
    assert_eq!(code(fx.writes(Writer::Server, anything)), "ok");
    // The first offending patch is reported (here the root's `family_id`).
    assert_eq!(
        code(fx.writes(
            Writer::FamilyDevice {
                member_id: fx.amina
            },
            anything
        )),
        "server_only_path"
    );
    let stranger = Writer::FamilyDevice {
        member_id: MemberId::new(),
    };
    assert_eq!(
        code(fx.writes(stranger, |tx, fx| {
            write::add_note(tx, MemberId::new(), &fx.family_step, "hi", 80).expect("note");
        })),
        "unknown_member"
    );
    // Nothing written is nothing to refuse.
    assert_eq!(code(fx.writes(stranger, |_, _| {})), "ok");
}

#[test]
fn changes_by_another_actor_or_unrelated_documents_are_refused() {
    let fx = fixture();
    let mut forged = fx
        .device
        .fork()
        .with_actor(ActorId::from(b"server".as_slice()));
    let mut tx = forged.transaction();
    write::add_note(&mut tx, fx.amina, &fx.family_step, "as the server", 90).expect("note");
    tx.commit();
    let err = check_authorship(&fx.device, &forged, fx.device.get_actor()).expect_err("forged");
    assert_eq!(err.code, "foreign_actor");
    assert_eq!(err.to_error_body().error, "foreign_actor");

    let unrelated = new_document(FamilyId::new(), ActorId::random()).expect("document");
    let err = check_change(
        Writer::FamilyDevice {
            member_id: fx.amina,
        },
        &fx.device,
        &unrelated,
    )
    .expect_err("not a descendant");
    assert_eq!(err.code, "not_a_descendant");
}

/// A value of a type Automerge does not know, written into a member: Automerge's `diff` leaves
/// such a write out, the patches logged while applying the change do not (found by the
/// `sync_validate` fuzz target). Automerge 0.12 cannot even apply such a change (it panics):
/// `check_change` calls it malformed, as the sync endpoint does when its load panics.
#[test]
fn a_value_of_unknown_type_is_seen_by_every_check() {
    let fx = fixture();
    let amina = Writer::FamilyDevice {
        member_id: fx.amina,
    };
    let mut after = fx.device.fork().with_actor(fx.device.get_actor().clone());
    let mut tx = after
        .transaction_log_patches(automerge::PatchLog::active())
        .expect("patch log");
    let member = at(&tx, &[keys::MEMBERS, &fx.amina.to_string()]);
    let unknown = ScalarValue::Unknown {
        type_code: 233,
        bytes: vec![183; 12],
    };
    tx.put(&member, "", unknown).expect("put");
    let (_, mut log) = tx.commit_with(automerge::transaction::CommitOptions::default());
    let logged = after.make_patches(&mut log);
    assert_eq!(
        code(check_patches(amina, &fx.device, &after, &logged)),
        "server_only_path"
    );
    assert_eq!(
        code(check_change(amina, &fx.device, &after)),
        "malformed_changes"
    );
}
