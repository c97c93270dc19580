//! Who may do what: every endpoint × every role × an own or another's object, as one table.
//!
//! The table is the specification; the test runs every cell against a real server, prints every
//! mismatch and fails once at the end, so a broken rule shows its whole extent at once.

use std::collections::{BTreeSet, HashMap};

use reguide_tests::protocol::api::{Account, AuditPage, FamilySummary};
use reguide_tests::protocol::{AccountId, FamilyId, MemberId, Role, RoleGrantId};
use reguide_tests::{
    DemoData, DemoUser, TestApp, assert_error, both_backends, expect_json, member_named,
};
use reqwest::Method;
use serde_json::{Value, json};

/// The callers, in the order of the table's columns. `None` sends no token at all.
const CALLERS: [Option<DemoUser>; 6] = [
    None,
    Some(DemoUser::FamilyMember),
    Some(DemoUser::Facilitator),
    Some(DemoUser::SocialWorker),
    Some(DemoUser::Coordinator),
    Some(DemoUser::Admin),
];

#[derive(Clone, Copy, Debug)]
enum Endpoint {
    ListFamilies,
    ReadFamily,
    CreateFamily,
    AddMember,
    AddDetainee,
    CreateEnrolmentCode,
    ListPrisons,
    ReadPrison,
    Me,
    MyDevices,
    ListAccounts,
    CreateAccount,
    ReadAccount,
    UpdateAccount,
    GrantRole,
    RevokeRole,
    AssignCaseload,
    UnassignCaseload,
    ReadAudit,
    CreatePrison,
    ListLabs,
    ReadLab,
    CreateLab,
    LabInvitations,
    InviteToLab,
    AnswerLab,
    ExportLab,
    MyEmail,
    ReadOutbox,
    AskPrivacy,
    ListPrivacy,
    ReopenCase,
    CloseCase,
}

/// The object of the call. Family A is the family member's own family and in the social
/// worker's caseload, with a detainee in one of the coordinator's prisons; B is in the caseload
/// and the coordinator's prisons but not the family member's; C is nobody's but the admin's.
#[derive(Clone, Copy, Debug)]
enum Object {
    FamilyA,
    FamilyB,
    FamilyC,
    /// The endpoint takes no family.
    Fixed,
}

use Endpoint::*;
use Object::*;

