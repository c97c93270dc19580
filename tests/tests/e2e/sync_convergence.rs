//! Convergence of family documents under concurrent offline edits, on both backends: three
//! devices of one family edit offline and sync in random orders while a coordinator decides
//! through the REST API; at the end every copy is the same and says what the REST API says.
//! And two server instances on one PostgreSQL database: concurrent syncs of one family through
//! both land exactly once, and a family's first sync through both at once creates one document.

use std::fmt;

use automerge::{ActorId, Automerge, ChangeHash};
use chrono::{Duration, NaiveDate, Utc, Weekday};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, TestError, TestRunner};
use reguide_tests::protocol::api::{EnrolResponse, EnrolmentCode, TokenResponse};
use reguide_tests::protocol::doc::status::{
    RegistrationState, VisitEventKind, registration_status, visit_request_status,
};
use reguide_tests::protocol::doc::write::{self, NewDocRegistration, NewDocVisitRequest};
use reguide_tests::protocol::doc::{DocError, Event, FamilyDoc, Writer};
use reguide_tests::protocol::family_days::{FamilyDay, Registration, RegistrationStatus};
use reguide_tests::protocol::sync::{ResponseKind, SyncRequest, SyncResponse};
use reguide_tests::protocol::visits::{SlotChoice, VisitStatus, VisitType};
use reguide_tests::protocol::{DetaineeId, FamilyId, MemberId, PrisonId};
use reguide_tests::visits::{REQUESTS, VisitingFamily, join_all_local, next_weekday, request_body};
use reguide_tests::{Backend, DemoUser, TestApp, both_backends, expect_json};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const OCTET: &str = "application/octet-stream";

