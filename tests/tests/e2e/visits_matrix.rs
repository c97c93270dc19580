//! Who may do what with visits: every visits endpoint × every caller × the caller's own object
//! (family A, held in Haren, which the demo coordinator runs) or another (family C, held in
//! Lantin, which nobody but the admin manages), as one table.
//!
//! Every cell runs against a real server; a cell's object is made fresh by the admin when the
//! previous call on it succeeded (refusals change nothing, so they share one). All mismatches
//! are printed, then the test fails once.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, Weekday};
use reguide_tests::protocol::visits::{BlockedDate, SessionTemplate, WaitlistEntry};
use reguide_tests::protocol::{DetaineeId, FamilyId, MemberId, PrisonId};
use reguide_tests::visits::{
    REQUESTS, VisitingFamily, VisitsDemo, WAITLIST, choice, next_weekday, request_body,
    table_rules, template_body, waitlist_body, with,
};
use reguide_tests::{Backend, DemoUser, TestApp, both_backends, expect_json};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// The callers, in the order of the table's columns. `None` sends no token.
const CALLERS: [Option<DemoUser>; 6] = [
    None,
    Some(DemoUser::FamilyMember),
    Some(DemoUser::Facilitator),
    Some(DemoUser::SocialWorker),
    Some(DemoUser::Coordinator),
    Some(DemoUser::Admin),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    CreateRequest,
    ListFamilyRequests,
    ListPrisonRequests,
    GetRequest,
    Decide,
    AcceptProposal,
    Withdraw,
    Cancel,
    Amend,
    ListVisitors,
    DecideVisitor,
    AskVisitor,
    JoinWaitlist,
    ListFamilyWaitlist,
    ListPrisonWaitlist,
    GetWaitlistEntry,
    AcceptOffer,
    LeaveWaitlist,
    ReadPrison,
    UpdatePrison,
    PutRules,
    DeleteRules,
    ListTemplates,
    CreateTemplate,
    UpdateTemplate,
    DeleteTemplate,
    ListBlocked,
    BlockDate,
    Unblock,
    Slots,
    Day,
    DayCsv,
}

/// Own: family A / Haren. Other: family C / Lantin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Object {
    Own,
    Other,
}

use Endpoint::*;
use Object::*;

/// Staff of the prison only.
const MANAGERS_200: [u16; 6] = [401, 403, 403, 403, 200, 200];
const MANAGERS_OTHER_200: [u16; 6] = [401, 403, 403, 403, 403, 200];
/// Everyone signed in.
const ANYONE_200: [u16; 6] = [401, 200, 200, 200, 200, 200];

