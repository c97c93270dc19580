//! Convergence: three family devices and the server edit one family document concurrently,
//! offline, through the typed helpers, and sync through the server in random orders (as the sync
//! endpoint will: the device sends `save_after(last server heads)`, the server loads it into a
//! copy, checks actor and policy, keeps the copy and answers with what the device lacks). Every
//! valid edit must pass the policy on the server however it interleaves with the others, and at
//! the end every replica has the same heads, the same typed document and the same statuses.

use std::collections::BTreeMap;

use automerge::{ActorId, Automerge, ChangeHash, ReadDoc};
use chrono::NaiveDate;
use proptest::prelude::*;
use reguide_protocol::doc::status::{self, AppointmentEventKind, RegistrationState};
use reguide_protocol::doc::write::{
    self, EventList, NewDocAppointment, NewDocRegistration, NewDocVisitRequest,
};
use reguide_protocol::doc::{
    Author, DocMember, Event, FamilyDoc, Invitation, NextActor, Rsvp, Step, StepOwner, Writer,
    check_authorship, check_change, keys, new_document,
};
use reguide_protocol::visits::{SlotChoice, VisitStatus, VisitType};
use reguide_protocol::{AccountId, DetaineeId, FamilyId, Language, MemberId, PrisonId};
use uuid::Uuid;

const DEVICES: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    /// A family device edits offline.
    Device {
        device: usize,
        action: u8,
        pick: u16,
    },
    /// The server writes a decision or a staff action.
    Server { action: u8, pick: u16 },
    /// A device syncs: pushes its changes, then pulls the server's (by `merge` or by
    /// `save_after`/`load_incremental`).
    Sync { device: usize, by_merge: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..DEVICES, 0_u8..10, any::<u16>())
            .prop_map(|(device, action, pick)| Op::Device { device, action, pick }),
        2 => (0_u8..6, any::<u16>()).prop_map(|(action, pick)| Op::Server { action, pick }),
        3 => (0..DEVICES, any::<bool>()).prop_map(|(device, by_merge)| Op::Sync { device, by_merge }),
    ]
}

struct Device {
    doc: Automerge,
    member: MemberId,
    /// The server heads this device last received.
    server_heads: Vec<ChangeHash>,
}

struct World {
    server: Automerge,
    devices: Vec<Device>,
    clock: i64,
}

fn slot(pick: u16) -> SlotChoice {
    SlotChoice {
        template_id: Uuid::from_u128(u128::from(pick % 3)),
        date: NaiveDate::from_ymd_opt(2026, 7, 1 + u32::from(pick % 20)).expect("date"),
    }
}

fn nth<T: Clone>(items: impl IntoIterator<Item = T>, pick: u16) -> Option<T> {
    let items: Vec<T> = items.into_iter().collect();
    (!items.is_empty()).then(|| items[usize::from(pick) % items.len()].clone())
}

impl World {
    fn new() -> Self {
        let members: Vec<MemberId> = (0..DEVICES).map(|_| MemberId::new()).collect();
        let mut server =
            new_document(FamilyId::new(), ActorId::from(b"server".as_slice())).expect("document");
        let mut tx = server.transaction();
        for (n, member) in members.iter().enumerate() {
            let doc_member = DocMember {
                display_name: format!("Member {n}"),
                relation: "family".into(),
                language: Language::Nl,
            };
            write::put_member(&mut tx, *member, &doc_member).expect("member");
        }
        tx.commit();
        let saved = server.save();
        let devices = members
            .into_iter()
            .enumerate()
            .map(|(n, member)| Device {
                doc: Automerge::load(&saved)
                    .expect("load")
                    .with_actor(ActorId::from(format!("device-{n}").into_bytes())),
                member,
                server_heads: server.get_heads(),
            })
            .collect();
        Self {
            server,
            devices,
            clock: 1_000,
        }
    }