fn sync_path(family: FamilyId) -> String {
    format!("/api/v1/families/{family}/sync")
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

/// A phone: its token, its actor, its copy of the document and the server heads it last saw.
struct Device {
    name: String,
    token: String,
    actor: ActorId,
    member: MemberId,
    family: FamilyId,
    doc: Option<Automerge>,
    server_heads: Vec<ChangeHash>,
}

impl Device {
    fn new(name: &str, session: TokenResponse, family: FamilyId, member: MemberId) -> Self {
        let device = session.device.expect("a device is enrolled");
        Self {
            name: name.to_owned(),
            actor: ActorId::from(hex::decode(&device.actor_id).expect("hex actor id")),
            token: session.token,
            member,
            family,
            doc: None,
            server_heads: Vec::new(),
        }
    }

    /// The request this device would send now.
    fn request(&self) -> Vec<u8> {
        reguide_tests::sync::request_body(self.doc.as_ref(), &self.server_heads)
    }

    /// Applies a successful response, as a client does.
    fn absorb(&mut self, response: &SyncResponse) {
        self.server_heads = reguide_tests::sync::absorb(&mut self.doc, &self.actor, response);
    }

    fn doc(&mut self) -> &mut Automerge {
        self.doc.as_mut().expect("synced once")
    }

    fn heads(&self) -> Vec<ChangeHash> {
        sorted(self.doc.as_ref().expect("synced once").get_heads())
    }

    fn read(&self) -> FamilyDoc {
        FamilyDoc::read(self.doc.as_ref().expect("synced once")).expect("reads as FamilyDoc")
    }

    /// Runs `edit` as the app does before it commits: checked against the device's policy.
    fn edit<T>(
        &mut self,
        edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<T, DocError>,
    ) -> Result<T, DocError> {
        let writer = Writer::FamilyDevice {
            member_id: self.member,
        };
        write::checked(self.doc(), writer, edit)
    }
}

async fn post_sync(
    app: &TestApp,
    family: FamilyId,
    token: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.post_raw(&sync_path(family), Some(token), OCTET, body)
        .await
}

/// Syncs `device` through `app`, expecting success.
async fn sync(app: &TestApp, device: &mut Device) -> SyncResponse {
    let resp = post_sync(app, device.family, &device.token, device.request()).await;
    let status = resp.status();
    let bytes = resp.bytes().await.expect("body");
    assert_eq!(
        status,
        200,
        "sync of {} through {} refused: {}",
        device.name,
        app.address,
        String::from_utf8_lossy(&bytes)
    );
    let response = SyncResponse::decode(&bytes).expect("a valid response frame");
    device.absorb(&response);
    response
}

/// The server's whole document now, as a new device would get it, through `app`.
async fn server_document(app: &TestApp, token: &str, family: FamilyId) -> Automerge {
    let body = SyncRequest {
        heads: vec![],
        changes: vec![],
    }
    .encode()
    .expect("encode");
    let resp = post_sync(app, family, token, body).await;
    assert_eq!(resp.status(), 200);
    let response = SyncResponse::decode(&resp.bytes().await.expect("body")).expect("frame");
    assert_eq!(response.kind, ResponseKind::FullDocument);
    let doc = Automerge::load(&response.data).expect("the document loads");
    assert_eq!(
        sorted(doc.get_heads()),
        sorted(response.heads),
        "the answered heads are the document's"
    );
    doc
}

/// `count` devices of the only member of `family`: the first enrolled with a code from `admin`,
/// the others signed in with the password chosen at enrolment. None has synced yet.
async fn enrol_devices(
    app: &TestApp,
    admin: &str,
    family: &VisitingFamily,
    count: usize,
) -> Vec<Device> {
    let member = family.visitor();
    let path = format!(
        "/api/v1/families/{}/members/{member}/enrolment-codes",
        family.id
    );
    let code: EnrolmentCode = expect_json(app.post_empty(&path, Some(admin)).await, 201).await;
    let password = "a long enough secret";
    let body = json!({ "code": code.code, "password": password, "device_name": "phone" });
    let enrolled: EnrolResponse =
        expect_json(app.post_json("/api/v1/auth/enrol", None, &body).await, 200).await;
    let mut devices = vec![Device::new("phone", enrolled.session, family.id, member)];
    for name in ["tablet", "laptop", "desktop"].into_iter().take(count - 1) {
        let body = json!({
            "email": enrolled.username,
            "password": password,
            "device_name": name,
        });
        let session: TokenResponse =
            expect_json(app.post_json("/api/v1/auth/login", None, &body).await, 200).await;
        devices.push(Device::new(name, session, family.id, member));
    }
    let actors: std::collections::HashSet<_> = devices.iter().map(|d| d.actor.clone()).collect();
    assert_eq!(actors.len(), count, "each device has its own actor");
    devices
}

/// A visit request of `member` for `preferences`; `known: false` names a prison and a detained
/// person the server does not know (a valid edit that the server declines).
fn new_request(
    member: MemberId,
    family: &VisitingFamily,
    preferences: Vec<SlotChoice>,
    known: bool,
) -> NewDocVisitRequest {
    let (detainee_id, prison_id) = if known {
        (family.detainee, family.prison)
    } else {
        (DetaineeId::new(), PrisonId::new())
    };
    NewDocVisitRequest {
        detainee_id,
        prison_id,
        visit_type: VisitType::Table,
        preferences,
        visitors: vec![member],
        support_needs: vec![],
        support_note: None,
    }
}

// ---- Convergence: random offline edits, syncs and staff decisions -----------------------------

/// What staff do through the REST API.
#[derive(Clone, Debug)]
enum StaffAction {
    /// Confirms a pending request (its first choice).
    Confirm,
    /// Declines a pending request.
    Decline,
    /// Proposes slot `n` of the case for a pending request.
    Propose(usize),
    /// Cancels a confirmed visit.
    Cancel,
    /// Asks for a visit in slot `n` for the family (a request made at the desk).
    RequestForFamily(usize),
    /// Cancels one of the family's registrations for the family day.
    CancelRegistration,
}

/// One step of a script. Indexes pick among what exists when the step runs; a step with nothing
/// to act on is skipped.
#[derive(Clone)]
enum Op {
    /// Device `device` asks for a visit: slot `first`, and slot `second` too when given;
    /// `known: false` for a prison the server does not know.
    Request {
        device: usize,
        first: usize,
        second: Option<usize>,
        known: bool,
    },
    /// Device `device` asks to withdraw one of the requests it knows of.
    Withdraw {
        device: usize,
        pick: Index,
    },
    /// Device `device` asks to cancel one of the requests it knows of.
    Cancel {
        device: usize,
        pick: Index,
    },
    /// Device `device` accepts a proposal it has seen.
    AcceptProposal {
        device: usize,
        pick: Index,
    },
    /// Device `device` registers the family for the family day.
    Register {
        device: usize,
        adults: i64,
        children: i64,
    },
    /// Device `device` asks to cancel a registration it knows of.
    CancelRegistration {
        device: usize,
        pick: Index,
    },
    Sync {
        device: usize,
    },
    /// Every device syncs, all at once.
    SyncAll,
    /// Staff act on one of the family's requests or registrations, as the REST API lists them.
    Staff {
        action: StaffAction,
        pick: Index,
    },
}

impl fmt::Debug for Op {
    // Short, one line per step: the script is printed when a case fails.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Which one of those that exist, in thousandths.
        let pick = |i: &Index| i.index(1_000);
        match self {
            Self::Request {
                device,
                first,
                second,
                known,
            } => write!(
                f,
                "device {device}: request slot {first}{}{}",
                second.map(|s| format!(" then {s}")).unwrap_or_default(),
                if *known { "" } else { " (unknown prison)" }
            ),
            Self::Withdraw { device, pick: i } => {
                write!(f, "device {device}: withdraw request #{}", pick(i))
            }
            Self::Cancel { device, pick: i } => {
                write!(f, "device {device}: cancel request #{}", pick(i))
            }
            Self::AcceptProposal { device, pick: i } => {
                write!(f, "device {device}: accept proposal #{}", pick(i))
            }
            Self::Register {
                device,
                adults,
                children,
            } => write!(
                f,
                "device {device}: register {adults} adults, {children} children"
            ),
            Self::CancelRegistration { device, pick: i } => {
                write!(f, "device {device}: cancel registration #{}", pick(i))
            }
            Self::Sync { device } => write!(f, "device {device}: sync"),
            Self::SyncAll => write!(f, "every device: sync at once"),
            Self::Staff { action, pick: i } => write!(f, "staff: {action:?} #{}", pick(i)),
        }
    }
}