#[rustfmt::skip]
const MATRIX: &[(Endpoint, Object, [u16; 6])] = &[
    //                                  anon  family facil. social coord. admin
    (CreateRequest,       Own,   [401,  201,   404,   201,   201,   201]),
    (CreateRequest,       Other, [401,  404,   404,   404,   404,   201]),
    (ListFamilyRequests,  Own,   [401,  200,   404,   200,   200,   200]),
    (ListFamilyRequests,  Other, [401,  404,   404,   404,   404,   200]),
    (ListPrisonRequests,  Own,   MANAGERS_200),
    (ListPrisonRequests,  Other, MANAGERS_OTHER_200),
    (GetRequest,          Own,   [401,  200,   404,   200,   200,   200]),
    (GetRequest,          Other, [401,  404,   404,   404,   404,   200]),
    (Decide,              Own,   [401,  403,   404,   403,   200,   200]),
    (Decide,              Other, [401,  404,   404,   404,   404,   200]),
    (AcceptProposal,      Own,   [401,  200,   404,   200,   200,   200]),
    (AcceptProposal,      Other, [401,  404,   404,   404,   404,   200]),
    (Withdraw,            Own,   [401,  200,   404,   200,   200,   200]),
    (Withdraw,            Other, [401,  404,   404,   404,   404,   200]),
    (Cancel,              Own,   [401,  200,   404,   200,   200,   200]),
    (Cancel,              Other, [401,  404,   404,   404,   404,   200]),
    (Amend,               Own,   [401,  403,   404,   403,   200,   200]),
    (Amend,               Other, [401,  404,   404,   404,   404,   200]),
    (ListVisitors,        Own,   [401,  200,   404,   200,   200,   200]),
    (ListVisitors,        Other, [401,  404,   404,   404,   404,   200]),
    (DecideVisitor,       Own,   [401,  403,   404,   403,   200,   200]),
    (DecideVisitor,       Other, [401,  404,   404,   404,   404,   200]),
    (AskVisitor,          Own,   [401,  200,   404,   200,   200,   200]),
    (AskVisitor,          Other, [401,  404,   404,   404,   404,   200]),
    (JoinWaitlist,        Own,   [401,  201,   404,   201,   201,   201]),
    (JoinWaitlist,        Other, [401,  404,   404,   404,   404,   201]),
    (ListFamilyWaitlist,  Own,   [401,  200,   404,   200,   200,   200]),
    (ListFamilyWaitlist,  Other, [401,  404,   404,   404,   404,   200]),
    (ListPrisonWaitlist,  Own,   MANAGERS_200),
    (ListPrisonWaitlist,  Other, MANAGERS_OTHER_200),
    (GetWaitlistEntry,    Own,   [401,  200,   404,   200,   200,   200]),
    (GetWaitlistEntry,    Other, [401,  404,   404,   404,   404,   200]),
    (AcceptOffer,         Own,   [401,  200,   404,   200,   200,   200]),
    (AcceptOffer,         Other, [401,  404,   404,   404,   404,   200]),
    (LeaveWaitlist,       Own,   [401,  204,   404,   204,   204,   204]),
    (LeaveWaitlist,       Other, [401,  404,   404,   404,   404,   204]),
    (ReadPrison,          Own,   ANYONE_200),
    (ReadPrison,          Other, ANYONE_200),
    (UpdatePrison,        Own,   MANAGERS_200),
    (UpdatePrison,        Other, MANAGERS_OTHER_200),
    (PutRules,            Own,   MANAGERS_200),
    (PutRules,            Other, MANAGERS_OTHER_200),
    (DeleteRules,         Own,   [401,  403,   403,   403,   204,   204]),
    (DeleteRules,         Other, [401,  403,   403,   403,   403,   204]),
    (ListTemplates,       Own,   ANYONE_200),
    (ListTemplates,       Other, ANYONE_200),
    (CreateTemplate,      Own,   [401,  403,   403,   403,   201,   201]),
    (CreateTemplate,      Other, [401,  403,   403,   403,   403,   201]),
    (UpdateTemplate,      Own,   MANAGERS_200),
    (UpdateTemplate,      Other, MANAGERS_OTHER_200),
    (DeleteTemplate,      Own,   [401,  403,   403,   403,   204,   204]),
    (DeleteTemplate,      Other, [401,  403,   403,   403,   403,   204]),
    (ListBlocked,         Own,   MANAGERS_200),
    (ListBlocked,         Other, MANAGERS_OTHER_200),
    (BlockDate,           Own,   [401,  403,   403,   403,   201,   201]),
    (BlockDate,           Other, [401,  403,   403,   403,   403,   201]),
    (Unblock,             Own,   [401,  403,   403,   403,   204,   204]),
    (Unblock,             Other, [401,  403,   403,   403,   403,   204]),
    (Slots,               Own,   ANYONE_200),
    (Slots,               Other, ANYONE_200),
    (Day,                 Own,   MANAGERS_200),
    (Day,                 Other, MANAGERS_OTHER_200),
    (DayCsv,              Own,   MANAGERS_200),
    (DayCsv,              Other, MANAGERS_OTHER_200),
];