#[rustfmt::skip]
const MATRIX: &[(Endpoint, Object, [u16; 6])] = &[
    //                              anon  family facil. social coord. admin
    (ListFamilies,        Fixed,   [401,  200,   200,   200,   200,   200]),
    (ReadFamily,          FamilyA, [401,  200,   404,   200,   200,   200]),
    (ReadFamily,          FamilyB, [401,  404,   404,   200,   200,   200]),
    (ReadFamily,          FamilyC, [401,  404,   404,   404,   404,   200]),
    (CreateFamily,        Fixed,   [401,  403,   403,   201,   403,   201]),
    (AddMember,           FamilyA, [401,  403,   404,   201,   403,   201]),
    (AddMember,           FamilyB, [401,  404,   404,   201,   403,   201]),
    (AddMember,           FamilyC, [401,  404,   404,   404,   404,   201]),
    (AddDetainee,         FamilyA, [401,  403,   404,   201,   403,   201]),
    (AddDetainee,         FamilyB, [401,  404,   404,   201,   403,   201]),
    (AddDetainee,         FamilyC, [401,  404,   404,   404,   404,   201]),
    (CreateEnrolmentCode, FamilyA, [401,  403,   404,   201,   403,   201]),
    (CreateEnrolmentCode, FamilyB, [401,  404,   404,   201,   403,   201]),
    (CreateEnrolmentCode, FamilyC, [401,  404,   404,   404,   404,   201]),
    (ListPrisons,         Fixed,   [401,  200,   200,   200,   200,   200]),
    (ReadPrison,          Fixed,   [401,  200,   200,   200,   200,   200]),
    (Me,                  Fixed,   [401,  200,   200,   200,   200,   200]),
    (MyDevices,           Fixed,   [401,  200,   200,   200,   200,   200]),
    (ListAccounts,        Fixed,   [401,  403,   403,   403,   403,   200]),
    (CreateAccount,       Fixed,   [401,  403,   403,   403,   403,   201]),
    (ReadAccount,         Fixed,   [401,  403,   403,   403,   403,   200]),
    (UpdateAccount,       Fixed,   [401,  403,   403,   403,   403,   200]),
    (GrantRole,           Fixed,   [401,  403,   403,   403,   403,   201]),
    (RevokeRole,          Fixed,   [401,  403,   403,   403,   403,   204]),
    (AssignCaseload,      Fixed,   [401,  403,   403,   403,   403,   204]),
    (UnassignCaseload,    Fixed,   [401,  403,   403,   403,   403,   204]),
    (ReadAudit,           Fixed,   [401,  403,   403,   403,   403,   200]),
    (CreatePrison,        Fixed,   [401,  403,   403,   403,   403,   201]),
    // A session the facilitator runs, to which the family member and the social worker are
    // invited; the coordinator is not. The administrator runs every session.
    (ListLabs,            Fixed,   [401,  200,   200,   200,   200,   200]),
    (ReadLab,             Fixed,   [401,  200,   200,   200,   404,   200]),
    (CreateLab,           Fixed,   [401,  403,   201,   403,   403,   201]),
    (LabInvitations,      Fixed,   [401,  404,   200,   404,   404,   200]),
    (InviteToLab,         Fixed,   [401,  404,   201,   404,   404,   201]),
    // Staff answer their own invitation; a family member answers in the app.
    (AnswerLab,           Fixed,   [401,  403,   404,   200,   404,   404]),
    (ExportLab,           Fixed,   [401,  404,   200,   404,   404,   200]),
    (MyEmail,             Fixed,   [401,  200,   200,   200,   200,   200]),
    (ReadOutbox,          Fixed,   [401,  403,   403,   403,   403,   200]),
    // About a member without an account: the family member may ask only about themselves.
    (AskPrivacy,          FamilyA, [401,  404,   404,   201,   404,   201]),
    (AskPrivacy,          FamilyB, [401,  404,   404,   201,   404,   201]),
    (AskPrivacy,          FamilyC, [401,  404,   404,   404,   404,   201]),
    (ListPrivacy,         Fixed,   [401,  403,   403,   403,   403,   200]),
    // Cases are open: those who manage the family get as far as `case_not_closed`.
    (ReopenCase,          FamilyA, [401,  403,   404,   409,   403,   409]),
    (ReopenCase,          FamilyB, [401,  404,   404,   409,   403,   409]),
    (ReopenCase,          FamilyC, [401,  404,   404,   404,   404,   409]),
    // Last, as it changes the family: the social worker closes A and B, so the administrator
    // after them finds them closed; C is the administrator's to close.
    (CloseCase,           FamilyA, [401,  403,   404,   200,   403,   409]),
    (CloseCase,           FamilyB, [401,  404,   404,   200,   403,   409]),
    (CloseCase,           FamilyC, [401,  404,   404,   404,   404,   200]),
];

/// The ids the table's calls need.
struct Context {
    demo: DemoData,
    /// A member without an account in each family, for enrolment codes.
    members: HashMap<FamilyId, MemberId>,
    /// A social worker and facilitator made for this test, so admin calls change no demo
    /// account.
    target: AccountId,
    target_grant: RoleGrantId,
    /// The facilitator's session.
    lab: uuid::Uuid,
}

impl Context {
    fn family(&self, object: Object) -> FamilyId {
        match object {
            FamilyA => self.demo.family_a,
            FamilyB => self.demo.family_b,
            FamilyC => self.demo.family_c,
            Fixed => panic!("this endpoint takes no family"),
        }
    }