const DEVICES: usize = 3;
/// Slots a request may name: three weeks of the case's two sessions.
const SLOTS: usize = 6;

fn op() -> impl Strategy<Value = Op> {
    let device = 0..DEVICES;
    let staff = prop_oneof![
        3 => Just(StaffAction::Confirm),
        1 => Just(StaffAction::Decline),
        1 => (0..SLOTS).prop_map(StaffAction::Propose),
        1 => Just(StaffAction::Cancel),
        1 => (0..SLOTS).prop_map(StaffAction::RequestForFamily),
        1 => Just(StaffAction::CancelRegistration),
    ];
    prop_oneof![
        5 => (device.clone(), 0..SLOTS, proptest::option::of(0..SLOTS), proptest::bool::weighted(0.85))
            .prop_map(|(device, first, second, known)| {
                let second = second.filter(|s| *s != first);
                Op::Request { device, first, second, known }
            }),
        2 => (device.clone(), any::<Index>()).prop_map(|(device, pick)| Op::Withdraw { device, pick }),
        2 => (device.clone(), any::<Index>()).prop_map(|(device, pick)| Op::Cancel { device, pick }),
        1 => (device.clone(), any::<Index>())
            .prop_map(|(device, pick)| Op::AcceptProposal { device, pick }),
        1 => (device.clone(), 1_i64..=2, 0_i64..=1)
            .prop_map(|(device, adults, children)| Op::Register { device, adults, children }),
        1 => (device.clone(), any::<Index>())
            .prop_map(|(device, pick)| Op::CancelRegistration { device, pick }),
        6 => device.prop_map(|device| Op::Sync { device }),
        1 => Just(Op::SyncAll),
        5 => (staff, any::<Index>()).prop_map(|(action, pick)| Op::Staff { action, pick }),
    ]
}

