//! What the cells of the table work on: the own and the other side, the callers' sessions and
//! form tokens, and the objects a cell needs, made fresh through the API as the administrator.

use std::collections::HashMap;

use chrono::{Duration, Weekday};
use reguide_tests::protocol::{AccountId, FamilyId, MemberId, PrisonId};
use reguide_tests::visits::{VisitingFamily, next_weekday, request_body, table_rules, today};
use reguide_tests::web::{WebSession, input_value};
use reguide_tests::{DEMO_PASSWORD, DemoData, DemoUser, TestApp, expect_json};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::CALLERS;
use super::Object::{self, *};
use super::Route::{self, *};

/// One side of the table: what is own, or what is another's.
pub(super) struct Side {
    pub(super) family: VisitingFamily,
    /// A member without an account: enrolment codes, data requests.
    pub(super) member: MemberId,
    /// The member who visits.
    pub(super) visitor: MemberId,
    /// A member whose place on the visitor list is decided.
    pub(super) listed: MemberId,
    pub(super) prison: PrisonId,
    /// A session ahead, and one that took place (attendance, summary) with its one invitation.
    pub(super) lab: Uuid,
    pub(super) past_lab: Uuid,
    pub(super) invitation: Uuid,
}

/// The ids one cell works on, made before the call when the route needs them.
#[derive(Clone, Debug, Default)]
pub(super) struct Fixture {
    pub(super) id: String,
    pub(super) second: String,
    /// What the administrator reads through the API to see whether the form changed anything.
    pub(super) watch: Option<String>,
    /// Or the family whose document (steps, appointments) is read.
    pub(super) document: Option<FamilyId>,
}

pub(super) struct Context {
    pub(super) demo: DemoData,
    pub(super) own: Side,
    pub(super) other: Side,
    pub(super) admin: String,
    pub(super) social: String,
    pub(super) sessions: HashMap<DemoUser, WebSession>,
    pub(super) csrf: HashMap<DemoUser, String>,
    /// Proposed by family A to the social worker, for them to answer.
    pub(super) appointment: String,
    /// An account only administrators see.
    pub(super) target: AccountId,
    pub(super) pool: reguide_server::db::DbPool,
}

fn random() -> String {
    Uuid::new_v4().to_string()
}

/// A session three weeks ahead.
fn lab_body(title: &str) -> Value {
    json!({
        "title": title,
        "date": today() + Duration::days(21),
        "starts_at": "10:00",
        "ends_at": "12:00",
        "place": "Brussels",
        "capacity": 10,
    })
}

impl Context {
    fn side(&self, object: Object) -> &Side {
        match object {
            Other => &self.other,
            _ => &self.own,
        }
    }

    /// A number no earlier call of the test had, for names and dates that must not clash.
    fn next(&self) -> i64 {
        use std::sync::atomic::{AtomicI64, Ordering};
        static MADE: AtomicI64 = AtomicI64::new(0);
        MADE.fetch_add(1, Ordering::Relaxed)
    }

    async fn made(&self, app: &TestApp, path: &str, token: &str, body: Value) -> Value {
        expect_json(app.post_json(path, Some(token), &body).await, 201).await
    }

    /// A request of the side's family waiting for the prison's decision.
    async fn pending(&self, app: &TestApp, side: &Side) -> String {
        let admin = &self.admin;
        let template = app.table_session(admin, side.prison, Weekday::Fri, 5).await;
        let date = next_weekday(Weekday::Fri, 3);
        let body = request_body(
            side.family.id,
            side.family.detainee,
            "table",
            &[(template.id, date)],
            &[side.visitor],
        );
        app.request_visit(admin, &body).await.id.to_string()
    }

    /// A new member of family C, nobody's but the administrator's.
    async fn member_of_c(&self, app: &TestApp) -> MemberId {
        let path = format!("/api/v1/families/{}/members", self.demo.family_c);
        let body = json!({
            "display_name": format!("Matrix member {}", self.next()),
            "relation": "other_family",
            "preferred_language": "fr",
        });
        let member = self.made(app, &path, &self.admin, body).await;
        serde_json::from_value(member["id"].clone()).expect("a member id")
    }

    /// A data request of the administrator's about a new member of family C.
    async fn privacy_request(&self, app: &TestApp, kind: &str) -> String {
        let member = self.member_of_c(app).await;
        let body = json!({ "member_id": member, "kind": kind });
        let asked = self
            .made(app, "/api/v1/privacy-requests", &self.admin, body)
            .await;
        asked["id"].as_str().expect("an id").to_owned()
    }

