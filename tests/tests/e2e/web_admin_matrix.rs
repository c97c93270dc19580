//! Who may do what in the web admin: every route under `/admin` (every page and every form) ×
//! every caller × an own or another's object, as one table, like `authz_matrix.rs` for the API.
//!
//! The table is the specification. Every cell runs against a real server with a real session
//! and the form's CSRF token. A form that is refused must change nothing and one that is allowed
//! must really act: the object is looked at through the API before and after. A cell's object
//! is made fresh when the previous call on it succeeded (refusals share one). A hidden object
//! must answer exactly as a missing one. All mismatches are printed, then the test fails once.

use std::collections::HashMap;

use chrono::{Duration, Weekday};
use reguide_tests::protocol::{AccountId, FamilyId, MemberId, PrisonId};
use reguide_tests::visits::{VisitingFamily, next_weekday, request_body, table_rules, today};
use reguide_tests::web::{SESSION_COOKIE, SIGN_IN_COOKIE, WebSession, input_value, set_cookie};
use reguide_tests::{DEMO_PASSWORD, DemoData, DemoUser, TestApp, both_backends, expect_json};
use reqwest::{Method, header};
use serde_json::{Value, json};
use uuid::Uuid;

/// The callers, in the order of the table's columns. `None` is signed out. The family member
/// holds a web session (opened while they held a staff role, taken back since): the admin must
/// turn it away at the door.
const CALLERS: [Option<DemoUser>; 6] = [
    None,
    Some(DemoUser::FamilyMember),
    Some(DemoUser::Facilitator),
    Some(DemoUser::SocialWorker),
    Some(DemoUser::Coordinator),
    Some(DemoUser::Admin),
];

/// Pages are read in English, so that an answer is told by its words.
const LANGUAGE_COOKIE: (&str, &str) = ("__Host-reguide-language", "en");
const NOT_STAFF_TITLE: &str = "This site is for staff";
const FORBIDDEN_TITLE: &str = "You cannot open this page";
const NOT_FOUND_TITLE: &str = "Page not found";
const CSRF_TITLE: &str = "The form has expired";
/// The router's own answer for an address that is no page: a `404` of a route must be the
/// route's refusal, not a wrong address in this table.
const NO_SUCH_PAGE: &str = "There is no such page.";

/// What a caller gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// `200`: the page (or the file).
    Shown,
    /// `303` onwards after a form that acted (or a public redirect).
    Done,
    /// `303` to the sign-in page.
    ToSignIn,
    /// `403` for an account without a staff role, its session cookie cleared.
    NotStaff,
    /// `403`: the role may not.
    Refused,
    /// `404`: as if the object did not exist.
    Hidden,
    /// `400`: the form's page again, or an error page, with the problem in words.
    Invalid,
    /// `401`: the sign-in form again, for a wrong password.
    WrongPassword,
    /// `403` for a bad CSRF token: never expected, a mistake of the table's requests.
    Csrf,
    Status(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Route {
    Stylesheet,
    SignInForm,
    SignIn,
    Language,
    NoSuchPage,
    Home,
    Queue,
    QueueOfPrison,
    Request,
    Decide,
    CancelVisit,
    Prisons,
    Week,
    Day,
    DayCsv,
    Prison,
    SetInfo,
    SetRules,
    AddSession,
    RemoveSession,
    Block,
    Unblock,
    Visitors,
    DecideVisitor,
    FamilyDays,
    PlanFamilyDay,
    FamilyDay,
    FamilyDayCsv,
    CancelFamilyDay,
    Caseload,
    Family,
    ApplyTemplate,
    AnswerAppointment,
    EnrolmentCode,
    AskPrivacy,
    CloseCase,
    ReopenCase,
    Labs,
    PlanLab,
    Lab,
    Invite,
    Attendance,
    Summary,
    Accounts,
    CreateAccount,
    DecideCaseloadRequest,
    Account,
    GrantRole,
    RevokeRole,
    AddToCaseload,
    RemoveFromCaseload,
    CreatePrison,
    Email,
    RetryEmail,
    Audit,
    Privacy,
    ExportData,
    RefusePrivacy,
    Erase,
    SignOut,
}

/// The object of the call. Own: family A (in the social worker's caseload, someone held in
/// Haren, which the coordinator runs), Haren and what is Haren's, a Living Lab the facilitator
/// runs. Other: family C (nobody's caseload, held in Lantin, nobody's prison but the admin's),
/// Lantin, a Living Lab the administrator planned. Unknown: an id that names nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Object {
    /// The route takes no object, or one only administrators reach.
    Fixed,
    Own,
    Other,
    Unknown,
    /// Own family or detained person in the address, another family's member with it.
    Mixed,
}