    fn tick(&mut self, pick: u16) -> i64 {
        self.clock += 1;
        // Clocks disagree a little, so that instants tie and run backwards between writers.
        self.clock + i64::from(pick % 3) - 1
    }

    fn device_edit(&mut self, device: usize, action: u8, pick: u16) {
        let at = self.tick(pick);
        let Device { doc, member, .. } = &mut self.devices[device];
        let member = *member;
        let view = FamilyDoc::read(doc).expect("a device's copy always reads");
        let writer = Writer::FamilyDevice { member_id: member };
        let request = nth(view.visit_requests.keys().cloned(), pick);
        let result = match action {
            0 => write::checked(doc, writer, |tx| {
                let request = NewDocVisitRequest {
                    detainee_id: DetaineeId(Uuid::from_u128(1)),
                    prison_id: PrisonId(Uuid::from_u128(2)),
                    visit_type: VisitType::Table,
                    preferences: vec![slot(pick)],
                    visitors: vec![member],
                    support_needs: vec![],
                    support_note: None,
                };
                write::request_visit(tx, member, request, at).map(drop)
            }),
            1 | 2 => {
                let Some(request) = request else { return };
                write::checked(doc, writer, |tx| {
                    if action == 1 {
                        write::ask_to_withdraw_visit(tx, member, &request, at).map(drop)
                    } else {
                        write::ask_to_cancel_visit(tx, member, &request, at).map(drop)
                    }
                })
            }
            3 => {
                let proposed = view.visit_requests.values().filter(|r| {
                    r.events
                        .iter()
                        .any(|e| e.kind == "proposed" && e.by == Author::Server)
                });
                let Some(request) = nth(proposed.map(|r| r.id.clone()), pick) else {
                    return;
                };
                write::checked(doc, writer, |tx| {
                    write::accept_proposal(tx, member, &request, at).map(drop)
                })
            }
            4 => write::checked(doc, writer, |tx| {
                let registration = NewDocRegistration {
                    family_day_id: Uuid::from_u128(u128::from(pick % 2)),
                    adults: 1,
                    children: i64::from(pick % 3),
                };
                write::register_for_family_day(tx, member, registration, at).map(drop)
            }),
            5 => {
                let Some(id) = nth(view.family_day_registrations.keys().cloned(), pick) else {
                    return;
                };
                write::checked(doc, writer, |tx| {
                    write::ask_to_cancel_registration(tx, member, &id, at).map(drop)
                })
            }
            6 => {
                let items = view
                    .steps
                    .values()
                    .filter(|s| s.owner == StepOwner::Family)
                    .flat_map(|s| s.checklist.keys().map(|item| (s.id.clone(), item.clone())));
                let Some((step, item)) = nth(items, pick) else {
                    return;
                };
                write::checked(doc, writer, |tx| {
                    write::tick_item(tx, member, &step, &item, pick.is_multiple_of(2), at).map(drop)
                })
            }
            7 => {
                let Some(step) = nth(view.steps.keys().cloned(), pick) else {
                    return;
                };
                write::checked(doc, writer, |tx| {
                    write::add_note(tx, member, &step, &format!("note {pick}"), at).map(drop)
                })
            }
            8 => match nth(view.appointments.keys().cloned(), pick) {
                Some(id) if !pick.is_multiple_of(3) => write::checked(doc, writer, |tx| {
                    let answer = [
                        AppointmentEventKind::Accepted,
                        AppointmentEventKind::Declined,
                    ][usize::from(pick % 2)];
                    write::answer_appointment(tx, member, &id, answer, at).map(drop)
                }),
                _ => write::checked(doc, writer, |tx| {
                    let appointment = NewDocAppointment {
                        with_account: AccountId(Uuid::from_u128(3)),
                        starts_at: at + 86_400_000,
                        place: "CPAS".into(),
                        purpose: "Papers".into(),
                        step_id: None,
                    };
                    write::propose_appointment(tx, member, appointment, at).map(drop)
                }),
            },
            _ => {
                let own = view.invitations.values().filter(|i| i.member_id == member);
                let Some(id) = nth(own.map(|i| i.id.clone()), pick) else {
                    return;
                };
                write::checked(doc, writer, |tx| {
                    let answer = Rsvp::ALL[usize::from(pick) % Rsvp::ALL.len()];
                    write::answer_invitation(tx, member, &id, answer, None, at)
                })
            }
        };
        result.expect("a helper's edit passes the device's own check");
    }