/// The error code a refusal must carry.
fn expected_code(endpoint: Endpoint, status: u16) -> Option<&'static str> {
    match status {
        401 => Some("unauthenticated"),
        403 => Some("forbidden"),
        404 => Some(match endpoint {
            CreateRequest | ListFamilyRequests | JoinWaitlist | ListFamilyWaitlist => {
                "family_not_found"
            }
            GetRequest | Decide | AcceptProposal | Withdraw | Cancel | Amend => {
                "visit_request_not_found"
            }
            ListVisitors | DecideVisitor | AskVisitor => "detainee_not_found",
            GetWaitlistEntry | AcceptOffer | LeaveWaitlist => "waitlist_entry_not_found",
            _ => return None,
        }),
        _ => None,
    }
}

/// What one object is made of.
struct Side {
    family: VisitingFamily,
    /// The member who visits.
    visitor: MemberId,
    /// Another member, whose place on the visitor list is decided or asked for.
    other_member: MemberId,
    prison: PrisonId,
    /// Another family held in the same prison, to fill slots.
    filler: VisitingFamily,
}

/// The objects one cell works on, made by the admin before the call.
#[derive(Default)]
struct Fixture {
    template: Option<SessionTemplate>,
    request: Option<Uuid>,
    entry: Option<Uuid>,
    blocked: Option<Uuid>,
}

struct Context {
    sides: HashMap<&'static str, Side>,
    admin: String,
    date: NaiveDate,
}

impl Context {
    fn side(&self, object: Object) -> &Side {
        &self.sides[match object {
            Own => "own",
            Other => "other",
        }]
    }

    fn info(&self, object: Object) -> Value {
        let (name, city) = match object {
            Own => ("Prison de Haren", "Haren"),
            Other => ("Prison de Lantin", "Lantin"),
        };
        json!({ "name": name, "city": city, "address": "Somewhere 1", "languages": ["fr", "nl"] })
    }

    fn request_for(&self, side: &Side, template: Uuid) -> Value {
        request_body(
            side.family.id,
            side.family.detainee,
            "table",
            &[(template, self.date)],
            &[side.visitor],
        )
    }

    async fn template(&self, app: &TestApp, prison: PrisonId, capacity: i32) -> SessionTemplate {
        app.table_session(&self.admin, prison, Weekday::Fri, capacity)
            .await
    }

    async fn pending(&self, app: &TestApp, side: &Side) -> (SessionTemplate, Uuid) {
        let template = self.template(app, side.prison, 5).await;
        let request = app
            .request_visit(&self.admin, &self.request_for(side, template.id))
            .await;
        (template, request.id)
    }

    async fn decide(&self, app: &TestApp, request: Uuid, decision: Value) {
        app.visit_action(&self.admin, request, "decision", &decision)
            .await;
    }

    /// A waiting-list entry of the side's family for a full slot, and the filler's visit.
    async fn waiting(&self, app: &TestApp, side: &Side) -> (Uuid, Uuid) {
        let template = self.template(app, side.prison, 1).await;
        let filler = app
            .request_visit(
                &self.admin,
                &side.filler.table_request(template.id, self.date),
            )
            .await;
        self.decide(app, filler.id, json!({ "action": "confirm", "rank": 1 }))
            .await;
        let body = waitlist_body(
            side.family.id,
            side.family.detainee,
            template.id,
            self.date,
            &[side.visitor],
        );
        let entry: WaitlistEntry =
            expect_json(app.post_json(WAITLIST, Some(&self.admin), &body).await, 201).await;
        (entry.id, filler.id)
    }