    /// A new social worker (and facilitator) account.
    async fn account(&self, app: &TestApp) -> Value {
        let body = json!({
            "email": format!("matrix.target{}@example.org", self.next()),
            "display_name": "Matrix target",
            "password": "a long enough secret",
            "roles": [{ "role": "social_worker" }, { "role": "facilitator" }],
        });
        self.made(app, "/api/v1/admin/accounts", &self.admin, body)
            .await
    }

    /// Makes what a cell needs: before the first cell of a row, and again after every success,
    /// as that may have used the object up.
    pub(super) async fn prepare(&self, app: &TestApp, route: Route, object: Object) -> Fixture {
        let side = self.side(object);
        let admin = self.admin.as_str();
        let prison = side.prison;
        let mut f = Fixture::default();
        if object == Unknown {
            // Nothing to make or to watch: every id names nothing.
            f.id = random();
            f.second = random();
            if route == RemoveFromCaseload {
                f.second = self.demo.family_c.to_string();
            }
            return f;
        }
        match route {
            QueueOfPrison | Week | Day | DayCsv | Prison | Visitors | FamilyDays => {
                f.id = prison.to_string();
            }
            SetInfo | SetRules => {
                f.id = prison.to_string();
                f.watch = Some(format!("/api/v1/prisons/{prison}"));
            }
            AddSession => {
                f.id = prison.to_string();
                f.watch = Some(format!("/api/v1/prisons/{prison}/session-templates"));
            }
            Block => {
                f.id = prison.to_string();
                f.watch = Some(format!("/api/v1/prisons/{prison}/blocked-dates"));
            }
            PlanFamilyDay => {
                f.id = prison.to_string();
                f.watch = Some(format!(
                    "/api/v1/family-days?prison_id={prison}&include_cancelled=true"
                ));
            }
            Request | Decide | CancelVisit => {
                f.id = self.pending(app, side).await;
                if route == CancelVisit {
                    // Only a confirmed visit is called off (a request is withdrawn).
                    let id: Uuid = f.id.parse().expect("an id");
                    let confirm = json!({ "action": "confirm", "rank": 1 });
                    app.visit_action(admin, id, "decision", &confirm).await;
                }
                f.watch = Some(format!("/api/v1/visit-requests/{}", f.id));
            }
            RemoveSession => {
                let template = app.table_session(admin, prison, Weekday::Tue, 2).await;
                f.id = template.id.to_string();
                f.watch = Some(format!("/api/v1/prisons/{prison}/session-templates"));
            }
            Unblock => {
                let path = format!("/api/v1/prisons/{prison}/blocked-dates");
                let date = today() + Duration::days(200 + self.next());
                let body = json!({ "date": date, "reason": "Matrix" });
                let blocked = self.made(app, &path, admin, body).await;
                f.id = blocked["id"].as_str().expect("an id").to_owned();
                f.watch = Some(path);
            }
            DecideVisitor => {
                let detainee = side.family.detainee;
                f.id = detainee.to_string();
                f.watch = Some(format!("/api/v1/detainees/{detainee}/visitors"));
                if object == Mixed {
                    f.second = self.other.listed.to_string();
                } else if object == UnknownMember {
                    f.second = random();
                } else {
                    // Refused first, so that an approval shows.
                    app.decide_visitor(admin, detainee, side.listed, "refused", "kinship_proof")
                        .await;
                    f.second = side.listed.to_string();
                }
            }
            FamilyDay | FamilyDayCsv | CancelFamilyDay => {
                let date = today() + Duration::days(30 + self.next());
                let deadline = (date - Duration::days(2))
                    .and_hms_opt(12, 0, 0)
                    .expect("noon")
                    .and_utc();
                let body = json!({
                    "title": "Matrix family day",
                    "date": date,
                    "starts_at": "10:00",
                    "ends_at": "16:00",
                    "programme": "Games",
                    "capacity_families": 5,
                    "capacity_people": 20,
                    "registration_deadline": deadline,
                });
                let path = format!("/api/v1/prisons/{prison}/family-days");
                let day = self.made(app, &path, admin, body).await;
                f.id = day["id"].as_str().expect("an id").to_owned();
                f.watch = Some(format!("/api/v1/family-days/{}", f.id));
            }
            Family | ApplyTemplate | CloseCase | ReopenCase => {
                let family = side.family.id;
                f.id = family.to_string();
                f.watch = Some(format!("/api/v1/families/{family}"));
                // Close finds the case open, reopen finds it closed.
                match route {
                    CloseCase | ReopenCase => {
                        // Refused (409) when it already is.
                        let first = if route == CloseCase {
                            "reopen"
                        } else {
                            "close"
                        };
                        let path = format!("/api/v1/families/{family}/{first}");
                        app.post_empty(&path, Some(admin)).await;
                    }
                    ApplyTemplate => {
                        f.watch = None;
                        f.document = Some(family);
                    }
                    _ => {}
                }
            }
            AnswerAppointment => {
                f.id = side.family.id.to_string();
                f.second = if object == Own {
                    self.appointment.clone()
                } else {
                    "matrix-appointment".to_owned()
                };
                f.document = Some(side.family.id);
            }
            EnrolmentCode | AskPrivacy => {
                let member = match object {
                    Mixed => self.other.member,
                    UnknownMember => MemberId(Uuid::new_v4()),
                    _ => side.member,
                };
                f.id = side.family.id.to_string();
                f.second = member.to_string();
                if route == EnrolmentCode {
                    f.watch = Some(format!(
                        "/api/v1/admin/audit?action=enrolment_code_created&object_id={member}"
                    ));
                } else {
                    // No open request, so that asking makes one.
                    let list: Vec<Value> = expect_json(
                        app.get("/api/v1/admin/privacy-requests", Some(admin)).await,
                        200,
                    )
                    .await;
                    for open in list.iter().filter(|r| {
                        r["member_id"] == member.to_string().as_str() && r["state"] == "open"
                    }) {
                        let path = format!(
                            "/api/v1/admin/privacy-requests/{}/refuse",
                            open["id"].as_str().expect("an id")
                        );
                        let body = json!({ "note": "Matrix: asked again" });
                        assert!(
                            app.post_json(&path, Some(admin), &body)
                                .await
                                .status()
                                .is_success()
                        );
                    }
                    f.watch = Some("/api/v1/admin/privacy-requests".to_owned());
                }
            }
            Lab => f.id = side.lab.to_string(),
            Invite => {
                f.id = side.lab.to_string();
                f.watch = Some(format!("/api/v1/living-labs/{}/invitations", side.lab));
            }
            Attendance | Summary => {
                let lab = side.past_lab;
                f.id = lab.to_string();
                f.second = side.invitation.to_string();
                // Attendance: nobody came yet, so that recording it shows; a summary needs it.
                let attended: Vec<Uuid> = if route == Summary {
                    vec![side.invitation]
                } else {
                    Vec::new()
                };
                let path = format!("/api/v1/living-labs/{lab}/attendance");
                let resp = app
                    .request(
                        Method::PUT,
                        &path,
                        Some(admin),
                        Some(&json!({ "attended": attended })),
                    )
                    .await;
                assert_eq!(resp.status(), 200, "attendance of {lab}");
                f.watch = Some(if route == Summary {
                    format!("/api/v1/living-labs/{lab}/summary")
                } else {
                    format!("/api/v1/living-labs/{lab}/invitations")
                });
            }
            PlanLab => f.watch = Some("/api/v1/living-labs".to_owned()),
            CreateAccount => f.watch = Some("/api/v1/admin/accounts".to_owned()),
            CreatePrison => f.watch = Some("/api/v1/prisons".to_owned()),
            DecideCaseloadRequest => {
                let body = json!({
                    "family_id": self.demo.family_c,
                    "service": "cpas",
                    "reason": "Matrix",
                });
                let asked = self
                    .made(app, "/api/v1/caseload-requests", &self.social, body)
                    .await;
                f.id = asked["id"].as_str().expect("an id").to_owned();
                f.watch = Some("/api/v1/caseload-requests".to_owned());
            }
            Account => f.id = self.target.to_string(),
            GrantRole | RevokeRole | AddToCaseload | RemoveFromCaseload => {
                let account = self.account(app).await;
                f.id = account["id"].as_str().expect("an id").to_owned();
                f.watch = Some(format!("/api/v1/admin/accounts/{}", f.id));
                if route == RevokeRole {
                    let grant = account["roles"]
                        .as_array()
                        .and_then(|roles| roles.iter().find(|g| g["role"] == "facilitator"))
                        .expect("the facilitator grant");
                    f.second = grant["id"].as_str().expect("an id").to_owned();
                }
                if route == RemoveFromCaseload {
                    let family = self.demo.family_c;
                    f.second = family.to_string();
                    let path = format!("/api/v1/admin/accounts/{}/caseload/{family}", f.id);
                    assert_eq!(app.put(&path, Some(admin)).await.status(), 204);
                }
            }
            RetryEmail => {
                // One the delivery task is done with, so that it does not write over it.
                let sql = "UPDATE outbox SET state = 'dead', last_error = 'matrix' WHERE id = \
                           (SELECT id FROM outbox WHERE state = 'sent' ORDER BY id LIMIT 1)";
                assert_eq!(app.execute_sql(sql), 1, "a message to let die");
                f.watch = Some("/api/v1/admin/outbox?state=dead".to_owned());
                let dead: Vec<Value> = expect_json(
                    app.get(f.watch.as_deref().unwrap_or_default(), Some(admin))
                        .await,
                    200,
                )
                .await;
                f.id = dead[0]["id"].as_str().expect("an id").to_owned();
            }
            ExportData => {
                f.id = self.privacy_request(app, "export").await;
                f.watch = Some(format!(
                    "/api/v1/admin/audit?action=member_data_exported&object_id={}",
                    f.id
                ));
            }
            RefusePrivacy | Erase => {
                let kind = if route == Erase { "erasure" } else { "export" };
                f.id = self.privacy_request(app, kind).await;
                f.watch = Some("/api/v1/admin/privacy-requests".to_owned());
            }
            _ => {}
        }
        f
    }