    fn server_edit(&mut self, action: u8, pick: u16) {
        let at = self.tick(pick);
        let view = FamilyDoc::read(&self.server).expect("the server's copy reads");
        let members: Vec<MemberId> = self.devices.iter().map(|d| d.member).collect();
        let staff = Some(AccountId(Uuid::from_u128(9)));
        let before = self.server.fork();
        let mut tx = self.server.transaction();
        match action {
            0 => {
                let Some(request) = nth(view.visit_requests.values().cloned(), pick) else {
                    return;
                };
                let kinds = [
                    "confirmed",
                    "proposed",
                    "declined",
                    "cancelled",
                    "withdrawn",
                    "amended",
                    "intent_refused",
                ];
                let kind = kinds[usize::from(pick) % kinds.len()];
                let mut event = Event {
                    staff_account: staff,
                    ..Event::new(kind, at, Author::Server)
                };
                match kind {
                    "confirmed" | "proposed" | "amended" => event.slot = Some(slot(pick)),
                    "intent_refused" => {
                        let open = status::open_visit_intents(&request.events);
                        let Some(intent) = nth(open.into_iter().map(|e| e.id.clone()), pick) else {
                            return;
                        };
                        event.refers_to = Some(intent);
                    }
                    _ => {}
                }
                write::server_event(&mut tx, EventList::VisitRequest(&request.id), event)
                    .expect("event");
            }
            1 => {
                let Some(id) = nth(view.family_day_registrations.keys().cloned(), pick) else {
                    return;
                };
                let kinds = ["registered", "waitlisted", "declined", "cancelled"];
                let event = Event::new(kinds[usize::from(pick) % kinds.len()], at, Author::Server);
                write::server_event(&mut tx, EventList::Registration(&id), event).expect("event");
            }
            2 => {
                let Some(id) = nth(view.appointments.keys().cloned(), pick) else {
                    return;
                };
                let kinds = ["accepted", "tentative", "cancelled"];
                let event = Event::new(kinds[usize::from(pick) % kinds.len()], at, Author::Server);
                write::server_event(&mut tx, EventList::Appointment(&id), event).expect("event");
            }
            3 => {
                let id = format!("step-{pick}-{at}");
                let step = Step {
                    id: id.clone(),
                    title: "A step".into(),
                    category: "documents".into(),
                    owner: if pick.is_multiple_of(2) {
                        StepOwner::Family
                    } else {
                        StepOwner::Worker
                    },
                    description: String::new(),
                    due_date: None,
                    next_actor: NextActor::Family,
                    agency: None,
                    documents: Vec::new(),
                    template: None,
                    checklist: BTreeMap::new(),
                    notes: vec![],
                    events: vec![Event {
                        staff_account: staff,
                        ..Event::new("created", at, Author::Server)
                    }],
                };
                write::put_entry(&mut tx, keys::STEPS, &id, &step).expect("step");
                write::add_checklist_item(&mut tx, &id, "first", "First thing").expect("item");
            }
            4 => {
                let Some(step) = nth(view.steps.values().cloned(), pick) else {
                    return;
                };
                if pick.is_multiple_of(2) {
                    write::add_checklist_item(&mut tx, &step.id, &format!("item-{at}"), "Another")
                        .expect("item");
                } else if let Some(item) = nth(step.checklist.keys().cloned(), pick) {
                    let list = EventList::ChecklistItem {
                        step: &step.id,
                        item: &item,
                    };
                    write::server_event(&mut tx, list, Event::new("ticked", at, Author::Server))
                        .expect("tick");
                }
            }
            _ => {
                let id = format!("inv-{pick}-{at}");
                let invitation = Invitation {
                    id: id.clone(),
                    session_id: "lab".into(),
                    member_id: members[usize::from(pick) % members.len()],
                    title: "Living Lab".into(),
                    starts_at: at + 1,
                    answers: vec![],
                    place: None,
                    summary: None,
                };
                write::put_entry(&mut tx, keys::INVITATIONS, &id, &invitation).expect("invitation");
            }
        }
        tx.commit();
        check_change(Writer::Server, &before, &self.server).expect("the server writes anything");
    }