    async fn prepare(&self, app: &TestApp, endpoint: Endpoint, object: Object) -> Fixture {
        let side = self.side(object);
        let mut fixture = Fixture::default();
        match endpoint {
            CreateRequest | UpdateTemplate | DeleteTemplate => {
                fixture.template = Some(self.template(app, side.prison, 5).await);
            }
            GetRequest | Decide | Withdraw => {
                let (template, request) = self.pending(app, side).await;
                fixture.template = Some(template);
                fixture.request = Some(request);
            }
            AcceptProposal => {
                let (template, request) = self.pending(app, side).await;
                let slot = choice(template.id, self.date + Duration::weeks(1));
                self.decide(app, request, json!({ "action": "propose", "slot": slot }))
                    .await;
                fixture.template = Some(template);
                fixture.request = Some(request);
            }
            Cancel | Amend => {
                let (template, request) = self.pending(app, side).await;
                self.decide(app, request, json!({ "action": "confirm", "rank": 1 }))
                    .await;
                fixture.template = Some(template);
                fixture.request = Some(request);
            }
            JoinWaitlist => {
                let template = self.template(app, side.prison, 1).await;
                let filler = app
                    .request_visit(
                        &self.admin,
                        &side.filler.table_request(template.id, self.date),
                    )
                    .await;
                self.decide(app, filler.id, json!({ "action": "confirm", "rank": 1 }))
                    .await;
                fixture.template = Some(template);
            }
            GetWaitlistEntry | LeaveWaitlist => {
                fixture.entry = Some(self.waiting(app, side).await.0);
            }
            AcceptOffer => {
                let (entry, filler) = self.waiting(app, side).await;
                app.visit_action(
                    &self.admin,
                    filler,
                    "cancel",
                    &json!({ "reason": "Room for the next" }),
                )
                .await;
                fixture.entry = Some(entry);
            }
            DeleteRules => {
                app.set_rules(
                    &self.admin,
                    side.prison,
                    &with(&table_rules(false), json!({ "visit_type": "video" })),
                )
                .await;
            }
            BlockDate => {
                fixture.template = Some(self.template(app, side.prison, 5).await);
            }
            Unblock => {
                let template = self.template(app, side.prison, 5).await;
                let body =
                    json!({ "date": self.date, "template_id": template.id, "reason": "Matrix" });
                let path = format!("/api/v1/prisons/{}/blocked-dates", side.prison);
                let blocked: BlockedDate =
                    expect_json(app.post_json(&path, Some(&self.admin), &body).await, 201).await;
                fixture.blocked = Some(blocked.id);
            }
            _ => {}
        }
        fixture
    }