    /// The request for one cell. `n` makes created names unique.
    fn request(
        &self,
        endpoint: Endpoint,
        object: Object,
        n: usize,
    ) -> (Method, String, Option<Value>) {
        let target = self.target;
        match endpoint {
            ListFamilies => (Method::GET, "/api/v1/families".into(), None),
            ReadFamily => (
                Method::GET,
                format!("/api/v1/families/{}", self.family(object)),
                None,
            ),
            CreateFamily => (
                Method::POST,
                "/api/v1/families".into(),
                Some(json!({ "label": format!("Matrix family {n}") })),
            ),
            AddMember => (
                Method::POST,
                format!("/api/v1/families/{}/members", self.family(object)),
                Some(json!({
                    "display_name": format!("Matrix member {n}"),
                    "relation": "other_family",
                    "preferred_language": "fr",
                })),
            ),
            AddDetainee => (
                Method::POST,
                format!("/api/v1/families/{}/detainees", self.family(object)),
                // Lantin: a detainee there changes no coordinator's view of the demo families.
                Some(json!({
                    "full_name": format!("Matrix detainee {n}"),
                    "prison_id": self.demo.lantin,
                    "internal_number": format!("MX-{n}"),
                })),
            ),
            CreateEnrolmentCode => {
                let family = self.family(object);
                let member = self.members[&family];
                let path = format!("/api/v1/families/{family}/members/{member}/enrolment-codes");
                (Method::POST, path, None)
            }
            ListPrisons => (Method::GET, "/api/v1/prisons".into(), None),
            ReadPrison => (
                Method::GET,
                format!("/api/v1/prisons/{}", self.demo.haren),
                None,
            ),
            Me => (Method::GET, "/api/v1/me".into(), None),
            MyDevices => (Method::GET, "/api/v1/me/devices".into(), None),
            ListAccounts => (Method::GET, "/api/v1/admin/accounts".into(), None),
            CreateAccount => (
                Method::POST,
                "/api/v1/admin/accounts".into(),
                Some(json!({
                    "email": format!("matrix{n}@example.org"),
                    "display_name": "Matrix account",
                    "password": "a long enough secret",
                    "roles": [{ "role": "facilitator" }],
                })),
            ),
            ReadAccount => (
                Method::GET,
                format!("/api/v1/admin/accounts/{target}"),
                None,
            ),
            UpdateAccount => (
                Method::PATCH,
                format!("/api/v1/admin/accounts/{target}"),
                Some(json!({ "display_name": format!("Renamed {n}") })),
            ),
            GrantRole => (
                Method::POST,
                format!("/api/v1/admin/accounts/{target}/roles"),
                Some(json!({ "role": "coordinator", "prison_id": self.demo.lantin })),
            ),
            RevokeRole => (
                Method::DELETE,
                format!(
                    "/api/v1/admin/accounts/{target}/roles/{}",
                    self.target_grant
                ),
                None,
            ),
            AssignCaseload => (
                Method::PUT,
                format!(
                    "/api/v1/admin/accounts/{target}/caseload/{}",
                    self.demo.family_c
                ),
                None,
            ),
            UnassignCaseload => (
                Method::DELETE,
                format!(
                    "/api/v1/admin/accounts/{target}/caseload/{}",
                    self.demo.family_c
                ),
                None,
            ),
            ReadAudit => (Method::GET, "/api/v1/admin/audit".into(), None),
            CreatePrison => (
                Method::POST,
                "/api/v1/admin/prisons".into(),
                Some(json!({ "name": format!("Prison {n}"), "city": "Mons" })),
            ),
            ListLabs => (Method::GET, "/api/v1/living-labs".into(), None),
            ReadLab => (
                Method::GET,
                format!("/api/v1/living-labs/{}", self.lab),
                None,
            ),
            CreateLab => (
                Method::POST,
                "/api/v1/living-labs".into(),
                Some(lab_body(n)),
            ),
            LabInvitations => (
                Method::GET,
                format!("/api/v1/living-labs/{}/invitations", self.lab),
                None,
            ),
            InviteToLab => (
                Method::POST,
                format!("/api/v1/living-labs/{}/invitations", self.lab),
                Some(json!({})),
            ),
            AnswerLab => (
                Method::POST,
                format!("/api/v1/living-labs/{}/answer", self.lab),
                Some(json!({ "answer": "tentative" })),
            ),
            ExportLab => (
                Method::GET,
                format!("/api/v1/living-labs/{}/invitations.csv", self.lab),
                None,
            ),
            MyEmail => (Method::GET, "/api/v1/me/email".into(), None),
            ReadOutbox => (Method::GET, "/api/v1/admin/outbox".into(), None),
            AskPrivacy => {
                let member = self.members[&self.family(object)];
                let body = json!({ "member_id": member, "kind": "export" });
                (Method::POST, "/api/v1/privacy-requests".into(), Some(body))
            }
            ListPrivacy => (Method::GET, "/api/v1/admin/privacy-requests".into(), None),
            ReopenCase => (
                Method::POST,
                format!("/api/v1/families/{}/reopen", self.family(object)),
                None,
            ),
            CloseCase => (
                Method::POST,
                format!("/api/v1/families/{}/close", self.family(object)),
                None,
            ),
        }
    }
}