    fn push(&mut self, device: usize) {
        let Device {
            doc,
            member,
            server_heads,
        } = &self.devices[device];
        let changes = doc.save_after(server_heads);
        let mut copy = self
            .server
            .fork()
            .with_actor(self.server.get_actor().clone());
        copy.load_incremental(&changes).expect("load");
        assert!(
            copy.get_missing_deps(&[]).is_empty(),
            "nothing waits for a dependency"
        );
        check_authorship(&self.server, &copy, doc.get_actor()).expect("only the device's changes");
        if let Err(violation) = check_change(
            Writer::FamilyDevice { member_id: *member },
            &self.server,
            &copy,
        ) {
            panic!("a valid concurrent edit was refused on the server: {violation}");
        }
        self.server = copy;
    }

    fn pull(&mut self, device: usize, by_merge: bool) {
        let Device {
            doc, server_heads, ..
        } = &mut self.devices[device];
        if by_merge {
            doc.merge(&mut self.server.fork()).expect("merge");
        } else {
            doc.load_incremental(&self.server.save_after(&doc.get_heads()))
                .expect("load");
        }
        assert!(doc.get_missing_deps(&[]).is_empty());
        *server_heads = self.server.get_heads();
    }

    fn run(&mut self, op: &Op) {
        match *op {
            Op::Device {
                device,
                action,
                pick,
            } => self.device_edit(device, action, pick),
            Op::Server { action, pick } => self.server_edit(action, pick),
            Op::Sync { device, by_merge } => {
                self.push(device);
                self.pull(device, by_merge);
            }
        }
    }
}

/// Every status the app shows, computed from one replica.
#[derive(Debug, PartialEq)]
struct Statuses {
    visits: BTreeMap<String, (VisitStatus, Option<SlotChoice>, usize)>,
    registrations: BTreeMap<String, RegistrationState>,
    appointments: BTreeMap<String, status::AppointmentStatus>,
    items: BTreeMap<(String, String), bool>,
    steps: BTreeMap<String, status::StepStatus>,
    answers: BTreeMap<String, Option<Rsvp>>,
}