fn script() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 6..28)
}

/// What every case shares: the demo, staff tokens and a family day at Brugge.
struct Fixture {
    admin: String,
    coordinator: String,
    brugge: PrisonId,
    family_day: Uuid,
}

impl Fixture {
    async fn new(app: &TestApp) -> Self {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let date = Utc::now().date_naive() + Duration::days(30);
        let deadline = (date - Duration::days(2))
            .and_hms_opt(12, 0, 0)
            .expect("noon")
            .and_utc();
        let body = json!({
            "title": "Family day",
            "date": date,
            "starts_at": "10:00",
            "ends_at": "16:00",
            "programme": "Games, lunch together, photos",
            // Few places: later cases wait, and cancellations let waiting families in.
            "capacity_families": 3,
            "capacity_people": 1000,
            "registration_deadline": deadline,
        });
        let path = format!("/api/v1/prisons/{}/family-days", demo.brugge);
        let day: FamilyDay =
            expect_json(app.post_json(&path, Some(&admin), &body).await, 201).await;
        Self {
            admin,
            coordinator,
            brugge: demo.brugge,
            family_day: day.id,
        }
    }
}

/// One case: its own family at Brugge (which leaves every decision to the coordinator), three
/// devices and two sessions of its own.
struct Case<'a> {
    app: &'a TestApp,
    fixture: &'a Fixture,
    family: VisitingFamily,
    devices: Vec<Device>,
    slots: Vec<SlotChoice>,
    /// What happened, step by step, for the failure message.
    log: Vec<String>,
}

impl<'a> Case<'a> {
    async fn new(app: &'a TestApp, fixture: &'a Fixture) -> Self {
        let label = format!("Convergence {}", Uuid::new_v4().simple());
        let family = app
            .new_visiting_family(&fixture.admin, fixture.brugge, &label)
            .await;
        let mut devices = enrol_devices(app, &fixture.admin, &family, DEVICES).await;
        for device in &mut devices {
            sync(app, device).await;
        }
        let mut slots = Vec::with_capacity(SLOTS);
        for weekday in [Weekday::Tue, Weekday::Thu] {
            let session = app
                .table_session(&fixture.coordinator, fixture.brugge, weekday, 50)
                .await;
            let first = next_weekday(weekday, 3);
            slots.extend((0..3).map(|week| SlotChoice {
                template_id: session.id,
                date: first + Duration::weeks(week),
            }));
        }
        Self {
            app,
            fixture,
            family,
            devices,
            slots,
            log: Vec::new(),
        }
    }

    fn note(&mut self, step: &Op, outcome: impl fmt::Display) {
        self.log.push(format!("{step:?}: {outcome}"));
    }

    /// The keys of `device`'s requests that `keep` accepts, in a stable order.
    fn requests_of(&self, device: usize, keep: impl Fn(&FamilyDoc, &str) -> bool) -> Vec<String> {
        let doc = self.devices[device].read();
        doc.visit_requests
            .keys()
            .filter(|k| keep(&doc, k))
            .cloned()
            .collect()
    }

    /// A local edit as the app makes it; a refusal by the local policy check is not an edit.
    fn local(
        &mut self,
        step: &Op,
        device: usize,
        edit: impl FnOnce(&mut Device) -> Result<String, DocError>,
    ) {
        let outcome = match edit(&mut self.devices[device]) {
            Ok(id) => format!("wrote {id}"),
            Err(e) => format!("refused locally: {}", e.code()),
        };
        self.note(step, outcome);
    }