/// The error code a refusal must carry.
fn expected_code(endpoint: Endpoint, status: u16) -> Option<&'static str> {
    match status {
        401 => Some("unauthenticated"),
        403 => Some("forbidden"),
        404 if matches!(
            endpoint,
            ReadFamily
                | AddMember
                | AddDetainee
                | CreateEnrolmentCode
                | AskPrivacy
                | ReopenCase
                | CloseCase
        ) =>
        {
            Some("family_not_found")
        }
        404 if matches!(
            endpoint,
            ReadLab | LabInvitations | InviteToLab | AnswerLab | ExportLab
        ) =>
        {
            Some("living_lab_not_found")
        }
        _ => None,
    }
}

async fn setup(app: &TestApp) -> Context {
    let demo = app.demo_data().await;
    let admin = app.login_as(DemoUser::Admin).await;
    let mut members = HashMap::new();
    for (family, name) in [
        (demo.family_a, "Karim Benali"),
        (demo.family_b, "Els Janssens"),
        (demo.family_c, "Nadia El Idrissi"),
    ] {
        members.insert(
            family,
            member_named(&app.family(&admin, family).await, name).id,
        );
    }
    let body = json!({
        "email": "matrix.target@example.org",
        "display_name": "Matrix target",
        "password": "a long enough secret",
        // A social worker, so a caseload can be assigned; the facilitator grant is the one
        // the table revokes.
        "roles": [{ "role": "social_worker" }, { "role": "facilitator" }],
    });
    let target: Account = expect_json(
        app.post_json("/api/v1/admin/accounts", Some(&admin), &body)
            .await,
        201,
    )
    .await;
    let target_grant = target
        .roles
        .iter()
        .find(|g| g.role == Role::Facilitator)
        .expect("the facilitator grant")
        .id;
    let facilitator = app.login_as(DemoUser::Facilitator).await;
    let labs: Vec<Value> = expect_json(
        app.post_json("/api/v1/living-labs", Some(&facilitator), &lab_body(0))
            .await,
        201,
    )
    .await;
    let lab: uuid::Uuid = serde_json::from_value(labs[0]["id"].clone()).expect("an id");
    let fatima = member_named(&app.family(&admin, demo.family_a).await, "Fatima Benali").id;
    let invited = json!({
        "members": [fatima],
        "accounts": [demo.account(DemoUser::SocialWorker)],
    });
    let path = format!("/api/v1/living-labs/{lab}/invitations");
    assert_eq!(
        app.post_json(&path, Some(&facilitator), &invited)
            .await
            .status(),
        201
    );
    Context {
        demo,
        members,
        target: target.id,
        target_grant,
        lab,
    }
}

/// A session three weeks ahead.
fn lab_body(n: usize) -> Value {
    json!({
        "title": format!("Matrix Living Lab {n}"),
        "date": chrono::Utc::now().date_naive() + chrono::Duration::days(21),
        "starts_at": "10:00",
        "ends_at": "12:00",
        "place": "Brussels",
        "capacity": 10,
    })
}