    fn call(
        &self,
        endpoint: Endpoint,
        object: Object,
        f: &Fixture,
    ) -> (Method, String, Option<Value>) {
        let side = self.side(object);
        let prison = side.prison;
        let family: FamilyId = side.family.id;
        let detainee: DetaineeId = side.family.detainee;
        let template = || f.template.as_ref().expect("a template").id;
        let request = || f.request.expect("a request");
        let entry = || f.entry.expect("an entry");
        let date = self.date;
        match endpoint {
            CreateRequest => (
                Method::POST,
                REQUESTS.into(),
                Some(self.request_for(side, template())),
            ),
            ListFamilyRequests => (Method::GET, format!("{REQUESTS}?family_id={family}"), None),
            ListPrisonRequests => (Method::GET, format!("{REQUESTS}?prison_id={prison}"), None),
            GetRequest => (Method::GET, format!("{REQUESTS}/{}", request()), None),
            Decide => (
                Method::POST,
                format!("{REQUESTS}/{}/decision", request()),
                Some(json!({ "action": "confirm", "rank": 1 })),
            ),
            AcceptProposal => (
                Method::POST,
                format!("{REQUESTS}/{}/accept", request()),
                None,
            ),
            Withdraw => (
                Method::POST,
                format!("{REQUESTS}/{}/withdraw", request()),
                None,
            ),
            Cancel => (
                Method::POST,
                format!("{REQUESTS}/{}/cancel", request()),
                Some(json!({ "reason": "Cannot come" })),
            ),
            Amend => (
                Method::POST,
                format!("{REQUESTS}/{}/amend", request()),
                Some(
                    json!({ "slot": choice(template(), date + Duration::weeks(1)), "reason": "Moved" }),
                ),
            ),
            ListVisitors => (
                Method::GET,
                format!("/api/v1/detainees/{detainee}/visitors"),
                None,
            ),
            DecideVisitor => (
                Method::PUT,
                format!(
                    "/api/v1/detainees/{detainee}/visitors/{}",
                    side.other_member
                ),
                Some(json!({ "status": "approved", "basis": "kinship_proof" })),
            ),
            AskVisitor => (
                Method::POST,
                format!(
                    "/api/v1/detainees/{detainee}/visitors/{}/ask",
                    side.other_member
                ),
                None,
            ),
            JoinWaitlist => (
                Method::POST,
                WAITLIST.into(),
                Some(waitlist_body(
                    family,
                    detainee,
                    template(),
                    date,
                    &[side.visitor],
                )),
            ),
            ListFamilyWaitlist => (Method::GET, format!("{WAITLIST}?family_id={family}"), None),
            ListPrisonWaitlist => (Method::GET, format!("{WAITLIST}?prison_id={prison}"), None),
            GetWaitlistEntry => (Method::GET, format!("{WAITLIST}/{}", entry()), None),
            AcceptOffer => (Method::POST, format!("{WAITLIST}/{}/accept", entry()), None),
            LeaveWaitlist => (Method::DELETE, format!("{WAITLIST}/{}", entry()), None),
            ReadPrison => (Method::GET, format!("/api/v1/prisons/{prison}"), None),
            UpdatePrison => (
                Method::PUT,
                format!("/api/v1/prisons/{prison}"),
                Some(self.info(object)),
            ),
            PutRules => (
                Method::PUT,
                format!("/api/v1/prisons/{prison}/rules"),
                Some(table_rules(false)),
            ),
            DeleteRules => (
                Method::DELETE,
                format!("/api/v1/prisons/{prison}/rules/video"),
                None,
            ),
            ListTemplates => (
                Method::GET,
                format!("/api/v1/prisons/{prison}/session-templates"),
                None,
            ),
            CreateTemplate => (
                Method::POST,
                format!("/api/v1/prisons/{prison}/session-templates"),
                Some(template_body(Weekday::Fri, "10:00", &[("table", 3)])),
            ),
            UpdateTemplate => (
                Method::PUT,
                format!("/api/v1/session-templates/{}", template()),
                Some(template_body(Weekday::Fri, "14:00", &[("table", 6)])),
            ),
            DeleteTemplate => (
                Method::DELETE,
                format!("/api/v1/session-templates/{}", template()),
                None,
            ),
            ListBlocked => (
                Method::GET,
                format!("/api/v1/prisons/{prison}/blocked-dates"),
                None,
            ),
            BlockDate => (
                Method::POST,
                format!("/api/v1/prisons/{prison}/blocked-dates"),
                Some(json!({ "date": date, "template_id": template(), "reason": "Matrix" })),
            ),
            Unblock => (
                Method::DELETE,
                format!("/api/v1/blocked-dates/{}", f.blocked.expect("a block")),
                None,
            ),
            Slots => (Method::GET, format!("/api/v1/prisons/{prison}/slots"), None),
            Day => (
                Method::GET,
                format!("/api/v1/prisons/{prison}/day?date={date}"),
                None,
            ),
            DayCsv => (
                Method::GET,
                format!("/api/v1/prisons/{prison}/day.csv?date={date}"),
                None,
            ),
        }
    }
}

async fn setup(app: &TestApp) -> Context {
    let VisitsDemo { demo, a, c, .. } = app.visits_demo().await;
    let admin = app.login_as(DemoUser::Admin).await;
    // Requests wait for a decision in both prisons, so every state can be made on purpose.
    app.set_rules(&admin, demo.haren, &table_rules(false)).await;
    app.set_rules(&admin, demo.lantin, &table_rules(false))
        .await;
    let haren_filler = app
        .new_visiting_family(&admin, demo.haren, "Haren filler")
        .await;
    let lantin_filler = app
        .new_visiting_family(&admin, demo.lantin, "Lantin filler")
        .await;
    let mut sides = HashMap::new();
    sides.insert(
        "own",
        Side {
            visitor: a.member("Fatima Benali"),
            other_member: a.member("Karim Benali"),
            prison: demo.haren,
            filler: haren_filler,
            family: a,
        },
    );
    sides.insert(
        "other",
        Side {
            visitor: c.member("Nadia El Idrissi"),
            other_member: c.member("Nadia El Idrissi"),
            prison: demo.lantin,
            filler: lantin_filler,
            family: c,
        },
    );
    Context {
        sides,
        admin,
        date: next_weekday(Weekday::Fri, 3),
    }
}