fn statuses(doc: &FamilyDoc) -> Statuses {
    Statuses {
        visits: doc
            .visit_requests
            .iter()
            .map(|(id, r)| {
                let status = status::visit_request_status(&r.events);
                let open = status::open_visit_intents(&r.events).len();
                (
                    id.clone(),
                    (status, status::visit_request_slot(&r.events), open),
                )
            })
            .collect(),
        registrations: doc
            .family_day_registrations
            .iter()
            .map(|(id, r)| (id.clone(), status::registration_status(&r.events)))
            .collect(),
        appointments: doc
            .appointments
            .iter()
            .map(|(id, a)| (id.clone(), status::appointment_status(&a.events)))
            .collect(),
        items: doc
            .steps
            .values()
            .flat_map(|s| {
                s.checklist.iter().map(|(item, i)| {
                    (
                        (s.id.clone(), item.clone()),
                        status::checklist_item_ticked(&i.events),
                    )
                })
            })
            .collect(),
        steps: doc
            .steps
            .iter()
            .map(|(id, s)| (id.clone(), status::step_status(&s.events)))
            .collect(),
        answers: doc
            .invitations
            .iter()
            .map(|(id, i)| (id.clone(), status::invitation_rsvp(&i.answers)))
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn three_devices_and_the_server_converge(ops in proptest::collection::vec(op(), 1..40)) {
        let mut world = World::new();
        // Something to tick and answer from the start.
        world.server_edit(3, 0);
        world.server_edit(5, 0);
        world.server_edit(5, 1);
        for op in &ops {
            world.run(op);
        }
        for device in 0..DEVICES {
            world.push(device);
        }
        for device in 0..DEVICES {
            world.pull(device, device % 2 == 0);
        }

        let heads = world.server.get_heads();
        let typed = FamilyDoc::read(&world.server).expect("read");
        let expected = statuses(&typed);
        for device in &world.devices {
            prop_assert_eq!(&device.doc.get_heads(), &heads);
            let theirs = FamilyDoc::read(&device.doc).expect("read");
            prop_assert_eq!(&theirs, &typed);
            prop_assert_eq!(&statuses(&theirs), &expected);
        }
        // Whatever merged, every event a device wrote is in its member's name.
        for request in typed.visit_requests.values() {
            prop_assert!(request.events.iter().all(|e| e.by.is_server() || e.by == Author::Member(request.requested_by)
                || typed.members.contains_key(&e.by.to_text())));
        }
    }
}

/// The case the precedence was chosen for, on real documents: a family withdraws a pending
/// request offline while the coordinator confirms it. Whichever reaches the other first, every
/// replica ends *withdrawn* (the family's "we won't come" beats a concurrent confirmation), and
/// the server then has exactly that intent open to act on (give the place back).
#[test]
fn a_withdrawal_and_a_concurrent_confirmation_end_withdrawn_in_either_order() {
    for device_first in [true, false] {
        let mut world = World::new();
        let member = world.devices[0].member;
        let writer = Writer::FamilyDevice { member_id: member };
        let request = write::checked(&mut world.devices[0].doc, writer, |tx| {
            let request = NewDocVisitRequest {
                detainee_id: DetaineeId::new(),
                prison_id: PrisonId::new(),
                visit_type: VisitType::Closed,
                preferences: vec![slot(1)],
                visitors: vec![member],
                support_needs: vec![],
                support_note: None,
            };
            write::request_visit(tx, member, request, 10)
        })
        .expect("request");
        world.push(0);
        world.pull(0, false);

        // Offline on both sides: the coordinator confirms (later by the clock), the family
        // withdraws.
        let mut tx = world.server.transaction();
        let confirmed = Event {
            slot: Some(slot(1)),
            staff_account: Some(AccountId::new()),
            ..Event::new("confirmed", 30, Author::Server)
        };
        write::server_event(&mut tx, EventList::VisitRequest(&request), confirmed)
            .expect("confirm");
        tx.commit();
        write::checked(&mut world.devices[0].doc, writer, |tx| {
            write::ask_to_withdraw_visit(tx, member, &request, 20)
        })
        .expect("withdraw");

        let status_of = |doc: &Automerge| {
            let typed = FamilyDoc::read(doc).expect("read");
            let events = &typed.visit_requests[&request].events;
            (
                status::visit_request_status(events),
                status::open_visit_intents(events).len(),
            )
        };
        if device_first {
            world.push(0);
            assert_eq!(status_of(&world.server), (VisitStatus::Withdrawn, 1));
            world.pull(0, true);
        } else {
            // The phone hears of the confirmation first (e.g. from another sync path).
            world.devices[0]
                .doc
                .merge(&mut world.server.fork())
                .expect("merge");
            assert_eq!(
                status_of(&world.devices[0].doc),
                (VisitStatus::Withdrawn, 1)
            );
            world.push(0);
            world.pull(0, false);
        }
        assert_eq!(status_of(&world.server), (VisitStatus::Withdrawn, 1));
        assert_eq!(
            status_of(&world.devices[0].doc),
            (VisitStatus::Withdrawn, 1)
        );
        assert_eq!(world.server.get_heads(), world.devices[0].doc.get_heads());
    }
}