    pub(super) fn session(&self, column: usize) -> Option<&WebSession> {
        CALLERS[column].and_then(|user| self.sessions.get(&user))
    }

    /// A family's steps and appointments, read from its document, which only its social
    /// workers and members see through the API.
    pub(super) async fn document(&self, family: FamilyId) -> String {
        let pool = self.pool.clone();
        reguide_tests::phones::blocking(move || {
            use reguide_server::{appointments, steps, sync::store};
            let mut conn = pool.get().expect("a connection");
            match store::load(&mut conn, family).expect("the family's document") {
                Some(doc) => {
                    let steps = steps::all(&doc).expect("steps").len();
                    let appointments: Vec<String> = appointments::all(&doc)
                        .expect("appointments")
                        .iter()
                        .map(|a| format!("{} {:?}", a.id, a.status))
                        .collect();
                    format!("{steps} steps, appointments {appointments:?}")
                }
                None => "no document".to_owned(),
            }
        })
        .await
    }
}

/// A family member's web session: Fatima signs in while she holds a staff role, which is then
/// taken back. Her session still exists; the admin must not open for it.
async fn family_member_session(app: &TestApp, admin: &str, demo: &DemoData) -> WebSession {
    let fatima = demo.account(DemoUser::FamilyMember);
    let roles = format!("/api/v1/admin/accounts/{fatima}/roles");
    let grant: Value = expect_json(
        app.post_json(&roles, Some(admin), &json!({ "role": "facilitator" }))
            .await,
        201,
    )
    .await;
    let session = app.web_sign_in(DemoUser::FamilyMember).await;
    let revoke = format!("{roles}/{}", grant["id"].as_str().expect("a grant id"));
    assert_eq!(app.delete(&revoke, Some(admin)).await.status(), 204);
    session
}