    async fn run(&mut self, step: &Op) {
        let member = self.family.visitor();
        match step.clone() {
            Op::Request {
                device,
                first,
                second,
                known,
            } => {
                let mut preferences = vec![self.slots[first]];
                if let Some(second) = second {
                    preferences.push(self.slots[second]);
                }
                let request = new_request(member, &self.family, preferences, known);
                self.local(step, device, |d| {
                    d.edit(|tx| write::request_visit(tx, member, request, now_ms()))
                });
            }
            Op::Withdraw { device, pick } | Op::Cancel { device, pick } => {
                let ids = self.requests_of(device, |_, _| true);
                if ids.is_empty() {
                    return self.note(step, "skipped: no request");
                }
                let id = ids[pick.index(ids.len())].clone();
                let withdraw = matches!(step, Op::Withdraw { .. });
                self.local(step, device, |d| {
                    d.edit(|tx| {
                        if withdraw {
                            write::ask_to_withdraw_visit(tx, member, &id, now_ms())
                        } else {
                            write::ask_to_cancel_visit(tx, member, &id, now_ms())
                        }
                    })
                    .map(|event| format!("{event} on {id}"))
                });
            }
            Op::AcceptProposal { device, pick } => {
                let proposed = VisitEventKind::Proposed.as_str();
                let ids = self.requests_of(device, |doc, k| {
                    doc.visit_requests[k]
                        .events
                        .iter()
                        .any(|e| e.kind == proposed && e.by.is_server())
                });
                if ids.is_empty() {
                    return self.note(step, "skipped: no proposal");
                }
                let id = ids[pick.index(ids.len())].clone();
                self.local(step, device, |d| {
                    d.edit(|tx| write::accept_proposal(tx, member, &id, now_ms()))
                        .map(|event| format!("{event} on {id}"))
                });
            }
            Op::Register {
                device,
                adults,
                children,
            } => {
                let registration = NewDocRegistration {
                    family_day_id: self.fixture.family_day,
                    adults,
                    children,
                };
                self.local(step, device, |d| {
                    d.edit(|tx| write::register_for_family_day(tx, member, registration, now_ms()))
                });
            }
            Op::CancelRegistration { device, pick } => {
                let doc = self.devices[device].read();
                let ids: Vec<String> = doc.family_day_registrations.keys().cloned().collect();
                if ids.is_empty() {
                    return self.note(step, "skipped: no registration");
                }
                let id = ids[pick.index(ids.len())].clone();
                self.local(step, device, |d| {
                    d.edit(|tx| write::ask_to_cancel_registration(tx, member, &id, now_ms()))
                        .map(|event| format!("{event} on {id}"))
                });
            }
            Op::Sync { device } => {
                let response = sync(self.app, &mut self.devices[device]).await;
                self.note(step, format!("{} bytes back", response.data.len()));
            }
            Op::SyncAll => {
                let app = self.app;
                let responses = join_all_local(self.devices.iter_mut().map(|d| sync(app, d))).await;
                let sizes: Vec<usize> = responses.iter().map(|r| r.data.len()).collect();
                self.note(step, format!("{sizes:?} bytes back"));
            }
            Op::Staff { action, pick } => self.staff(step, action, pick).await,
        }
    }