use Object::*;
use Outcome::*;
use Route::*;

/// Public: the same for everyone.
const ANYONE: [Outcome; 6] = [Shown; 6];
/// Every member of staff.
const STAFF: [Outcome; 6] = [ToSignIn, NotStaff, Shown, Shown, Shown, Shown];
/// A prison's own pages and forms: its coordinators and administrators; prisons are no
/// secret, so others are refused rather than told it does not exist.
const MANAGERS: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Shown, Shown];
const MANAGERS_ACT: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Done, Done];
const ADMIN: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Refused, Shown];
const ADMIN_ACT: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Refused, Done];
const ADMIN_HIDDEN: [Outcome; 6] = [ToSignIn, NotStaff, Refused, Refused, Refused, Hidden];
/// An object nobody but the administrator sees (or, Unknown, nobody at all).
const HIDDEN_BUT_ADMIN: [Outcome; 6] = [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Done];
const HIDDEN: [Outcome; 6] = [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Hidden];

#[rustfmt::skip]
const MATRIX: &[(Route, Object, [Outcome; 6])] = &[
    //                                  anon     family    facil.   social   coord.   admin
    (Stylesheet,            Fixed,   ANYONE),
    (SignInForm,            Fixed,   ANYONE),
    // Signed out: a wrong password. The others sign in with their own.
    (SignIn,                Fixed,   [WrongPassword, NotStaff, Done, Done, Done, Done]),
    (Language,              Fixed,   [Done; 6]),
    (NoSuchPage,            Fixed,   [Hidden; 6]),
    (Home,                  Fixed,   STAFF),
    // Coordinators' visits.
    (Queue,                 Fixed,   MANAGERS),
    (QueueOfPrison,         Own,     MANAGERS),
    (QueueOfPrison,         Other,   ADMIN),
    (QueueOfPrison,         Unknown, ADMIN),
    // The social worker sees the family's request (API) but does not decide it.
    (Request,               Own,     [ToSignIn, NotStaff, Hidden, Refused, Shown, Shown]),
    (Request,               Other,   [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Shown]),
    (Request,               Unknown, HIDDEN),
    (Decide,                Own,     [ToSignIn, NotStaff, Hidden, Refused, Done, Done]),
    (Decide,                Other,   HIDDEN_BUT_ADMIN),
    (Decide,                Unknown, HIDDEN),
    (CancelVisit,           Own,     [ToSignIn, NotStaff, Hidden, Refused, Done, Done]),
    (CancelVisit,           Other,   HIDDEN_BUT_ADMIN),
    (CancelVisit,           Unknown, HIDDEN),
    (Prisons,               Fixed,   MANAGERS),
    (Week,                  Own,     MANAGERS),
    (Week,                  Other,   ADMIN),
    (Week,                  Unknown, ADMIN_HIDDEN),
    (Day,                   Own,     MANAGERS),
    (Day,                   Other,   ADMIN),
    (Day,                   Unknown, ADMIN_HIDDEN),
    (DayCsv,                Own,     MANAGERS),
    (DayCsv,                Other,   ADMIN),
    (DayCsv,                Unknown, ADMIN_HIDDEN),
    // A prison's set-up.
    (Prison,                Own,     MANAGERS),
    (Prison,                Other,   ADMIN),
    (Prison,                Unknown, ADMIN_HIDDEN),
    (SetInfo,               Own,     MANAGERS_ACT),
    (SetInfo,               Other,   ADMIN_ACT),
    (SetInfo,               Unknown, ADMIN_HIDDEN),
    (SetRules,              Own,     MANAGERS_ACT),
    (SetRules,              Other,   ADMIN_ACT),
    (SetRules,              Unknown, ADMIN_HIDDEN),
    (AddSession,            Own,     MANAGERS_ACT),
    (AddSession,            Other,   ADMIN_ACT),
    (AddSession,            Unknown, ADMIN_HIDDEN),
    (RemoveSession,         Own,     MANAGERS_ACT),
    (RemoveSession,         Other,   ADMIN_ACT),
    (RemoveSession,         Unknown, HIDDEN),
    (Block,                 Own,     MANAGERS_ACT),
    (Block,                 Other,   ADMIN_ACT),
    (Block,                 Unknown, ADMIN_HIDDEN),
    (Unblock,               Own,     MANAGERS_ACT),
    (Unblock,               Other,   ADMIN_ACT),
    (Unblock,               Unknown, HIDDEN),
    (Visitors,              Own,     MANAGERS),
    (Visitors,              Other,   ADMIN),
    (Visitors,              Unknown, ADMIN_HIDDEN),
    // The social worker sees the detained person through the family; deciding is the prison's.
    (DecideVisitor,         Own,     [ToSignIn, NotStaff, Hidden, Refused, Done, Done]),
    (DecideVisitor,         Other,   HIDDEN_BUT_ADMIN),
    (DecideVisitor,         Unknown, HIDDEN),
    // Those who run the prison are told the member's family is not linked to the detained
    // person (`member_not_linked`, as in the API), where an unknown member is not found.
    (DecideVisitor,         Mixed,   [ToSignIn, NotStaff, Hidden, Refused, Invalid, Invalid]),
    (FamilyDays,            Own,     MANAGERS),
    (FamilyDays,            Other,   ADMIN),
    (FamilyDays,            Unknown, ADMIN_HIDDEN),
    (PlanFamilyDay,         Own,     MANAGERS_ACT),
    (PlanFamilyDay,         Other,   ADMIN_ACT),
    (PlanFamilyDay,         Unknown, HIDDEN),
    (FamilyDay,             Own,     MANAGERS),
    (FamilyDay,             Other,   ADMIN),
    (FamilyDay,             Unknown, HIDDEN),
    (FamilyDayCsv,          Own,     MANAGERS),
    (FamilyDayCsv,          Other,   ADMIN),
    (FamilyDayCsv,          Unknown, HIDDEN),
    (CancelFamilyDay,       Own,     MANAGERS_ACT),
    (CancelFamilyDay,       Other,   ADMIN_ACT),
    (CancelFamilyDay,       Unknown, HIDDEN),
    // Social workers' pages. A family's page shows its steps, which are its social workers'
    // alone: administrators included, anyone else finds no such family.
    (Caseload,              Fixed,   [ToSignIn, NotStaff, Refused, Shown, Refused, Refused]),
    (Family,                Own,     [ToSignIn, NotStaff, Refused, Shown, Refused, Hidden]),
    (Family,                Other,   [ToSignIn, NotStaff, Refused, Hidden, Refused, Hidden]),
    (Family,                Unknown, [ToSignIn, NotStaff, Refused, Hidden, Refused, Hidden]),
    (ApplyTemplate,         Own,     [ToSignIn, NotStaff, Hidden, Done, Hidden, Hidden]),
    (ApplyTemplate,         Other,   HIDDEN),
    (ApplyTemplate,         Unknown, HIDDEN),
    (AnswerAppointment,     Own,     [ToSignIn, NotStaff, Hidden, Done, Hidden, Hidden]),
    (AnswerAppointment,     Other,   HIDDEN),
    (AnswerAppointment,     Unknown, HIDDEN),
    // The family record: managed by its social workers and administrators, read by the
    // coordinators of its prisons. The code is shown on a page of its own.
    (EnrolmentCode,         Own,     [ToSignIn, NotStaff, Hidden, Shown, Refused, Shown]),
    (EnrolmentCode,         Other,   [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Shown]),
    (EnrolmentCode,         Unknown, HIDDEN),
    (EnrolmentCode,         Mixed,   [ToSignIn, NotStaff, Hidden, Hidden, Refused, Hidden]),
    (AskPrivacy,            Own,     [ToSignIn, NotStaff, Hidden, Done, Hidden, Done]),
    (AskPrivacy,            Other,   HIDDEN_BUT_ADMIN),
    (AskPrivacy,            Unknown, HIDDEN),
    (AskPrivacy,            Mixed,   HIDDEN_BUT_ADMIN),
    (CloseCase,             Own,     [ToSignIn, NotStaff, Hidden, Done, Refused, Done]),
    (CloseCase,             Other,   HIDDEN_BUT_ADMIN),
    (CloseCase,             Unknown, HIDDEN),
    (ReopenCase,            Own,     [ToSignIn, NotStaff, Hidden, Done, Refused, Done]),
    (ReopenCase,            Other,   HIDDEN_BUT_ADMIN),
    (ReopenCase,            Unknown, HIDDEN),
    // Living Labs: those who run a session (the administrator runs every one).
    (Labs,                  Fixed,   [ToSignIn, NotStaff, Shown, Refused, Refused, Shown]),
    (PlanLab,               Fixed,   [ToSignIn, NotStaff, Done, Refused, Refused, Done]),
    (Lab,                   Own,     [ToSignIn, NotStaff, Shown, Hidden, Hidden, Shown]),
    (Lab,                   Other,   [ToSignIn, NotStaff, Hidden, Hidden, Hidden, Shown]),
    (Lab,                   Unknown, HIDDEN),
    (Invite,                Own,     [ToSignIn, NotStaff, Done, Hidden, Hidden, Done]),
    (Invite,                Other,   HIDDEN_BUT_ADMIN),
    (Invite,                Unknown, HIDDEN),
    (Attendance,            Own,     [ToSignIn, NotStaff, Done, Hidden, Hidden, Done]),
    (Attendance,            Other,   HIDDEN_BUT_ADMIN),
    (Attendance,            Unknown, HIDDEN),
    (Summary,               Own,     [ToSignIn, NotStaff, Done, Hidden, Hidden, Done]),
    (Summary,               Other,   HIDDEN_BUT_ADMIN),
    (Summary,               Unknown, HIDDEN),
    // Administrators' pages.
    (Accounts,              Fixed,   ADMIN),
    (CreateAccount,         Fixed,   ADMIN_ACT),
    (DecideCaseloadRequest, Fixed,   ADMIN_ACT),
    (DecideCaseloadRequest, Unknown, ADMIN_HIDDEN),
    (Account,               Fixed,   ADMIN),
    (Account,               Unknown, ADMIN_HIDDEN),
    (GrantRole,             Fixed,   ADMIN_ACT),
    (GrantRole,             Unknown, ADMIN_HIDDEN),
    (RevokeRole,            Fixed,   ADMIN_ACT),
    (RevokeRole,            Unknown, ADMIN_HIDDEN),
    (AddToCaseload,         Fixed,   ADMIN_ACT),
    (AddToCaseload,         Unknown, ADMIN_HIDDEN),
    (RemoveFromCaseload,    Fixed,   ADMIN_ACT),
    (RemoveFromCaseload,    Unknown, ADMIN_HIDDEN),
    (CreatePrison,          Fixed,   ADMIN_ACT),
    (Email,                 Fixed,   ADMIN),
    (RetryEmail,            Fixed,   ADMIN_ACT),
    (RetryEmail,            Unknown, ADMIN_HIDDEN),
    (Audit,                 Fixed,   ADMIN),
    (Privacy,               Fixed,   ADMIN),
    // The copy is a file (200), not a redirect.
    (ExportData,            Fixed,   ADMIN),
    (ExportData,            Unknown, ADMIN_HIDDEN),
    (RefusePrivacy,         Fixed,   ADMIN_ACT),
    (RefusePrivacy,         Unknown, ADMIN_HIDDEN),
    (Erase,                 Fixed,   ADMIN_ACT),
    (Erase,                 Unknown, ADMIN_HIDDEN),
    // Last, as it ends the sessions the table uses.
    (SignOut,               Fixed,   [ToSignIn, NotStaff, Done, Done, Done, Done]),
];