impl Context {
    /// A new session for the family member, after the admin turned the last one away.
    pub(super) async fn renew_family_session(&mut self, app: &TestApp) {
        let session = family_member_session(app, &self.admin, &self.demo).await;
        self.sessions.insert(DemoUser::FamilyMember, session);
    }
}

pub(super) async fn setup(app: &TestApp) -> Context {
    let v = app.visits_demo().await;
    let demo = v.demo.clone();
    let admin = app.login_as(DemoUser::Admin).await;
    let social = app.login_as(DemoUser::SocialWorker).await;
    let facilitator = app.login_as(DemoUser::Facilitator).await;

    let mut sessions = HashMap::new();
    sessions.insert(
        DemoUser::FamilyMember,
        family_member_session(app, &admin, &demo).await,
    );
    let mut csrf = HashMap::new();
    for user in [
        DemoUser::Facilitator,
        DemoUser::SocialWorker,
        DemoUser::Coordinator,
        DemoUser::Admin,
    ] {
        let session = app.web_sign_in(user).await;
        let page = app.web_page("/admin", &session).await;
        csrf.insert(user, input_value(&page, "csrf").expect("a form token"));
        sessions.insert(user, session);
    }

    // Requests wait for a coordinator's decision in both prisons.
    app.set_rules(&admin, demo.haren, &table_rules(false)).await;
    app.set_rules(&admin, demo.lantin, &table_rules(false))
        .await;
    // Family C's one member visits; another is listed for the detained person's visitors.
    let path = format!("/api/v1/families/{}/members", demo.family_c);
    let body = json!({ "display_name": "Youssef El Idrissi", "relation": "sibling", "preferred_language": "fr" });
    let listed_c: Value = expect_json(app.post_json(&path, Some(&admin), &body).await, 201).await;
    let listed_c: MemberId = serde_json::from_value(listed_c["id"].clone()).expect("an id");

    // Living Labs: the facilitator's and the administrator's, ahead and past (with the social
    // worker invited, whose attendance is recorded).
    let mut labs = Vec::new();
    for (token, title) in [
        (&facilitator, "Own ahead"),
        (&admin, "Other ahead"),
        (&facilitator, "Own past"),
        (&admin, "Other past"),
    ] {
        let made: Vec<Value> = expect_json(
            app.post_json("/api/v1/living-labs", Some(token), &lab_body(title))
                .await,
            201,
        )
        .await;
        labs.push(serde_json::from_value::<Uuid>(made[0]["id"].clone()).expect("an id"));
    }
    let mut invitations = Vec::new();
    for lab in &labs[2..] {
        let path = format!("/api/v1/living-labs/{lab}/invitations");
        let body = json!({ "accounts": [demo.account(DemoUser::SocialWorker)] });
        let overview: Value =
            expect_json(app.post_json(&path, Some(&admin), &body).await, 201).await;
        invitations.push(
            serde_json::from_value::<Uuid>(overview["invitations"][0]["id"].clone())
                .expect("an id"),
        );
    }
    let past = today() - Duration::days(7);
    let moved = app.execute_sql(&format!(
        "UPDATE living_labs SET date = '{past}' WHERE id IN ('{}', '{}')",
        labs[2], labs[3]
    ));
    assert_eq!(moved, 2);

    // Fatima proposes an appointment to her social worker from the app.
    let worker = demo.account(DemoUser::SocialWorker);
    let folder = tempfile::tempdir().expect("a folder");
    let dir = folder.path().join("fatima");
    let url = app.address.clone();
    let appointment = reguide_tests::phones::blocking(move || {
        let mut phone = reguide_client_core::Client::open(&dir, None, &url).expect("open");
        phone
            .login(
                DemoUser::FamilyMember.email(),
                DEMO_PASSWORD,
                "Fatima's phone",
            )
            .expect("login");
        phone.sync_now().expect("sync");
        let id = phone
            .propose_appointment(reguide_tests::protocol::doc::write::NewDocAppointment {
                with_account: worker,
                starts_at: (chrono::Utc::now() + Duration::days(5)).timestamp_millis(),
                place: "Phone call".into(),
                purpose: "The rent".into(),
                step_id: None,
            })
            .expect("propose");
        phone.sync_now().expect("sync");
        id
    })
    .await;

    let target: Value = expect_json(
        app.post_json(
            "/api/v1/admin/accounts",
            Some(&admin),
            &json!({
                "email": "matrix.page@example.org",
                "display_name": "Matrix page",
                "password": "a long enough secret",
                "roles": [{ "role": "facilitator" }],
            }),
        )
        .await,
        201,
    )
    .await;
    let side =
        |family: &VisitingFamily, member: &str, visitor: &str, listed: MemberId, n: usize| Side {
            member: family.member(member),
            visitor: family.member(visitor),
            listed,
            prison: family.prison,
            lab: labs[n],
            past_lab: labs[n + 2],
            invitation: invitations[n],
            family: family.clone(),
        };
    Context {
        own: side(
            &v.a,
            "Karim Benali",
            "Fatima Benali",
            v.a.member("Karim Benali"),
            0,
        ),
        other: side(&v.c, "Nadia El Idrissi", "Nadia El Idrissi", listed_c, 1),
        demo,
        admin,
        social,
        sessions,
        csrf,
        appointment,
        target: serde_json::from_value(target["id"].clone()).expect("an id"),
        pool: reguide_server::db::connect(app.database_url(), 2).expect("connect"),
    }
}