both_backends! {
    async fn access_matrix(app: TestApp) {
        let context = setup(&app).await;
        let mut tokens = HashMap::new();
        for user in DemoUser::ALL {
            tokens.insert(user, app.login_as(user).await);
        }

        let mut mismatches = Vec::new();
        let mut checked = 0;
        for (row, &(endpoint, object, expected)) in MATRIX.iter().enumerate() {
            // The admin comes last in every row, so calls that change things (revoking the
            // target's grant) run after everyone else was refused on the same object.
            for (column, (caller, expected)) in CALLERS.iter().zip(expected).enumerate() {
                let (method, path, body) = context.request(endpoint, object, row * 10 + column);
                let token = caller.map(|user| tokens[&user].as_str());
                let resp = app
                    .request(method.clone(), &path, token, body.as_ref())
                    .await;
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                checked += 1;
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
            "{} of {checked} access checks failed (listed above)",
            mismatches.len()
        );
    }

    async fn each_role_lists_exactly_the_families_it_may_see(app: TestApp) {
        let demo = app.demo_data().await;
        let (a, b, c) = (demo.family_a, demo.family_b, demo.family_c);
        let expected: [(DemoUser, &[FamilyId]); 5] = [
            (DemoUser::Admin, &[a, b, c]),
            (DemoUser::Coordinator, &[a, b]),
            (DemoUser::SocialWorker, &[a, b]),
            (DemoUser::Facilitator, &[]),
            (DemoUser::FamilyMember, &[a]),
        ];
        for (user, families) in expected {
            let token = app.login_as(user).await;
            let listed: Vec<FamilySummary> =
                expect_json(app.get("/api/v1/families", Some(&token)).await, 200).await;
            let listed: BTreeSet<FamilyId> = listed.iter().map(|f| f.id).collect();
            let expected: BTreeSet<FamilyId> = families.iter().copied().collect();
            assert_eq!(listed, expected, "{user:?} lists the wrong families");
        }

        let admin = app.login_as(DemoUser::Admin).await;
        let listed: Vec<FamilySummary> =
            expect_json(app.get("/api/v1/families", Some(&admin)).await, 200).await;
        let count = |id| listed.iter().find(|f| f.id == id).map(|f| f.member_count);
        assert_eq!(count(a), Some(3), "Fatima, Karim and Salma");
        assert_eq!(count(b), Some(2), "Els and Lotte");
        assert_eq!(count(c), Some(1), "Nadia");
    }

    async fn hidden_and_missing_families_look_the_same(app: TestApp) {
        // A 404 for a family one may not see must not differ from one for no family at all, or
        // ids could be probed.
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let hidden = app
            .get(
                &format!("/api/v1/families/{}", demo.family_c),
                Some(&social),
            )
            .await;
        let hidden = assert_error(hidden, 404, "family_not_found").await;
        let missing = app
            .get(
                &format!("/api/v1/families/{}", uuid::Uuid::new_v4()),
                Some(&social),
            )
            .await;
        let missing = assert_error(missing, 404, "family_not_found").await;
        assert_eq!(hidden, missing);
    }

    async fn a_new_family_joins_its_creators_caseload(app: TestApp) {
        let social = app.login_as(DemoUser::SocialWorker).await;
        let created: reguide_tests::protocol::api::Family = expect_json(
            app.post_json(
                "/api/v1/families",
                Some(&social),
                &json!({ "label": "Family of R. Peeters" }),
            )
            .await,
            201,
        )
        .await;
        assert_eq!(created.label, "Family of R. Peeters");
        assert!(created.members.is_empty() && created.detainees.is_empty());
        assert!(app.me(&social).await.caseload.contains(&created.id));
        app.family(&social, created.id).await;
        // Nobody else on the staff sees it yet, but the admin.
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let resp = app
            .get(
                &format!("/api/v1/families/{}", created.id),
                Some(&coordinator),
            )
            .await;
        assert_error(resp, 404, "family_not_found").await;
    }

    async fn staff_reads_of_families_are_audited(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        app.family(&social, demo.family_a).await;
        app.family(&family, demo.family_a).await;

        let admin = app.login_as(DemoUser::Admin).await;
        let page: AuditPage = expect_json(
            app.get("/api/v1/admin/audit?action=family_viewed", Some(&admin))
                .await,
            200,
        )
        .await;
        let family_a = demo.family_a.to_string();
        let by = |user| {
            page.entries.iter().any(|e| {
                e.actor_account_id == Some(demo.account(user))
                    && e.object_id.as_deref() == Some(&family_a)
            })
        };
        assert!(
            by(DemoUser::SocialWorker),
            "the social worker's read is not audited: {page:?}"
        );
        // A family reading its own file is no staff access to record.
        assert!(
            !by(DemoUser::FamilyMember),
            "a member's read of their own family is audited"
        );
    }
}