    async fn staff(&mut self, step: &Op, action: StaffAction, pick: Index) {
        let app = self.app;
        let (admin, coordinator) = (&self.fixture.admin, &self.fixture.coordinator);
        let (family, day) = (self.family.id, self.fixture.family_day);
        let (method, path, body, token) = match action {
            StaffAction::RequestForFamily(n) => {
                let slot = self.slots[n];
                let body = request_body(
                    family,
                    self.family.detainee,
                    "table",
                    &[(slot.template_id, slot.date)],
                    &[self.family.visitor()],
                );
                (Method::POST, REQUESTS.to_owned(), Some(body), admin)
            }
            StaffAction::CancelRegistration => {
                let path = format!("/api/v1/families/{family}/family-day-registrations");
                let listed: Vec<Registration> =
                    expect_json(app.get(&path, Some(admin)).await, 200).await;
                let ids: Vec<Uuid> = listed
                    .iter()
                    .filter(|r| r.status != RegistrationStatus::Cancelled)
                    .map(|r| r.id)
                    .collect();
                if ids.is_empty() {
                    return self.note(step, "skipped: no registration");
                }
                let id = ids[pick.index(ids.len())];
                let path = format!("/api/v1/family-days/{day}/registrations/{id}");
                (Method::DELETE, path, None, coordinator)
            }
            StaffAction::Confirm
            | StaffAction::Decline
            | StaffAction::Propose(_)
            | StaffAction::Cancel => {
                let wanted = match action {
                    StaffAction::Cancel => VisitStatus::Confirmed,
                    _ => VisitStatus::Pending,
                };
                let candidates: Vec<Uuid> = app
                    .visit_requests(coordinator, family)
                    .await
                    .into_iter()
                    .filter(|r| r.status == wanted)
                    .map(|r| r.id)
                    .collect();
                if candidates.is_empty() {
                    return self.note(step, format!("skipped: nothing {wanted}"));
                }
                let id = candidates[pick.index(candidates.len())];
                let (action, body) = match action {
                    StaffAction::Confirm => ("decision", json!({ "action": "confirm", "rank": 1 })),
                    StaffAction::Decline => (
                        "decision",
                        json!({ "action": "decline", "reason": "no_capacity" }),
                    ),
                    StaffAction::Propose(n) => (
                        "decision",
                        json!({ "action": "propose", "slot": self.slots[n] }),
                    ),
                    _ => (
                        "cancel",
                        json!({ "reason": "the prison is closed that day" }),
                    ),
                };
                let path = format!("{REQUESTS}/{id}/{action}");
                (Method::POST, path, Some(body), coordinator)
            }
        };
        let resp = app.request(method, &path, Some(token), body.as_ref()).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        // A business refusal (a slot that cannot be proposed, say) is an outcome, not a failure.
        assert!(
            matches!(status, 200 | 201 | 204 | 409),
            "{step:?}: {path}: {status} {text}\nsteps:\n{}",
            self.log.join("\n")
        );
        let outcome = match serde_json::from_str::<Value>(&text) {
            Ok(answer) if status != 409 => format!("{path}: {}", answer["status"]),
            _ => format!("{path}: {status} {text}"),
        };
        self.note(step, outcome);
    }

    /// Every device syncs twice, in turn; then everything must agree.
    async fn settle_and_check(&mut self) {
        let mut last = Vec::new();
        for _ in 0..2 {
            for device in &mut self.devices {
                last = sync(self.app, device).await.heads;
            }
        }
        let log = self.log.join("\n");
        let token = self.devices[0].token.clone();
        let server = server_document(self.app, &token, self.family.id).await;
        let server_heads = sorted(server.get_heads());
        assert_eq!(
            sorted(last),
            server_heads,
            "the heads moved after the last sync\n{log}"
        );
        let content = FamilyDoc::read(&server).expect("the server's document reads");
        for device in &self.devices {
            assert_eq!(
                device.heads(),
                server_heads,
                "{} has other heads\n{log}",
                device.name
            );
            assert_eq!(
                device.read(),
                content,
                "{} reads differently\n{log}",
                device.name
            );
        }

        // The folded statuses say what the REST API says.
        let listed = self.app.visit_requests(&token, self.family.id).await;
        for visit in &listed {
            assert!(
                content.visit_requests.contains_key(&visit.id.to_string()),
                "request {} is missing from the document\n{log}",
                visit.id
            );
        }
        for (id, request) in &content.visit_requests {
            let folded = visit_request_status(&request.events);
            let path = format!("/api/v1/visit-requests/{id}");
            let resp = self.app.get(&path, Some(&token)).await;
            let rest = match resp.status().as_u16() {
                // Declined when it reached the server: never stored.
                404 => VisitStatus::Declined,
                200 => {
                    resp.json::<reguide_tests::protocol::visits::VisitRequest>()
                        .await
                        .expect("a visit request")
                        .status
                }
                other => panic!("GET {path}: {other}"),
            };
            assert_eq!(
                folded,
                rest,
                "request {id}: the document folds to {folded}, the REST API says {rest}\n\
                 events: {:#?}\nsteps:\n{log}",
                describe(&request.events)
            );
        }

        // And so do the registrations' (a registration declined on arrival is not stored).
        let path = format!(
            "/api/v1/families/{}/family-day-registrations",
            self.family.id
        );
        let listed: Vec<Registration> =
            expect_json(self.app.get(&path, Some(&token)).await, 200).await;
        for (id, registration) in &content.family_day_registrations {
            let folded = registration_status(&registration.events);
            let rest = match listed.iter().find(|r| r.id.to_string() == *id) {
                None => RegistrationState::Declined,
                Some(r) => match r.status {
                    RegistrationStatus::Registered => RegistrationState::Registered,
                    RegistrationStatus::Waiting => RegistrationState::Waiting,
                    RegistrationStatus::Cancelled => RegistrationState::Cancelled,
                },
            };
            assert_eq!(
                folded,
                rest,
                "registration {id}: the document folds to {folded}, the REST API says {rest}\n\
                 events: {:#?}\nsteps:\n{log}",
                describe(&registration.events)
            );
        }
        for registration in &listed {
            assert!(
                content
                    .family_day_registrations
                    .contains_key(&registration.id.to_string()),
                "registration {} is missing from the document\n{log}",
                registration.id
            );
        }
    }
}