/// One side of the table: what is own, or what is another's.
struct Side {
    family: VisitingFamily,
    /// A member without an account: enrolment codes, data requests.
    member: MemberId,
    /// The member who visits.
    visitor: MemberId,
    /// A member whose place on the visitor list is decided.
    listed: MemberId,
    prison: PrisonId,
    /// A session ahead, and one that took place (attendance, summary) with its one invitation.
    lab: Uuid,
    past_lab: Uuid,
    invitation: Uuid,
}

/// The ids one cell works on, made before the call when the route needs them.
#[derive(Clone, Debug, Default)]
struct Fixture {
    id: String,
    second: String,
    /// What the administrator reads through the API to see whether the form changed anything.
    watch: Option<String>,
    /// Or the family whose document (steps, appointments) is read.
    document: Option<FamilyId>,
}

struct Context {
    demo: DemoData,
    own: Side,
    other: Side,
    admin: String,
    social: String,
    sessions: HashMap<DemoUser, WebSession>,
    csrf: HashMap<DemoUser, String>,
    /// Proposed by family A to the social worker, for them to answer.
    appointment: String,
    /// An account only administrators see.
    target: AccountId,
    pool: reguide_server::db::DbPool,
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
    async fn prepare(&self, app: &TestApp, route: Route, object: Object) -> Fixture {
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
                let member = if object == Mixed {
                    self.other.member
                } else {
                    side.member
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

    /// The cell's call: method, address and the form's fields (the CSRF token is added).
    fn call(
        &self,
        route: Route,
        f: &Fixture,
        n: i64,
    ) -> (Method, String, Vec<(&'static str, String)>) {
        let id = &f.id;
        let second = &f.second;
        let get = |path: String| (Method::GET, path, Vec::new());
        let post = |path: String, form: Vec<(&'static str, String)>| (Method::POST, path, form);
        let s = |text: &str| text.to_owned();
        let date = next_weekday(Weekday::Fri, 3);
        match route {
            Stylesheet => get(s("/admin/static/admin.css")),
            SignInForm => get(s("/admin/sign-in")),
            SignIn => post(s("/admin/sign-in"), Vec::new()),
            Language => get(s("/admin/language/en?back=/admin/visits")),
            NoSuchPage => get(s("/admin/no-such-page")),
            Home => get(s("/admin")),
            Queue => get(s("/admin/visits")),
            QueueOfPrison => get(format!("/admin/visits?prison={id}&status=all")),
            Request => get(format!("/admin/visits/{id}")),
            Decide => post(
                format!("/admin/visits/{id}/decision"),
                vec![("action", s("confirm")), ("rank", s("1"))],
            ),
            CancelVisit => post(
                format!("/admin/visits/{id}/cancel"),
                vec![("reason", s("The visiting room is closed"))],
            ),
            Prisons => get(s("/admin/prisons")),
            Week => get(format!("/admin/prisons/{id}/week")),
            Day => get(format!("/admin/prisons/{id}/day?date={date}")),
            DayCsv => get(format!("/admin/prisons/{id}/day.csv?date={date}")),
            Prison => get(format!("/admin/prisons/{id}")),
            SetInfo => {
                let (name, city) = if *id == self.other.prison.to_string() {
                    ("Prison de Lantin", "Lantin")
                } else {
                    ("Prison de Haren", "Haren")
                };
                post(
                    format!("/admin/prisons/{id}/info"),
                    vec![
                        ("name", s(name)),
                        ("city", s(city)),
                        ("address", format!("Matrix street {n}")),
                        ("languages", s("fr")),
                        ("languages", s("nl")),
                        ("contact_phone", s("02 000 00 00")),
                        ("contact_email", s("visits@example.org")),
                    ],
                )
            }
            SetRules => post(
                format!("/admin/prisons/{id}/rules"),
                vec![
                    ("visit_type", s("video")),
                    ("min_notice_hours", (n % 72 + 1).to_string()),
                    ("max_days_ahead", s("28")),
                    ("max_visitors", s("2")),
                    ("max_adults", s("2")),
                    ("max_children", s("1")),
                    ("adult_from_age", s("18")),
                    ("cancel_cutoff_hours", s("12")),
                ],
            ),
            AddSession => post(
                format!("/admin/prisons/{id}/sessions"),
                vec![
                    ("weekday", s("2")),
                    ("starts_at", s("09:00")),
                    ("ends_at", s("10:00")),
                    ("every_weeks", s("1")),
                    ("valid_from", today().to_string()),
                    ("room", format!("Matrix room {n}")),
                    ("video", s("2")),
                ],
            ),
            RemoveSession => post(format!("/admin/sessions/{id}/delete"), Vec::new()),
            Block => post(
                format!("/admin/prisons/{id}/blocked"),
                vec![
                    ("date", (today() + Duration::days(60 + n % 100)).to_string()),
                    ("session", String::new()),
                    ("reason", format!("Matrix closure {n}")),
                ],
            ),
            Unblock => post(format!("/admin/blocked/{id}/delete"), Vec::new()),
            Visitors => get(format!("/admin/prisons/{id}/visitors")),
            DecideVisitor => post(
                format!("/admin/detainees/{id}/visitors/{second}"),
                vec![("decision", s("approve")), ("basis", s("kinship_proof"))],
            ),
            FamilyDays => get(format!("/admin/prisons/{id}/family-days")),
            PlanFamilyDay => {
                let day = today() + Duration::days(30 + n % 60);
                post(
                    format!("/admin/prisons/{id}/family-days"),
                    vec![
                        ("title", format!("Matrix family day {n}")),
                        ("date", day.to_string()),
                        ("starts_at", s("10:00")),
                        ("ends_at", s("16:00")),
                        ("programme", s("Games")),
                        ("families", s("5")),
                        ("people", s("20")),
                        ("deadline", format!("{}T12:00", day - Duration::days(2))),
                    ],
                )
            }
            FamilyDay => get(format!("/admin/family-days/{id}")),
            FamilyDayCsv => get(format!("/admin/family-days/{id}/registrations.csv")),
            CancelFamilyDay => post(format!("/admin/family-days/{id}/cancel"), Vec::new()),
            Caseload => get(s("/admin/caseload")),
            Family => get(format!("/admin/families/{id}")),
            ApplyTemplate => post(
                format!("/admin/families/{id}/steps/from-template"),
                vec![("template", s("brussels-first-month"))],
            ),
            AnswerAppointment => post(
                format!("/admin/families/{id}/appointments/{second}/answer"),
                vec![("answer", s("accepted"))],
            ),
            EnrolmentCode => post(
                format!("/admin/families/{id}/members/{second}/enrolment-code"),
                Vec::new(),
            ),
            AskPrivacy => post(
                format!("/admin/families/{id}/members/{second}/privacy"),
                vec![("kind", s("export"))],
            ),
            CloseCase => post(format!("/admin/families/{id}/close"), Vec::new()),
            ReopenCase => post(format!("/admin/families/{id}/reopen"), Vec::new()),
            Labs => get(s("/admin/living-labs")),
            PlanLab => post(
                s("/admin/living-labs"),
                vec![
                    ("title", format!("Matrix Living Lab {n}")),
                    ("date", (today() + Duration::days(30)).to_string()),
                    ("starts_at", s("14:00")),
                    ("ends_at", s("16:00")),
                    ("place", s("Brussels")),
                    ("capacity", s("10")),
                ],
            ),
            Lab => get(format!("/admin/living-labs/{id}")),
            Invite => post(
                format!("/admin/living-labs/{id}/invitations"),
                vec![
                    ("guest_email", format!("matrix.guest{n}@example.org")),
                    ("guest_name", format!("Guest {n}")),
                    ("guest_role", s("academic")),
                    ("guest_language", s("en")),
                ],
            ),
            Attendance => post(
                format!("/admin/living-labs/{id}/attendance"),
                vec![("attended", second.clone())],
            ),
            Summary => post(
                format!("/admin/living-labs/{id}/summary"),
                vec![
                    ("summary", format!("Matrix summary {n}")),
                    ("next_steps", s("Meet again")),
                ],
            ),
            Accounts => get(s("/admin/accounts")),
            CreateAccount => post(
                s("/admin/accounts"),
                vec![
                    ("display_name", format!("Matrix account {n}")),
                    ("email", format!("matrix{n}@example.org")),
                    ("language", s("en")),
                    ("password", s("a long enough secret")),
                    ("role", s("facilitator")),
                ],
            ),
            DecideCaseloadRequest => post(
                format!("/admin/caseload-requests/{id}"),
                vec![("decision", s("refuse"))],
            ),
            Account => get(format!("/admin/accounts/{id}")),
            GrantRole => post(
                format!("/admin/accounts/{id}/roles"),
                vec![
                    ("role", s("coordinator")),
                    ("prison", self.other.prison.to_string()),
                ],
            ),
            RevokeRole => post(
                format!("/admin/accounts/{id}/roles/{second}/revoke"),
                Vec::new(),
            ),
            AddToCaseload => post(
                format!("/admin/accounts/{id}/caseload"),
                vec![("family", self.demo.family_c.to_string())],
            ),
            RemoveFromCaseload => post(
                format!("/admin/accounts/{id}/caseload/{second}/remove"),
                Vec::new(),
            ),
            CreatePrison => post(
                s("/admin/prisons"),
                vec![("name", format!("Matrix prison {n}")), ("city", s("Mons"))],
            ),
            Email => get(s("/admin/email")),
            RetryEmail => post(format!("/admin/email/{id}/retry"), Vec::new()),
            Audit => get(s("/admin/audit")),
            Privacy => get(s("/admin/privacy")),
            ExportData => post(
                format!("/admin/privacy/{id}/export"),
                vec![("format", s("json"))],
            ),
            RefusePrivacy => post(
                format!("/admin/privacy/{id}/refuse"),
                vec![("note", s("Matrix: not now"))],
            ),
            Erase => post(
                format!("/admin/privacy/{id}/erase"),
                vec![("confirm", s("yes"))],
            ),
            SignOut => post(s("/admin/sign-out"), Vec::new()),
        }
    }

    fn session(&self, column: usize) -> Option<&WebSession> {
        CALLERS[column].and_then(|user| self.sessions.get(&user))
    }

    /// What a form may change, as the administrator reads it (or, for signing out, whether the
    /// caller's session still opens the start page). `None` for pages, which change nothing.
    async fn probe(
        &self,
        app: &TestApp,
        route: Route,
        column: usize,
        f: &Fixture,
    ) -> Option<String> {
        // Pages change nothing (a form is a POST); signing in is checked by its cookie.
        if self.call(route, f, 0).0 == Method::GET || route == SignIn {
            return None;
        }
        if route == SignOut {
            let resp = get(app, "/admin", self.session(column)).await;
            return Some(resp.status().to_string());
        }
        if let Some(family) = f.document {
            return Some(self.document(family).await);
        }
        let Some(path) = &f.watch else {
            return Some(String::new());
        };
        let resp = app.get(path, Some(&self.admin)).await;
        let status = resp.status();
        Some(format!(
            "{status} {}",
            resp.text().await.unwrap_or_default()
        ))
    }

    /// A family's steps and appointments, read from its document, which only its social
    /// workers and members see through the API.
    async fn document(&self, family: FamilyId) -> String {
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

/// A GET as a browser sends it, in English, with the session cookie when there is one.
async fn get(app: &TestApp, path: &str, session: Option<&WebSession>) -> reqwest::Response {
    let mut cookies = vec![format!("{}={}", LANGUAGE_COOKIE.0, LANGUAGE_COOKIE.1)];
    if let Some(session) = session {
        cookies.push(format!("{SESSION_COOKIE}={}", session.cookie));
    }
    app.client
        .get(app.url(path))
        .header(header::COOKIE, cookies.join("; "))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: no response: {e}"))
}

/// A page's heading and message, without the markup, for the report of a mismatch.
fn words(html: &str) -> String {
    let main = html.find("<h1").map_or(html, |at| &html[at..]);
    let mut text = String::new();
    let mut in_tag = false;
    for c in main.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace()
        .take(40)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One answer, as the table reads it.
struct Answer {
    outcome: Outcome,
    /// A session cookie with a value was set (signing in).
    session_set: bool,
    body: String,
}

async fn answer_of(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let session = set_cookie(&resp, SESSION_COOKIE);
    let cleared = session.as_ref().is_some_and(|(value, _)| value.is_empty());
    let session_set = session.is_some_and(|(value, _)| !value.is_empty());
    let body = resp.text().await.unwrap_or_default();
    let outcome = match status {
        200 => Shown,
        303 if location.starts_with("/admin/sign-in?next=") => ToSignIn,
        303 => Done,
        400 => Invalid,
        401 => WrongPassword,
        403 if body.contains(CSRF_TITLE) => Csrf,
        403 if body.contains(NOT_STAFF_TITLE) && cleared => NotStaff,
        403 if body.contains(FORBIDDEN_TITLE) => Refused,
        404 if body.contains(NOT_FOUND_TITLE) => Hidden,
        other => Status(other),
    };
    Answer {
        outcome,
        session_set,
        body,
    }
}

impl Context {
    /// Sends one cell's call as its caller.
    async fn send(
        &self,
        app: &TestApp,
        route: Route,
        column: usize,
        f: &Fixture,
        n: i64,
    ) -> Answer {
        let caller = CALLERS[column];
        if route == SignIn {
            let token = app.web_sign_in_token().await;
            // Signed out: someone who does not know the password.
            let (login, password) = match caller {
                Some(user) => (user.email(), DEMO_PASSWORD),
                None => (DemoUser::Admin.email(), "not the password"),
            };
            let form = [
                ("csrf", token.as_str()),
                ("login", login),
                ("password", password),
                ("next", "/admin"),
            ];
            let resp = app
                .web_post(
                    "/admin/sign-in",
                    None,
                    &[(SIGN_IN_COOKIE, &token), LANGUAGE_COOKIE],
                    &form,
                )
                .await;
            return answer_of(resp).await;
        }
        let (method, path, fields) = self.call(route, f, n);
        let session = self.session(column);
        let resp = if method == Method::GET {
            get(app, &path, session).await
        } else {
            // The caller's own token; a family member's session has none to offer (no page of
            // the admin opens for it), so theirs is empty.
            let csrf = caller
                .and_then(|user| self.csrf.get(&user))
                .cloned()
                .unwrap_or_default();
            let mut form = vec![("csrf", csrf)];
            form.extend(fields);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.web_post(&path, session, &[LANGUAGE_COOKIE], &form)
                .await
        };
        answer_of(resp).await
    }
}

async fn setup(app: &TestApp) -> Context {
    let v = app.visits_demo().await;
    let demo = v.demo.clone();
    let admin = app.login_as(DemoUser::Admin).await;
    let social = app.login_as(DemoUser::SocialWorker).await;
    let facilitator = app.login_as(DemoUser::Facilitator).await;

    // A family member with a web session: Fatima signs in while she holds a staff role, which
    // is then taken back. Her session still exists; the admin must not open for it.
    let fatima = demo.account(DemoUser::FamilyMember);
    let roles = format!("/api/v1/admin/accounts/{fatima}/roles");
    let grant: Value = expect_json(
        app.post_json(&roles, Some(&admin), &json!({ "role": "facilitator" }))
            .await,
        201,
    )
    .await;
    let mut sessions = HashMap::new();
    sessions.insert(
        DemoUser::FamilyMember,
        app.web_sign_in(DemoUser::FamilyMember).await,
    );
    let revoke = format!("{roles}/{}", grant["id"].as_str().expect("a grant id"));
    assert_eq!(app.delete(&revoke, Some(&admin)).await.status(), 204);
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

both_backends! {
    async fn web_admin_access_matrix(app: TestApp) {
        let context = setup(&app).await;
        let mut mismatches = Vec::new();
        let mut checked = 0;
        let mut watched = 0;
        let mut n = 0;
        // The 404 pages of hidden and of unknown objects, per route and caller.
        let mut not_found: HashMap<(Route, usize, bool), String> = HashMap::new();
        for &(route, object, expected) in MATRIX {
            let mut fixture: Option<Fixture> = None;
            let mut before: Option<String> = None;
            for (column, &expected) in expected.iter().enumerate() {
                n += 1;
                if fixture.is_none() {
                    fixture = Some(context.prepare(&app, route, object).await);
                    before = None;
                }
                let f = fixture.clone().expect("prepared");
                if before.is_none() || route == SignOut {
                    before = context.probe(&app, route, column, &f).await;
                }
                let answer = context.send(&app, route, column, &f, n).await;
                let after = context.probe(&app, route, column, &f).await;
                checked += 1;
                let who = CALLERS[column].map_or("signed out".to_owned(), |u| format!("{u:?}"));
                let (method, path, _) = context.call(route, &f, n);
                let cell = format!("{route:?} on {object:?} as {who}: {method} {path}");
                let allowed = matches!(answer.outcome, Shown | Done);
                if allowed {
                    // The object may be used up: the next cell gets a new one.
                    fixture = None;
                }
                if answer.outcome != expected {
                    mismatches.push(format!("{cell}: expected {expected:?}, got {:?}: {}", answer.outcome, words(&answer.body)));
                }
                if let (Some(before), Some(after)) = (&before, &after) {
                    watched += 1;
                    if allowed && before == after {
                        mismatches.push(format!("{cell}: answered {:?} but changed nothing", answer.outcome));
                    }
                    if !allowed && before != after {
                        mismatches.push(format!("{cell}: refused ({:?}) but changed {before} into {after}", answer.outcome));
                    }
                }
                before = after;
                if route == SignIn && answer.session_set != (answer.outcome == Done) {
                    mismatches.push(format!("{cell}: {:?} with a session: {}", answer.outcome, answer.session_set));
                }
                if answer.outcome == Hidden {
                    if route != NoSuchPage && answer.body.contains(NO_SUCH_PAGE) {
                        mismatches.push(format!("{cell}: the router's 404, not the route's"));
                    }
                    if matches!(object, Other | Unknown) {
                        not_found.insert((route, column, object == Unknown), answer.body);
                    }
                }
            }
        }
        // What one may not see answers exactly as what does not exist.
        let mut compared = 0;
        for ((route, column, unknown), hidden) in &not_found {
            if *unknown {
                continue;
            }
            if let Some(missing) = not_found.get(&(*route, *column, true)) {
                compared += 1;
                if missing != hidden {
                    mismatches.push(format!(
                        "{route:?} as {:?}: a hidden object's page differs from an unknown one's",
                        CALLERS[*column]
                    ));
                }
            }
        }

        for mismatch in &mismatches {
            eprintln!("MISMATCH {mismatch}");
        }
        assert!(
            mismatches.is_empty(),
            "{} mismatches in {checked} cells of the web admin (listed above)",
            mismatches.len()
        );
        assert_eq!(checked, MATRIX.len() * CALLERS.len());
        assert!(watched > 0 && compared > 0, "the checks of state and of hidden objects ran");
        let mut routes: Vec<Route> = MATRIX.iter().map(|r| r.0).collect();
        routes.dedup();
        eprintln!(
            "{} routes, {} rows, {checked} cells: {watched} with the object watched, {compared} \
             hidden objects compared with unknown ones",
            routes.len(),
            MATRIX.len()
        );
    }
}