both_backends! {
    async fn visits_access_matrix(app: TestApp) {
        let context = setup(&app).await;
        let mut tokens = HashMap::new();
        for user in DemoUser::ALL {
            tokens.insert(user, app.login_as(user).await);
        }

        let mut mismatches = Vec::new();
        let mut checked = 0;
        for &(endpoint, object, expected) in MATRIX {
            let mut fixture: Option<Fixture> = None;
            for (caller, expected) in CALLERS.iter().zip(expected) {
                if fixture.is_none() {
                    fixture = Some(context.prepare(&app, endpoint, object).await);
                }
                let (method, path, body) = context.call(endpoint, object, fixture.as_ref().expect("prepared"));
                let token = caller.map(|user| tokens[&user].as_str());
                let resp = app.request(method.clone(), &path, token, body.as_ref()).await;
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                checked += 1;
                if (200..300).contains(&status) {
                    // The call changed (or may have changed) the object: the next gets a new one.
                    fixture = None;
                }
                let who = caller.map_or("anonymous".to_owned(), |u| format!("{u:?}"));
                let cell = format!("{endpoint:?} on {object:?} as {who}: {method} {path}");
                if status != expected {
                    mismatches.push(format!("{cell}: expected {expected}, got {status} {text}"));
                    continue;
                }
                if let Some(code) = expected_code(endpoint, status) {
                    let actual = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v["error"].as_str().map(str::to_owned));
                    if actual.as_deref() != Some(code) {
                        mismatches.push(format!("{cell}: expected error {code:?}, got {text}"));
                    }
                }
            }
        }
        for mismatch in &mismatches {
            eprintln!("MISMATCH {mismatch}");
        }
        assert!(
            mismatches.is_empty(),
            "{} of {checked} visit access checks failed (listed above)",
            mismatches.len()
        );
        // Every endpoint of the table is checked for both objects.
        assert_eq!(checked, MATRIX.len() * CALLERS.len());
    }
}

both_backends! {
    /// A coordinator sees a family because someone of it is held in their prison; that must
    /// not let them act as staff on the family's visits to someone held elsewhere.
    async fn coordinators_act_only_on_their_own_prisons_visits(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        // Family A visits someone in Lantin too.
        let brother: reguide_tests::protocol::api::Detainee = expect_json(
            app.post_json(
                &format!("/api/v1/families/{}/detainees", v.a.id),
                Some(&admin),
                &json!({ "full_name": "Omar Benali", "prison_id": v.demo.lantin, "internal_number": "LAN-7" }),
            )
            .await,
            201,
        )
        .await;
        let visitor = v.a.member("Fatima Benali");
        app.decide_visitor(&admin, brother.id, visitor, "approved", "kinship_proof")
            .await;
        let t = app
            .table_session(&admin, v.demo.lantin, Weekday::Fri, 5)
            .await;
        let d = next_weekday(Weekday::Fri, 3);
        let visit = app
            .request_visit(
                &fatima,
                &request_body(v.a.id, brother.id, "table", &[(t.id, d)], &[visitor]),
            )
            .await;

        let cancel = app
            .post_json(
                &format!("{REQUESTS}/{}/cancel", visit.id),
                Some(&coordinator),
                &json!({ "reason": "Not mine" }),
            )
            .await;
        let book = app
            .post_json(
                REQUESTS,
                Some(&coordinator),
                &request_body(
                    v.a.id,
                    brother.id,
                    "table",
                    &[(t.id, d + Duration::weeks(1))],
                    &[visitor],
                ),
            )
            .await;
        let statuses = (cancel.status().as_u16(), book.status().as_u16());
        assert!(
            matches!(statuses, (403 | 404, 403 | 404)),
            "a Haren coordinator cancelled ({}) or booked ({}) a Lantin visit",
            statuses.0,
            statuses.1
        );
    }
}