/// Events as one line each, for failure messages.
fn describe(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let by = if e.by.is_server() { "server" } else { "family" };
            let refers = e
                .refers_to
                .as_deref()
                .map(|r| format!(" → {r}"))
                .unwrap_or_default();
            let detail = e
                .detail
                .as_deref()
                .map(|d| format!(" [{d}]"))
                .unwrap_or_default();
            format!("{} by {by} at {} ({}){refers}{detail}", e.kind, e.at, e.id)
        })
        .collect()
}

async fn run_case(app: &TestApp, fixture: &Fixture, script: &[Op]) {
    let mut case = Case::new(app, fixture).await;
    for step in script {
        case.run(step).await;
    }
    case.settle_and_check().await;
}

both_backends! {
    async fn offline_edits_syncs_and_staff_decisions_converge(app: TestApp) {
        let fixture = Fixture::new(&app).await;
        let config = ProptestConfig {
            cases: 8,
            // Every case runs on a real server: a few shrinking steps, and nothing written to
            // the source tree.
            max_shrink_iters: 24,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        let mut runner = TestRunner::new(config);
        let handle = tokio::runtime::Handle::current();
        let outcome = tokio::task::block_in_place(|| {
            runner.run(&script(), |script| {
                handle.block_on(run_case(&app, &fixture, &script));
                Ok(())
            })
        });
        match outcome {
            Ok(()) => {}
            Err(TestError::Fail(reason, script)) => {
                let steps: Vec<String> = script.iter().map(|s| format!("  {s:?}")).collect();
                panic!("{reason}\nsmallest failing script:\n{}", steps.join("\n"));
            }
            Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
        }
    }
}

// ---- Two server instances on one PostgreSQL database ------------------------------------------

/// Syncs of one family through two instances at once: the family's row lock must serialise them
/// across instances, so that every change lands exactly once and no sync fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres() {
    if !reguide_tests::require_postgres() {
        return;
    }
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.spawn_second_instance().await;
    let demo = first.demo_data().await;
    let admin = first.login_as(DemoUser::Admin).await;
    let coordinator = first.login_as(DemoUser::Coordinator).await;

    // The first sync of a family through both instances at once creates one document.
    for n in 0..6 {
        let family = first
            .new_visiting_family(&admin, demo.brugge, &format!("Two instances {n}"))
            .await;
        let mut devices = enrol_devices(&first, &admin, &family, 2).await;
        let [a, b] = &mut devices[..] else {
            unreachable!("two devices")
        };
        let (ra, rb) = tokio::join!(sync(&first, a), sync(&second, b));
        assert_eq!(
            (ra.kind, rb.kind),
            (ResponseKind::FullDocument, ResponseKind::FullDocument)
        );
        assert_eq!(
            sorted(ra.heads),
            sorted(rb.heads),
            "both instances answer with the same document"
        );
        assert_eq!(a.read(), b.read());
        assert_eq!(a.read().family_id, family.id);
    }

    // Two devices of one family sync 20 times each, all at once, one through each instance.
    const ROUNDS: usize = 20;
    let family = first
        .new_visiting_family(&admin, demo.brugge, "Two instances, many syncs")
        .await;
    let mut devices = enrol_devices(&first, &admin, &family, 2).await;
    // A slot of its own for every request, so that Brugge keeps each one pending.
    let sessions = join_all_local(
        (0..ROUNDS).map(|_| first.table_session(&coordinator, demo.brugge, Weekday::Wed, 4)),
    )
    .await;
    let dates: Vec<NaiveDate> = (0..2)
        .map(|week| next_weekday(Weekday::Wed, 3) + Duration::weeks(week))
        .collect();
    for device in &mut devices {
        sync(&first, device).await;
    }
    let instances = [&first, &second];
    let member = family.visitor();
    let runs = devices.iter_mut().enumerate().map(|(n, device)| {
        let (app, family, sessions, date) = (instances[n], &family, &sessions, dates[n]);
        async move {
            let mut written = Vec::new();
            for session in sessions {
                let slot = SlotChoice {
                    template_id: session.id,
                    date,
                };
                let request = new_request(member, family, vec![slot], true);
                let id = device
                    .edit(|tx| write::request_visit(tx, member, request, now_ms()))
                    .expect("a valid request");
                sync(app, device).await;
                written.push(id);
            }
            written
        }
    });
    let written: Vec<String> = join_all_local(runs).await.into_iter().flatten().collect();
    assert_eq!(written.len(), 2 * ROUNDS);

    // Both devices catch up; both instances hold the same document.
    let [a, b] = &mut devices[..] else {
        unreachable!("two devices")
    };
    sync(&first, a).await;
    sync(&second, b).await;
    sync(&first, a).await;
    let on_first = server_document(&first, &a.token, family.id).await;
    let on_second = server_document(&second, &b.token, family.id).await;
    let heads = sorted(on_first.get_heads());
    assert_eq!(
        sorted(on_second.get_heads()),
        heads,
        "the instances disagree"
    );
    assert_eq!(a.heads(), heads);
    assert_eq!(b.heads(), heads);
    let content = FamilyDoc::read(&on_first).expect("reads");
    assert_eq!(FamilyDoc::read(&on_second).expect("reads"), content);
    assert_eq!(a.read(), content);
    assert_eq!(b.read(), content);

    // Every change exactly once: each request once in the document, with one `requested` event
    // and still pending (Brugge decides itself), and once in the database, pending.
    let mut in_doc: Vec<&String> = content.visit_requests.keys().collect();
    in_doc.sort();
    let mut expected: Vec<&String> = written.iter().collect();
    expected.sort();
    assert_eq!(in_doc, expected);
    for (id, request) in &content.visit_requests {
        let events = describe(&request.events);
        let requested = VisitEventKind::Requested.as_str();
        let opened = request.events.iter().filter(|e| e.kind == requested);
        assert_eq!(opened.count(), 1, "request {id}: {events:#?}");
        let ids: std::collections::HashSet<&str> =
            request.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), request.events.len(), "request {id}: {events:#?}");
        assert_eq!(
            visit_request_status(&request.events),
            VisitStatus::Pending,
            "request {id}: {events:#?}"
        );
    }
    let listed = first.visit_requests(&a.token, family.id).await;
    let mut stored: Vec<String> = listed.iter().map(|r| r.id.to_string()).collect();
    stored.sort();
    assert_eq!(
        stored.iter().collect::<Vec<_>>(),
        expected,
        "each request stored once"
    );
    assert!(
        listed.iter().all(|r| r.status == VisitStatus::Pending),
        "{listed:?}"
    );
}
