//! Family days: coordinators organise them, families register (or are registered by their
//! social worker), full days refuse or put families on a waiting list, cancellations let the
//! next families in, and the kitchen gets a CSV. Capacity holds under concurrent registration.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use reguide_tests::protocol::api::{AuditPage, Detainee, Family};
use reguide_tests::protocol::family_days::{FamilyDay, Registration, RegistrationStatus};
use reguide_tests::protocol::{FamilyId, PrisonId};
use reguide_tests::{
    DemoData, DemoUser, FAMILY_A_LABEL, FAMILY_B_LABEL, FAMILY_C_LABEL, TestApp, assert_error,
    both_backends, expect_json, expect_status,
};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use tokio::task::JoinSet;

// ------------------------------------------------------------------ helpers

/// A date `n` days from today.
fn upcoming(n: i64) -> NaiveDate {
    Utc::now().date_naive() + Duration::days(n)
}

/// Two days before `date`, at noon UTC.
fn deadline_for(date: NaiveDate) -> DateTime<Utc> {
    at_utc(date - Duration::days(2), 12, 0)
}

fn at_utc(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    date.and_hms_opt(hour, minute, 0)
        .expect("a valid time")
        .and_utc()
}

/// A valid new day: 10:00 to 16:00, registration closing two days before.
fn day_body(title: &str, date: NaiveDate, families: i32, people: i32) -> Value {
    json!({
        "title": title,
        "date": date,
        "starts_at": "10:00",
        "ends_at": "16:00",
        "programme": "Games, lunch together, photos",
        "capacity_families": families,
        "capacity_people": people,
        "registration_deadline": deadline_for(date),
    })
}

fn days_of(prison: PrisonId) -> String {
    format!("/api/v1/prisons/{prison}/family-days")
}

fn day_path(day: &FamilyDay) -> String {
    format!("/api/v1/family-days/{}", day.id)
}

fn registrations_path(day: &FamilyDay) -> String {
    format!("/api/v1/family-days/{}/registrations", day.id)
}

async fn create_day(app: &TestApp, token: &str, prison: PrisonId, body: &Value) -> FamilyDay {
    expect_json(
        app.post_json(&days_of(prison), Some(token), body).await,
        201,
    )
    .await
}

/// A day at `prison` created by the admin.
async fn simple_day(app: &TestApp, admin: &str, prison: PrisonId, families: i32) -> FamilyDay {
    create_day(
        app,
        admin,
        prison,
        &day_body("Family day", upcoming(30), families, families * 6),
    )
    .await
}

fn registration(family: FamilyId, adults: i32, children: i32, wait: bool) -> Value {
    json!({
        "family_id": family,
        "adults": adults,
        "children": children,
        "wait_if_full": wait,
    })
}

async fn register(app: &TestApp, token: &str, day: &FamilyDay, body: &Value) -> Response {
    app.post_json(&registrations_path(day), Some(token), body)
        .await
}

/// Registers and expects a 201.
async fn registered(
    app: &TestApp,
    token: &str,
    day: &FamilyDay,
    family: FamilyId,
    adults: i32,
    children: i32,
    wait: bool,
) -> Registration {
    let body = registration(family, adults, children, wait);
    expect_json(register(app, token, day, &body).await, 201).await
}

async fn fetch_day(app: &TestApp, token: &str, day: &FamilyDay) -> FamilyDay {
    expect_json(app.get(&day_path(day), Some(token)).await, 200).await
}

async fn day_registrations(app: &TestApp, token: &str, day: &FamilyDay) -> Vec<Registration> {
    expect_json(app.get(&registrations_path(day), Some(token)).await, 200).await
}

async fn family_registrations(app: &TestApp, token: &str, family: FamilyId) -> Vec<Registration> {
    let path = format!("/api/v1/families/{family}/family-day-registrations");
    expect_json(app.get(&path, Some(token)).await, 200).await
}

async fn cancel_registration(
    app: &TestApp,
    token: &str,
    day: &FamilyDay,
    registration: &Registration,
) -> Response {
    let path = format!("{}/{}", registrations_path(day), registration.id);
    app.delete(&path, Some(token)).await
}

/// A new family without any detained relative, so welcome at no family day.
async fn bare_family(app: &TestApp, admin: &str, label: &str) -> FamilyId {
    let family: Family = expect_json(
        app.post_json("/api/v1/families", Some(admin), &json!({ "label": label }))
            .await,
        201,
    )
    .await;
    family.id
}

/// Links a new detained relative of `family`, held at `prison`: from then on the family may
/// register for the family days of that prison (a family day is for the families of the
/// people held there). `admin` must be an administrator.
async fn link_detainee(app: &TestApp, admin: &str, family: FamilyId, prison: PrisonId) -> Detainee {
    let detainee: Detainee = expect_json(
        app.post_json(
            &format!("/api/v1/families/{family}/detainees"),
            Some(admin),
            &json!({
                "full_name": "Relative of the family",
                "prison_id": prison,
                "internal_number": format!("FD-{}", uuid::Uuid::new_v4().simple()),
            }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(detainee.prison_id, prison);
    detainee
}

/// A new family with a detained relative at `prison`.
async fn new_family(app: &TestApp, admin: &str, label: &str, prison: PrisonId) -> FamilyId {
    let family = bare_family(app, admin, label).await;
    link_detainee(app, admin, family, prison).await;
    family
}

async fn audit_has(app: &TestApp, admin: &str, action: &str, object_id: &str) -> bool {
    let path = format!("/api/v1/admin/audit?action={action}&limit=500");
    let page: AuditPage = expect_json(app.get(&path, Some(admin)).await, 200).await;
    page.entries
        .iter()
        .any(|e| e.action == action && e.object_id.as_deref() == Some(object_id))
}

fn labels(list: &[Registration]) -> Vec<(&str, RegistrationStatus, Option<i64>)> {
    list.iter()
        .map(|r| (r.family_label.as_str(), r.status, r.position))
        .collect()
}

/// The counters of a day must equal its rows: registered families and their people, and the
/// waiting list numbered 1, 2, 3… in order.
fn assert_counters_match_rows(day: &FamilyDay, rows: &[Registration]) {
    let registered: Vec<_> = rows
        .iter()
        .filter(|r| r.status == RegistrationStatus::Registered)
        .collect();
    let waiting: Vec<_> = rows
        .iter()
        .filter(|r| r.status == RegistrationStatus::Waiting)
        .collect();
    assert_eq!(
        day.registered_families as usize,
        registered.len(),
        "{day:?}"
    );
    assert_eq!(
        day.registered_people,
        registered
            .iter()
            .map(|r| r.adults + r.children)
            .sum::<i32>(),
        "{day:?}"
    );
    assert_eq!(day.waiting_families as usize, waiting.len(), "{day:?}");
    assert!(day.registered_families <= day.capacity_families, "{day:?}");
    assert!(day.registered_people <= day.capacity_people, "{day:?}");
    let positions: Vec<_> = waiting.iter().map(|r| r.position).collect();
    let expected: Vec<_> = (1..=waiting.len() as i64).map(Some).collect();
    assert_eq!(positions, expected, "waiting positions");
    assert!(registered.iter().all(|r| r.position.is_none()));
}

/// A strict RFC 4180 reader: quoted fields, doubled quotes, CRLF line ends, a UTF-8 BOM.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    assert!(text.ends_with("\r\n"), "CSV must end with CRLF: {text:?}");
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                    assert!(
                        matches!(chars.peek(), Some(',' | '\r')),
                        "text after a closing quote in {text:?}"
                    );
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                assert!(field.is_empty(), "quote inside an unquoted field: {text:?}");
                quoted = true;
            }
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => assert_eq!(chars.next(), Some('\n'), "bare CR in {text:?}"),
            '\n' => panic!("bare LF outside quotes in {text:?}"),
            _ => field.push(c),
        }
        if c == '\r' {
            row.push(std::mem::take(&mut field));
            rows.push(std::mem::take(&mut row));
        }
    }
    assert!(!quoted, "unterminated quote in {text:?}");
    rows
}

// ------------------------------------------------------------------ the access matrix

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
    CreateDay,
    ListDays,
    ReadDay,
    UpdateDay,
    CancelDay,
    Register,
    ListRegistrations,
    ExportCsv,
    FamilyRegistrations,
    CancelRegistration,
}

/// Haren is the coordinator's prison, Lantin is not. Family A is the family member's own and
/// in the social worker's caseload, with a detainee at Haren; B is in the caseload with a
/// detainee at Brugge (the coordinator's too); C (Lantin) is nobody's but the admin's.
/// `RegXY` is a registration of family X for a day at prison Y.
///
/// A family registers only for the days of a prison where a relative of theirs is held, so
/// `Register` uses a day at the family's own prison, and the matrix links A to a second
/// detainee at Lantin and B to one at Haren so that `RegALantin` and `RegBHaren` can exist.
/// Neither link changes who sees a family: the coordinator already sees A (Haren) and B
/// (Brugge), and nobody but the admin organises Lantin. Every refusal in the table is thus
/// about access, never about the prison of the day.
#[derive(Clone, Copy, Debug)]
enum Object {
    Haren,
    Lantin,
    FamilyA,
    FamilyB,
    FamilyC,
    RegAHaren,
    RegALantin,
    RegBHaren,
    RegCLantin,
    Fixed,
}

use Endpoint::*;
use Object::*;

#[rustfmt::skip]
const MATRIX: &[(Endpoint, Object, [u16; 6])] = &[
    //                                    anon  family facil. social coord. admin
    (CreateDay,           Haren,        [401,  403,   403,   403,   201,   201]),
    (CreateDay,           Lantin,       [401,  403,   403,   403,   403,   201]),
    (ListDays,            Fixed,        [401,  200,   200,   200,   200,   200]),
    (ReadDay,             Haren,        [401,  200,   200,   200,   200,   200]),
    (ReadDay,             Lantin,       [401,  200,   200,   200,   200,   200]),
    (UpdateDay,           Haren,        [401,  403,   403,   403,   200,   200]),
    (UpdateDay,           Lantin,       [401,  403,   403,   403,   403,   200]),
    (CancelDay,           Haren,        [401,  403,   403,   403,   200,   200]),
    (CancelDay,           Lantin,       [401,  403,   403,   403,   403,   200]),
    (Register,            FamilyA,      [401,  201,   404,   201,   201,   201]),
    (Register,            FamilyB,      [401,  404,   404,   201,   201,   201]),
    (Register,            FamilyC,      [401,  404,   404,   404,   404,   201]),
    (ListRegistrations,   Haren,        [401,  403,   403,   403,   200,   200]),
    (ListRegistrations,   Lantin,       [401,  403,   403,   403,   403,   200]),
    (ExportCsv,           Haren,        [401,  403,   403,   403,   200,   200]),
    (ExportCsv,           Lantin,       [401,  403,   403,   403,   403,   200]),
    (FamilyRegistrations, FamilyA,      [401,  200,   404,   200,   200,   200]),
    (FamilyRegistrations, FamilyB,      [401,  404,   404,   200,   200,   200]),
    (FamilyRegistrations, FamilyC,      [401,  404,   404,   404,   404,   200]),
    (CancelRegistration,  RegAHaren,    [401,  204,   404,   204,   204,   204]),
    (CancelRegistration,  RegALantin,   [401,  204,   404,   204,   403,   204]),
    (CancelRegistration,  RegBHaren,    [401,  404,   404,   204,   204,   204]),
    (CancelRegistration,  RegCLantin,   [401,  404,   404,   404,   404,   204]),
];

fn expected_code(endpoint: Endpoint, status: u16) -> Option<&'static str> {
    match (endpoint, status) {
        (_, 401) => Some("unauthenticated"),
        (_, 403) => Some("forbidden"),
        (Register | FamilyRegistrations, 404) => Some("family_not_found"),
        (CancelRegistration, 404) => Some("registration_not_found"),
        _ => None,
    }
}

struct Matrix {
    demo: DemoData,
    admin: String,
    /// One day per prison for the calls that change nothing or may repeat.
    shared: HashMap<&'static str, FamilyDay>,
}

impl Matrix {
    fn prison(&self, object: Object) -> PrisonId {
        match object {
            Haren | RegAHaren | RegBHaren => self.demo.haren,
            Lantin | RegALantin | RegCLantin => self.demo.lantin,
            _ => panic!("{object:?} names no prison"),
        }
    }

    fn family(&self, object: Object) -> FamilyId {
        match object {
            FamilyA | RegAHaren | RegALantin => self.demo.family_a,
            FamilyB | RegBHaren => self.demo.family_b,
            FamilyC | RegCLantin => self.demo.family_c,
            _ => panic!("{object:?} names no family"),
        }
    }

    /// The prison where the family's demo detainee is held.
    fn home(&self, object: Object) -> PrisonId {
        match object {
            FamilyA => self.demo.haren,
            FamilyB => self.demo.brugge,
            FamilyC => self.demo.lantin,
            _ => panic!("{object:?} is no family"),
        }
    }

    fn shared(&self, object: Object) -> &FamilyDay {
        match object {
            Haren => &self.shared["haren"],
            Lantin => &self.shared["lantin"],
            _ => panic!("{object:?} has no shared day"),
        }
    }

    /// The request of one cell, creating with the admin what it acts on when the call
    /// changes it.
    async fn request(
        &self,
        app: &TestApp,
        endpoint: Endpoint,
        object: Object,
        n: usize,
    ) -> (Method, String, Option<Value>) {
        match endpoint {
            CreateDay => (
                Method::POST,
                days_of(self.prison(object)),
                Some(day_body(&format!("Matrix day {n}"), upcoming(40), 5, 20)),
            ),
            ListDays => (Method::GET, "/api/v1/family-days".into(), None),
            ReadDay => (Method::GET, day_path(self.shared(object)), None),
            UpdateDay => (
                Method::PATCH,
                day_path(self.shared(object)),
                Some(json!({ "title": format!("Renamed {n}") })),
            ),
            CancelDay => {
                let day = simple_day(app, &self.admin, self.prison(object), 5).await;
                (Method::POST, format!("{}/cancel", day_path(&day)), None)
            }
            Register => {
                let day = simple_day(app, &self.admin, self.home(object), 5).await;
                let body = registration(self.family(object), 1, 1, false);
                (Method::POST, registrations_path(&day), Some(body))
            }
            ListRegistrations => (Method::GET, registrations_path(self.shared(object)), None),
            ExportCsv => (
                Method::GET,
                format!("{}.csv", registrations_path(self.shared(object))),
                None,
            ),
            FamilyRegistrations => (
                Method::GET,
                format!(
                    "/api/v1/families/{}/family-day-registrations",
                    self.family(object)
                ),
                None,
            ),
            CancelRegistration => {
                let day = simple_day(app, &self.admin, self.prison(object), 5).await;
                let reg =
                    registered(app, &self.admin, &day, self.family(object), 1, 0, false).await;
                (
                    Method::DELETE,
                    format!("{}/{}", registrations_path(&day), reg.id),
                    None,
                )
            }
        }
    }
}

// ------------------------------------------------------------------ tests

both_backends! {
    async fn coordinator_creates_a_day_and_families_register(app: TestApp) {
        let demo = app.demo_data().await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let facilitator = app.login_as(DemoUser::Facilitator).await;
        let admin = app.login_as(DemoUser::Admin).await;
        // B's relative is held at Brugge; a second one, at Haren, brings B to Haren's days.
        link_detainee(&app, &admin, demo.family_b, demo.haren).await;

        let date = upcoming(21);
        let day = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Fête des familles", date, 10, 40),
        )
        .await;
        assert_eq!(day.title, "Fête des familles");
        assert_eq!(day.prison_id, demo.haren);
        assert_eq!(day.date, date);
        assert_eq!(day.starts_at.date_naive(), date);
        assert_eq!(day.starts_at.format("%H:%M").to_string(), "10:00");
        assert_eq!(day.ends_at.format("%H:%M").to_string(), "16:00");
        assert_eq!((day.capacity_families, day.capacity_people), (10, 40));
        assert_eq!(
            (
                day.registered_families,
                day.registered_people,
                day.waiting_families
            ),
            (0, 0, 0)
        );
        assert_eq!(
            (day.min_child_age, day.max_child_age),
            (0, 17),
            "the defaults"
        );
        assert_eq!(day.registration_deadline, deadline_for(date));
        assert!(!day.cancelled);
        assert!(audit_has(&app, &admin, "family_day_created", &day.id.to_string()).await);

        // Everyone signed in reads it, the same for all.
        let read = fetch_day(&app, &facilitator, &day).await;
        assert_eq!(
            serde_json::to_value(&read).ok(),
            serde_json::to_value(&day).ok()
        );

        // The family registers itself, with a note for the kitchen.
        let mut body = registration(demo.family_a, 2, 1, false);
        body["note"] = json!("  Salma is vegetarian  ");
        let own: Registration = expect_json(register(&app, &family, &day, &body).await, 201).await;
        assert_eq!(own.family_id, demo.family_a);
        assert_eq!(own.family_label, FAMILY_A_LABEL);
        assert_eq!(own.family_day_id, day.id);
        assert_eq!(own.status, RegistrationStatus::Registered);
        assert_eq!(own.position, None);
        assert_eq!((own.adults, own.children), (2, 1));
        assert_eq!(own.note.as_deref(), Some("Salma is vegetarian"));

        // The social worker registers another family of the caseload.
        let by_staff = registered(&app, &social, &day, demo.family_b, 1, 1, false).await;
        assert_eq!(by_staff.status, RegistrationStatus::Registered);
        assert_eq!(by_staff.family_label, FAMILY_B_LABEL);

        let counted = fetch_day(&app, &family, &day).await;
        assert_eq!(
            (
                counted.registered_families,
                counted.registered_people,
                counted.waiting_families
            ),
            (2, 5, 0)
        );

        let list = day_registrations(&app, &coordinator, &day).await;
        assert_eq!(
            labels(&list),
            vec![
                (FAMILY_A_LABEL, RegistrationStatus::Registered, None),
                (FAMILY_B_LABEL, RegistrationStatus::Registered, None),
            ]
        );
        assert_counters_match_rows(&counted, &list);

        let mine = family_registrations(&app, &family, demo.family_a).await;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].id, own.id);
        let of_b = family_registrations(&app, &social, demo.family_b).await;
        assert_eq!(
            of_b.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![by_staff.id]
        );

        // Listed for its prison and not for another.
        let haren: Vec<FamilyDay> = expect_json(
            app.get(
                &format!("/api/v1/family-days?prison_id={}", demo.haren),
                Some(&family),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(haren.iter().map(|d| d.id).collect::<Vec<_>>(), vec![day.id]);
        assert_eq!(haren[0].registered_families, 2);
        let brugge: Vec<FamilyDay> = expect_json(
            app.get(
                &format!("/api/v1/family-days?prison_id={}", demo.brugge),
                Some(&family),
            )
            .await,
            200,
        )
        .await;
        assert!(brugge.is_empty());

        // Staff registering a family is audited; a family registering itself is not.
        let action = "family_day_registration_created";
        assert!(audit_has(&app, &admin, action, &by_staff.id.to_string()).await);
        assert!(!audit_has(&app, &admin, action, &own.id.to_string()).await);
    }

    async fn only_families_with_a_relative_in_the_prison_register(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let day = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Haren families", upcoming(18), 2, 10),
        )
        .await;
        // A's relative is held at Haren: welcome.
        registered(&app, &family, &day, demo.family_a, 2, 1, false).await;
        let before = fetch_day(&app, &admin, &day).await;
        let listed_before = day_registrations(&app, &admin, &day).await;
        assert_eq!(
            labels(&listed_before),
            vec![(FAMILY_A_LABEL, RegistrationStatus::Registered, None)]
        );

        // C's relative is held at Lantin, and a new family has nobody in prison at all: both
        // are refused, whether or not they would wait, though the day has room.
        let nobody = bare_family(&app, &admin, "Family of F. Maes").await;
        for family_id in [demo.family_c, nobody] {
            for wait in [false, true] {
                let body = registration(family_id, 1, 1, wait);
                let error = assert_error(
                    register(&app, &admin, &day, &body).await,
                    400,
                    "family_not_linked_to_prison",
                )
                .await;
                assert_eq!(error.field.as_deref(), Some("family_id"), "{body}");
            }
        }
        // A family registering itself is held to the same rule: A has nobody at Lantin.
        let lantin = simple_day(&app, &admin, demo.lantin, 2).await;
        let error = assert_error(
            register(
                &app,
                &family,
                &lantin,
                &registration(demo.family_a, 1, 0, false),
            )
            .await,
            400,
            "family_not_linked_to_prison",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("family_id"));

        // Nothing was stored by the refusals: no place taken, nobody in line.
        let after = fetch_day(&app, &admin, &day).await;
        assert_eq!(
            serde_json::to_value(&after).ok(),
            serde_json::to_value(&before).ok()
        );
        assert_eq!(
            (
                after.registered_families,
                after.registered_people,
                after.waiting_families
            ),
            (1, 3, 0)
        );
        let listed_after = day_registrations(&app, &admin, &day).await;
        assert_eq!(
            serde_json::to_value(&listed_after).ok(),
            serde_json::to_value(&listed_before).ok()
        );
        let untouched = fetch_day(&app, &admin, &lantin).await;
        assert_eq!(
            (
                untouched.registered_families,
                untouched.registered_people,
                untouched.waiting_families
            ),
            (0, 0, 0)
        );
        assert!(day_registrations(&app, &admin, &lantin).await.is_empty());
        for family_id in [demo.family_c, nobody] {
            assert!(
                family_registrations(&app, &admin, family_id)
                    .await
                    .is_empty()
            );
        }
        assert_eq!(
            family_registrations(&app, &admin, demo.family_a)
                .await
                .len(),
            1
        );

        // Once a detained relative of C at Haren is linked, C registers like anyone.
        link_detainee(&app, &admin, demo.family_c, demo.haren).await;
        let c = registered(&app, &admin, &day, demo.family_c, 1, 1, false).await;
        assert_eq!(
            (c.status, c.position),
            (RegistrationStatus::Registered, None)
        );
        let counted = fetch_day(&app, &admin, &day).await;
        assert_eq!(
            (
                counted.registered_families,
                counted.registered_people,
                counted.waiting_families
            ),
            (2, 5, 0)
        );
        let list = day_registrations(&app, &admin, &day).await;
        assert_eq!(
            labels(&list),
            vec![
                (FAMILY_A_LABEL, RegistrationStatus::Registered, None),
                (FAMILY_C_LABEL, RegistrationStatus::Registered, None),
            ]
        );
        assert_counters_match_rows(&counted, &list);
        // The family with nobody in prison is still refused.
        let still = register(&app, &admin, &day, &registration(nobody, 1, 0, true)).await;
        assert_error(still, 400, "family_not_linked_to_prison").await;
    }

    async fn a_full_day_refuses_or_puts_families_on_the_waiting_list(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let day = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Two families", upcoming(14), 2, 20),
        )
        .await;
        // A's relative is held at Haren; B and C get one there too.
        for family in [demo.family_b, demo.family_c] {
            link_detainee(&app, &admin, family, demo.haren).await;
        }
        registered(&app, &admin, &day, demo.family_a, 2, 0, false).await;
        registered(&app, &admin, &day, demo.family_b, 1, 0, false).await;

        let full = register(
            &app,
            &admin,
            &day,
            &registration(demo.family_c, 1, 0, false),
        )
        .await;
        assert_error(full, 409, "family_day_full").await;
        // Nothing was stored by the refusal.
        let after = fetch_day(&app, &admin, &day).await;
        assert_eq!(
            (
                after.registered_families,
                after.registered_people,
                after.waiting_families
            ),
            (2, 3, 0)
        );
        assert!(
            family_registrations(&app, &admin, demo.family_c)
                .await
                .is_empty()
        );

        let first = registered(&app, &admin, &day, demo.family_c, 1, 2, true).await;
        assert_eq!(
            (first.status, first.position),
            (RegistrationStatus::Waiting, Some(1))
        );
        let d = new_family(&app, &admin, "Family of D. Peeters", demo.haren).await;
        let second = registered(&app, &admin, &day, d, 2, 0, true).await;
        assert_eq!(
            (second.status, second.position),
            (RegistrationStatus::Waiting, Some(2))
        );

        let counted = fetch_day(&app, &admin, &day).await;
        assert_eq!(
            (
                counted.registered_families,
                counted.registered_people,
                counted.waiting_families
            ),
            (2, 3, 2)
        );
        let list = day_registrations(&app, &admin, &day).await;
        assert_eq!(
            labels(&list),
            vec![
                (FAMILY_A_LABEL, RegistrationStatus::Registered, None),
                (FAMILY_B_LABEL, RegistrationStatus::Registered, None),
                (FAMILY_C_LABEL, RegistrationStatus::Waiting, Some(1)),
                ("Family of D. Peeters", RegistrationStatus::Waiting, Some(2)),
            ]
        );
        assert_counters_match_rows(&counted, &list);
        // The family sees its place in line.
        let of_c = family_registrations(&app, &admin, demo.family_c).await;
        assert_eq!(of_c[0].position, Some(1));

        // Full by people: five families may come, but only four people.
        let small = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Four people", upcoming(15), 4, 4),
        )
        .await;
        registered(&app, &admin, &small, demo.family_a, 2, 1, false).await;
        let too_many = register(
            &app,
            &admin,
            &small,
            &registration(demo.family_b, 1, 1, false),
        )
        .await;
        assert_error(too_many, 409, "family_day_full").await;
        let fits = registered(&app, &admin, &small, demo.family_b, 1, 0, false).await;
        assert_eq!(fits.status, RegistrationStatus::Registered);
        let counted = fetch_day(&app, &admin, &small).await;
        assert_eq!(
            (counted.registered_families, counted.registered_people),
            (2, 4)
        );
        // A family larger than the whole day could never get in, not even by waiting.
        let larger = register(
            &app,
            &admin,
            &small,
            &registration(demo.family_c, 3, 2, true),
        )
        .await;
        assert_error(larger, 409, "group_too_large").await;
    }

    async fn cancelling_promotes_the_first_waiting_family_that_fits(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let day = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Six people", upcoming(10), 2, 6),
        )
        .await;
        // A's relative is held at Haren; B and C get one there too.
        for family in [demo.family_b, demo.family_c] {
            link_detainee(&app, &admin, family, demo.haren).await;
        }

        let a = registered(&app, &family, &day, demo.family_a, 2, 1, false).await;
        let b = registered(&app, &social, &day, demo.family_b, 2, 1, false).await;
        let c = registered(&app, &admin, &day, demo.family_c, 3, 2, true).await;
        let d_family = new_family(&app, &admin, "Family of D. Peeters", demo.haren).await;
        let d = registered(&app, &admin, &day, d_family, 1, 1, true).await;
        let e_family = new_family(&app, &admin, "Family of E. Claes", demo.haren).await;
        let e = registered(&app, &admin, &day, e_family, 1, 0, true).await;
        assert_eq!(
            [c.position, d.position, e.position],
            [Some(1), Some(2), Some(3)]
        );

        // B leaves: one family and three people free. C (five people) does not fit; D (two)
        // is the first that does, and then no family place is left for E.
        expect_status(cancel_registration(&app, &social, &day, &b).await, 204).await;
        let counted = fetch_day(&app, &admin, &day).await;
        assert_eq!(
            (
                counted.registered_families,
                counted.registered_people,
                counted.waiting_families
            ),
            (2, 5, 2)
        );
        let list = day_registrations(&app, &coordinator, &day).await;
        assert_eq!(
            labels(&list),
            vec![
                (FAMILY_A_LABEL, RegistrationStatus::Registered, None),
                ("Family of D. Peeters", RegistrationStatus::Registered, None),
                (FAMILY_C_LABEL, RegistrationStatus::Waiting, Some(1)),
                ("Family of E. Claes", RegistrationStatus::Waiting, Some(2)),
            ]
        );
        assert_counters_match_rows(&counted, &list);
        assert!(
            audit_has(
                &app,
                &admin,
                "family_day_registration_promoted",
                &d.id.to_string()
            )
            .await
        );
        assert!(
            audit_has(
                &app,
                &admin,
                "family_day_registration_cancelled",
                &b.id.to_string()
            )
            .await
        );

        // The family cancels its own registration before the deadline: four places and one
        // family place free; C still does not fit, E does.
        expect_status(cancel_registration(&app, &family, &day, &a).await, 204).await;
        let counted = fetch_day(&app, &admin, &day).await;
        let list = day_registrations(&app, &coordinator, &day).await;
        assert_eq!(
            labels(&list),
            vec![
                ("Family of D. Peeters", RegistrationStatus::Registered, None),
                ("Family of E. Claes", RegistrationStatus::Registered, None),
                (FAMILY_C_LABEL, RegistrationStatus::Waiting, Some(1)),
            ]
        );
        assert_counters_match_rows(&counted, &list);
        // A family cancelling is not audited as a staff action.
        assert!(
            !audit_has(
                &app,
                &admin,
                "family_day_registration_cancelled",
                &a.id.to_string()
            )
            .await
        );
        let mine = family_registrations(&app, &family, demo.family_a).await;
        assert_eq!(mine[0].status, RegistrationStatus::Cancelled);

        // Twice is once too many; a waiting family leaving frees no place.
        assert_error(
            cancel_registration(&app, &family, &day, &a).await,
            409,
            "registration_cancelled",
        )
        .await;
        expect_status(cancel_registration(&app, &admin, &day, &c).await, 204).await;
        let counted = fetch_day(&app, &admin, &day).await;
        assert_eq!(
            (
                counted.registered_families,
                counted.registered_people,
                counted.waiting_families
            ),
            (2, 3, 0)
        );

        // A registration is only found under its own day.
        let other = simple_day(&app, &admin, demo.haren, 3).await;
        let wrong = app
            .delete(
                &format!("{}/{}", registrations_path(&other), d.id),
                Some(&admin),
            )
            .await;
        assert_error(wrong, 404, "registration_not_found").await;
    }

    async fn registration_closes_at_the_deadline(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let day = simple_day(&app, &admin, demo.haren, 5).await;
        // A's relative is held at Haren; B and C get one there too, so that only the deadline
        // keeps C out.
        for family in [demo.family_b, demo.family_c] {
            link_detainee(&app, &admin, family, demo.haren).await;
        }
        let a = registered(&app, &family, &day, demo.family_a, 1, 0, false).await;
        let b = registered(&app, &social, &day, demo.family_b, 1, 0, false).await;

        let changed = app.execute_sql(&format!(
            "UPDATE family_days SET registration_deadline = '2000-01-01 00:00:00' WHERE id = '{}'",
            day.id
        ));
        assert_eq!(changed, 1);

        for wait in [false, true] {
            let late = register(&app, &admin, &day, &registration(demo.family_c, 1, 0, wait)).await;
            assert_error(late, 409, "registration_closed").await;
        }
        // The family can no longer cancel; staff still can until the day.
        assert_error(
            cancel_registration(&app, &family, &day, &a).await,
            409,
            "registration_closed",
        )
        .await;
        expect_status(cancel_registration(&app, &social, &day, &a).await, 204).await;
        let counted = fetch_day(&app, &admin, &day).await;
        assert_eq!(
            (counted.registered_families, counted.registered_people),
            (1, 1)
        );
        assert!(
            family_registrations(&app, &admin, demo.family_c)
                .await
                .is_empty()
        );

        // Once the day has begun, nothing changes any more.
        let changed = app.execute_sql(&format!(
            "UPDATE family_days SET date = '2000-01-02' WHERE id = '{}'",
            day.id
        ));
        assert_eq!(changed, 1);
        assert_error(
            cancel_registration(&app, &social, &day, &b).await,
            409,
            "family_day_started",
        )
        .await;
        let cancel = app
            .post_empty(&format!("{}/cancel", day_path(&day)), Some(&admin))
            .await;
        assert_error(cancel, 409, "family_day_started").await;
    }

    async fn a_family_registers_once(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let day = simple_day(&app, &admin, demo.haren, 1).await;
        // A's relative is held at Haren; B gets one there too.
        link_detainee(&app, &admin, demo.family_b, demo.haren).await;
        let first = registered(&app, &family, &day, demo.family_a, 2, 0, false).await;
        // Whoever asks, and however.
        for token in [&family, &social, &admin] {
            for wait in [false, true] {
                let body = registration(demo.family_a, 1, 0, wait);
                let again = register(&app, token, &day, &body).await;
                assert_error(again, 409, "already_registered").await;
            }
        }
        // Waiting counts as registered too.
        let waiting = registered(&app, &social, &day, demo.family_b, 1, 0, true).await;
        assert_eq!(waiting.status, RegistrationStatus::Waiting);
        let again = register(
            &app,
            &social,
            &day,
            &registration(demo.family_b, 1, 0, true),
        )
        .await;
        assert_error(again, 409, "already_registered").await;

        let counted = fetch_day(&app, &admin, &day).await;
        assert_eq!(
            (
                counted.registered_families,
                counted.registered_people,
                counted.waiting_families
            ),
            (1, 2, 1)
        );

        // After cancelling, the family may register again (and goes to the back of the line:
        // B, waiting, took the place).
        expect_status(cancel_registration(&app, &family, &day, &first).await, 204).await;
        let back = registered(&app, &family, &day, demo.family_a, 1, 0, true).await;
        assert_eq!(
            (back.status, back.position),
            (RegistrationStatus::Waiting, Some(1))
        );
        let list = day_registrations(&app, &admin, &day).await;
        assert_eq!(
            labels(&list),
            vec![
                (FAMILY_B_LABEL, RegistrationStatus::Registered, None),
                (FAMILY_A_LABEL, RegistrationStatus::Waiting, Some(1)),
            ]
        );
        assert_counters_match_rows(&fetch_day(&app, &admin, &day).await, &list);
    }

    async fn the_csv_export_lists_the_families(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let date = upcoming(12);
        let day = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Kitchen day", date, 2, 12),
        )
        .await;
        // A's relative is held at Haren; B and C get one there too.
        for family in [demo.family_b, demo.family_c] {
            link_detainee(&app, &admin, family, demo.haren).await;
        }

        let note_a = "No nuts, please: \"really\" none\nand one high chair";
        let mut body = registration(demo.family_a, 2, 1, false);
        body["note"] = json!(note_a);
        expect_status(register(&app, &family, &day, &body).await, 201).await;
        let mut body = registration(demo.family_b, 1, 1, false);
        body["note"] = json!("=1+1");
        expect_status(register(&app, &admin, &day, &body).await, 201).await;
        expect_status(
            register(&app, &admin, &day, &registration(demo.family_c, 1, 0, true)).await,
            201,
        )
        .await;

        let path = format!("{}.csv", registrations_path(&day));
        let resp = app.get(&path, Some(&coordinator)).await;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-type"), "text/csv; charset=utf-8");
        assert_eq!(
            header("content-disposition"),
            format!("attachment; filename=\"family-day-{date}.csv\"")
        );
        let text = expect_status(resp, 200).await;
        let rows = parse_csv(&text);
        assert_eq!(
            rows[0],
            [
                "status",
                "position",
                "family",
                "adults",
                "children",
                "people",
                "note",
                "registered_at",
                "registration_id"
            ]
        );
        assert_eq!(
            rows.len(),
            4,
            "header, two registered, one waiting: {rows:?}"
        );
        assert!(rows.iter().all(|r| r.len() == 9), "{rows:?}");
        let picked: Vec<[&str; 7]> = rows[1..]
            .iter()
            .map(|r| [&*r[0], &*r[1], &*r[2], &*r[3], &*r[4], &*r[5], &*r[6]])
            .collect();
        assert_eq!(
            picked,
            vec![
                ["registered", "", FAMILY_A_LABEL, "2", "1", "3", note_a],
                // Typed text that a spreadsheet would run as a formula is shown as text.
                ["registered", "", FAMILY_B_LABEL, "1", "1", "2", "'=1+1"],
                ["waiting", "1", FAMILY_C_LABEL, "1", "0", "1", ""],
            ]
        );
        // The same list as JSON, in the same order.
        let list = day_registrations(&app, &coordinator, &day).await;
        let ids: Vec<String> = list.iter().map(|r| r.id.to_string()).collect();
        let csv_ids: Vec<String> = rows[1..].iter().map(|r| r[8].clone()).collect();
        assert_eq!(ids, csv_ids);

        // Only the day's organisers export it, and the export is audited.
        let refused = app.get(&path, Some(&family)).await;
        assert_error(refused, 403, "forbidden").await;
        assert!(
            audit_has(
                &app,
                &admin,
                "family_day_registrations_exported",
                &day.id.to_string()
            )
            .await
        );
    }

    async fn access_matrix(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let mut tokens = HashMap::new();
        for user in DemoUser::ALL {
            tokens.insert(user, app.login_as(user).await);
        }
        let mut shared = HashMap::new();
        shared.insert("haren", simple_day(&app, &admin, demo.haren, 5).await);
        shared.insert("lantin", simple_day(&app, &admin, demo.lantin, 5).await);
        // Registrations of A at Lantin and of B at Haren need a relative held there.
        link_detainee(&app, &admin, demo.family_a, demo.lantin).await;
        link_detainee(&app, &admin, demo.family_b, demo.haren).await;
        // Something to list and export.
        registered(&app, &admin, &shared["haren"], demo.family_a, 1, 0, false).await;
        registered(&app, &admin, &shared["lantin"], demo.family_c, 1, 0, false).await;
        let matrix = Matrix {
            demo,
            admin,
            shared,
        };

        let mut mismatches = Vec::new();
        let mut checked = 0;
        for (row, &(endpoint, object, expected)) in MATRIX.iter().enumerate() {
            for (column, (caller, expected)) in CALLERS.iter().zip(expected).enumerate() {
                let (method, path, body) = matrix
                    .request(&app, endpoint, object, row * 10 + column)
                    .await;
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
        assert_eq!(checked, MATRIX.len() * CALLERS.len());
        assert!(
            mismatches.is_empty(),
            "{} of {checked} access checks failed (listed above)",
            mismatches.len()
        );
    }

    async fn bad_input_is_refused(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let date = upcoming(20);
        let valid = day_body("Valid day", date, 5, 20);
        let with = |changes: Value| {
            let mut body = valid.clone();
            for (key, value) in changes.as_object().expect("an object") {
                body[key] = value.clone();
            }
            body
        };
        let yesterday = Utc::now().date_naive() - Duration::days(1);
        let cases: Vec<(Value, &str, &str)> = vec![
            (with(json!({ "title": "   " })), "invalid_value", "title"),
            (
                with(json!({ "title": "x".repeat(201) })),
                "invalid_value",
                "title",
            ),
            (
                with(json!({ "title": "two\nlines" })),
                "invalid_value",
                "title",
            ),
            (
                with(json!({
                    "date": yesterday,
                    "registration_deadline": deadline_for(yesterday),
                })),
                "invalid_value",
                "date",
            ),
            (
                with(json!({ "starts_at": "16:00", "ends_at": "10:00" })),
                "invalid_value",
                "ends_at",
            ),
            (
                with(json!({ "starts_at": "10:00", "ends_at": "10:00" })),
                "invalid_value",
                "ends_at",
            ),
            (
                with(json!({ "starts_at": "25:00" })),
                "invalid_value",
                "starts_at",
            ),
            (
                with(json!({ "starts_at": "10:00:30" })),
                "invalid_value",
                "starts_at",
            ),
            (
                with(json!({ "capacity_families": 0 })),
                "invalid_value",
                "capacity_families",
            ),
            (
                with(json!({ "capacity_people": 0 })),
                "invalid_value",
                "capacity_people",
            ),
            (
                with(json!({ "capacity_families": 6, "capacity_people": 5 })),
                "invalid_value",
                "capacity_people",
            ),
            (
                with(json!({ "min_child_age": -1 })),
                "invalid_value",
                "min_child_age",
            ),
            (
                with(json!({ "max_child_age": 18 })),
                "invalid_value",
                "max_child_age",
            ),
            (
                with(json!({ "min_child_age": 10, "max_child_age": 5 })),
                "invalid_value",
                "max_child_age",
            ),
            // 10:00 in Brussels is 08:00 or 09:00 UTC: a deadline at 09:30 UTC is too late.
            (
                with(json!({ "registration_deadline": at_utc(date, 9, 30) })),
                "invalid_value",
                "registration_deadline",
            ),
            (
                with(json!({ "registration_deadline": "2000-01-01T00:00:00Z" })),
                "invalid_value",
                "registration_deadline",
            ),
            (with(json!({ "colour": "blue" })), "unknown_field", "colour"),
        ];
        for (body, code, field) in cases {
            let resp = app
                .post_json(&days_of(demo.haren), Some(&coordinator), &body)
                .await;
            let error = assert_error(resp, 400, code).await;
            assert_eq!(error.field.as_deref(), Some(field), "{body}");
        }
        let mut missing = valid.clone();
        missing.as_object_mut().expect("an object").remove("title");
        let error = assert_error(
            app.post_json(&days_of(demo.haren), Some(&coordinator), &missing)
                .await,
            400,
            "missing_field",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("title"));
        let nowhere = app
            .post_json(&days_of(PrisonId::new()), Some(&admin), &valid)
            .await;
        assert_error(nowhere, 404, "prison_not_found").await;
        let listed: Vec<FamilyDay> = expect_json(
            app.get("/api/v1/family-days?include_cancelled=true", Some(&admin))
                .await,
            200,
        )
        .await;
        assert!(listed.is_empty(), "a refused day was stored: {listed:?}");

        // Registrations.
        let day = create_day(&app, &coordinator, demo.haren, &valid).await;
        let cases: Vec<(Value, &str)> = vec![
            (registration(demo.family_a, 0, 2, false), "adults"),
            (registration(demo.family_a, -1, 0, false), "adults"),
            (registration(demo.family_a, 13, 0, false), "adults"),
            (registration(demo.family_a, 1, -1, false), "children"),
            (registration(demo.family_a, 10, 3, false), "children"),
        ];
        for (body, field) in cases {
            let error = assert_error(
                register(&app, &admin, &day, &body).await,
                400,
                "invalid_value",
            )
            .await;
            assert_eq!(error.field.as_deref(), Some(field), "{body}");
        }
        let mut long_note = registration(demo.family_a, 1, 0, false);
        long_note["note"] = json!("n".repeat(501));
        let error = assert_error(
            register(&app, &admin, &day, &long_note).await,
            400,
            "invalid_value",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("note"));
        let mut unknown = registration(demo.family_a, 1, 0, false);
        unknown["status"] = json!("registered");
        assert_error(
            register(&app, &admin, &day, &unknown).await,
            400,
            "unknown_field",
        )
        .await;
        let no_family = registration(FamilyId::new(), 1, 0, false);
        assert_error(
            register(&app, &admin, &day, &no_family).await,
            404,
            "family_not_found",
        )
        .await;
        let no_day = app
            .post_json(
                &format!("/api/v1/family-days/{}/registrations", uuid::Uuid::new_v4()),
                Some(&admin),
                &registration(demo.family_a, 1, 0, false),
            )
            .await;
        assert_error(no_day, 404, "family_day_not_found").await;
        assert_error(
            app.get("/api/v1/family-days/not-a-uuid", Some(&admin))
                .await,
            400,
            "invalid_id",
        )
        .await;
        assert_error(
            app.get(
                "/api/v1/family-days?from=2030-02-01&to=2030-01-01",
                Some(&admin),
            )
            .await,
            400,
            "invalid_value",
        )
        .await;
        assert_error(
            app.get("/api/v1/family-days?when=soon", Some(&admin)).await,
            400,
            "invalid_query",
        )
        .await;
        let counted = fetch_day(&app, &admin, &day).await;
        assert_eq!(
            (
                counted.registered_families,
                counted.registered_people,
                counted.waiting_families
            ),
            (0, 0, 0)
        );
        assert!(day_registrations(&app, &admin, &day).await.is_empty());

        // Changes. A's relative is held at Haren; B and C get one there too, so that only the
        // cancellation below keeps C out.
        for family in [demo.family_b, demo.family_c] {
            link_detainee(&app, &admin, family, demo.haren).await;
        }
        registered(&app, &admin, &day, demo.family_a, 2, 2, false).await;
        registered(&app, &admin, &day, demo.family_b, 1, 0, false).await;
        let patch = |body: Value| {
            let app = &app;
            let path = day_path(&day);
            let token = coordinator.clone();
            async move { app.patch_json(&path, Some(&token), &body).await }
        };
        assert_error(
            patch(json!({ "capacity_families": 1 })).await,
            409,
            "capacity_below_registered",
        )
        .await;
        assert_error(
            patch(json!({ "capacity_families": 2, "capacity_people": 4 })).await,
            409,
            "capacity_below_registered",
        )
        .await;
        let error = assert_error(
            patch(json!({ "capacity_families": 6, "capacity_people": 5 })).await,
            400,
            "invalid_value",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("capacity_people"));
        let error = assert_error(patch(json!({ "title": "" })).await, 400, "invalid_value").await;
        assert_eq!(error.field.as_deref(), Some("title"));
        let late = at_utc(date, 12, 0);
        let error = assert_error(
            patch(json!({ "registration_deadline": late })).await,
            400,
            "invalid_value",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("registration_deadline"));
        let error = assert_error(
            patch(json!({ "date": upcoming(40) })).await,
            400,
            "unknown_field",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("date"));
        let unchanged = fetch_day(&app, &admin, &day).await;
        assert_eq!(unchanged.title, "Valid day");
        assert_eq!(
            (unchanged.capacity_families, unchanged.capacity_people),
            (5, 20)
        );
        // Exactly what is registered is fine.
        let tight: FamilyDay = expect_json(
            patch(json!({ "capacity_families": 2, "capacity_people": 5 })).await,
            200,
        )
        .await;
        assert_eq!((tight.capacity_families, tight.capacity_people), (2, 5));

        // A cancelled day takes nothing more.
        let cancelled: FamilyDay = expect_json(
            app.post_empty(&format!("{}/cancel", day_path(&day)), Some(&coordinator))
                .await,
            200,
        )
        .await;
        assert!(cancelled.cancelled);
        let resp = register(&app, &admin, &day, &registration(demo.family_c, 1, 0, true)).await;
        assert_error(resp, 409, "family_day_cancelled").await;
        assert_error(
            patch(json!({ "title": "Again" })).await,
            409,
            "family_day_cancelled",
        )
        .await;
        let again = app
            .post_empty(&format!("{}/cancel", day_path(&day)), Some(&coordinator))
            .await;
        assert_error(again, 409, "family_day_cancelled").await;
        assert!(
            family_registrations(&app, &admin, demo.family_c)
                .await
                .is_empty()
        );
    }

    async fn changes_to_a_day_and_raised_capacity(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let day = create_day(
            &app,
            &coordinator,
            demo.brugge,
            &day_body("One family", upcoming(9), 1, 10),
        )
        .await;
        // B's relative is held at Brugge; A and C get one there too.
        for family in [demo.family_a, demo.family_c] {
            link_detainee(&app, &admin, family, demo.brugge).await;
        }
        registered(&app, &admin, &day, demo.family_a, 2, 0, false).await;
        registered(&app, &admin, &day, demo.family_b, 3, 0, true).await;
        registered(&app, &admin, &day, demo.family_c, 1, 0, true).await;

        let new_deadline = deadline_for(day.date) - Duration::days(1);
        let body = json!({
            "title": "Two families",
            "programme": "Picnic in the garden",
            "capacity_families": 2,
            "registration_deadline": new_deadline,
        });
        let changed: FamilyDay = expect_json(
            app.patch_json(&day_path(&day), Some(&coordinator), &body)
                .await,
            200,
        )
        .await;
        assert_eq!(changed.title, "Two families");
        assert_eq!(changed.programme, "Picnic in the garden");
        assert_eq!(changed.registration_deadline, new_deadline);
        // The first family in line came in with the new place.
        assert_eq!(
            (
                changed.registered_families,
                changed.registered_people,
                changed.waiting_families
            ),
            (2, 5, 1)
        );
        let list = day_registrations(&app, &coordinator, &day).await;
        assert_eq!(
            labels(&list),
            vec![
                (FAMILY_A_LABEL, RegistrationStatus::Registered, None),
                (FAMILY_B_LABEL, RegistrationStatus::Registered, None),
                (FAMILY_C_LABEL, RegistrationStatus::Waiting, Some(1)),
            ]
        );
        assert_counters_match_rows(&changed, &list);
        assert!(audit_has(&app, &admin, "family_day_updated", &day.id.to_string()).await);
    }

    async fn cancelling_a_day_cancels_every_registration(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let day = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Rained off", upcoming(8), 2, 10),
        )
        .await;
        let kept = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Still on", upcoming(9), 2, 10),
        )
        .await;
        // A's relative is held at Haren; B and C get one there too.
        for family in [demo.family_b, demo.family_c] {
            link_detainee(&app, &admin, family, demo.haren).await;
        }
        registered(&app, &family, &day, demo.family_a, 1, 1, false).await;
        registered(&app, &admin, &day, demo.family_b, 1, 0, false).await;
        registered(&app, &admin, &day, demo.family_c, 1, 0, true).await;

        let cancelled: FamilyDay = expect_json(
            app.post_empty(&format!("{}/cancel", day_path(&day)), Some(&coordinator))
                .await,
            200,
        )
        .await;
        assert!(cancelled.cancelled);
        assert_eq!(
            (
                cancelled.registered_families,
                cancelled.registered_people,
                cancelled.waiting_families
            ),
            (0, 0, 0)
        );
        for family_id in [demo.family_a, demo.family_b, demo.family_c] {
            let list = family_registrations(&app, &admin, family_id).await;
            assert_eq!(list.len(), 1);
            assert_eq!(
                (list[0].status, list[0].position),
                (RegistrationStatus::Cancelled, None)
            );
        }
        assert!(day_registrations(&app, &coordinator, &day).await.is_empty());
        assert!(audit_has(&app, &admin, "family_day_cancelled", &day.id.to_string()).await);

        // Listed only when asked for.
        let listed: Vec<FamilyDay> =
            expect_json(app.get("/api/v1/family-days", Some(&family)).await, 200).await;
        assert_eq!(
            listed.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![kept.id]
        );
        let listed: Vec<FamilyDay> = expect_json(
            app.get("/api/v1/family-days?include_cancelled=true", Some(&family))
                .await,
            200,
        )
        .await;
        assert_eq!(
            listed.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![day.id, kept.id]
        );
    }

    async fn days_are_listed_by_date(app: TestApp) {
        let demo = app.demo_data().await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let late = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Late", upcoming(20), 2, 10),
        )
        .await;
        let early = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Early", upcoming(10), 2, 10),
        )
        .await;
        let brugge = create_day(
            &app,
            &coordinator,
            demo.brugge,
            &day_body("Brugge", upcoming(15), 2, 10),
        )
        .await;
        // A day that is over: made by hand, since the API refuses past dates.
        let past = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Past", upcoming(5), 2, 10),
        )
        .await;
        app.execute_sql(&format!(
            "UPDATE family_days SET date = '2001-05-01' WHERE id = '{}'",
            past.id
        ));

        let ids = |list: Vec<FamilyDay>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
        let get = |query: String| {
            let app = &app;
            let token = social.clone();
            async move {
                let list: Vec<FamilyDay> = expect_json(
                    app.get(&format!("/api/v1/family-days{query}"), Some(&token))
                        .await,
                    200,
                )
                .await;
                list
            }
        };
        assert_eq!(
            ids(get(String::new()).await),
            vec![early.id, brugge.id, late.id]
        );
        assert_eq!(
            ids(get(format!("?prison_id={}", demo.haren)).await),
            vec![early.id, late.id]
        );
        assert_eq!(
            ids(get(format!("?to={}", upcoming(15))).await),
            vec![early.id, brugge.id]
        );
        assert_eq!(
            ids(get(format!("?from={}&to={}", upcoming(11), upcoming(30))).await),
            vec![brugge.id, late.id]
        );
        assert_eq!(
            ids(get("?from=2001-01-01&to=2001-12-31".into()).await),
            vec![past.id]
        );
    }

    async fn start_times_stay_local_across_dst(app: TestApp) {
        let demo = app.demo_data().await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let year = Utc::now().year() + 1;
        let last_sunday_of_march = (25..=31)
            .filter_map(|d| NaiveDate::from_ymd_opt(year, 3, d))
            .find(|d| d.weekday() == Weekday::Sun)
            .expect("March has a last Sunday");
        let cases = [
            (
                NaiveDate::from_ymd_opt(year, 1, 15).expect("date"),
                "+01:00",
            ),
            (last_sunday_of_march, "+02:00"),
            (
                NaiveDate::from_ymd_opt(year, 7, 15).expect("date"),
                "+02:00",
            ),
        ];
        for (date, offset) in cases {
            let mut body = day_body("Afternoon", date, 2, 10);
            body["starts_at"] = json!("14:00");
            body["ends_at"] = json!("17:30");
            let day = create_day(&app, &coordinator, demo.haren, &body).await;
            assert_eq!(
                day.starts_at.to_rfc3339(),
                format!("{date}T14:00:00{offset}")
            );
            assert_eq!(day.ends_at.to_rfc3339(), format!("{date}T17:30:00{offset}"));
            let read = fetch_day(&app, &coordinator, &day).await;
            assert_eq!(read.starts_at, day.starts_at);
            assert_eq!(
                read.starts_at.to_rfc3339(),
                format!("{date}T14:00:00{offset}")
            );
        }
        // The deadline is compared with the local start: 12:30 UTC is after 14:00 in summer
        // (12:00 UTC) but before it in winter (13:00 UTC).
        for (month, accepted) in [(7, false), (1, true)] {
            let date = NaiveDate::from_ymd_opt(year, month, 20).expect("date");
            let mut body = day_body("Deadline", date, 2, 10);
            body["starts_at"] = json!("14:00");
            body["registration_deadline"] = json!(at_utc(date, 12, 30));
            let resp = app
                .post_json(&days_of(demo.haren), Some(&coordinator), &body)
                .await;
            if accepted {
                expect_status(resp, 201).await;
            } else {
                let error = assert_error(resp, 400, "invalid_value").await;
                assert_eq!(error.field.as_deref(), Some("registration_deadline"));
            }
        }
    }

    async fn concurrent_registrations_never_overbook(app: TestApp) {
        const FAMILIES: usize = 60;
        const CAPACITY: i32 = 10;
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let mut families = Vec::new();
        for i in 0..FAMILIES {
            families.push(
                new_family(
                    &app,
                    &admin,
                    &format!("Concurrent family {i:02}"),
                    demo.haren,
                )
                .await,
            );
        }
        let day = create_day(
            &app,
            &coordinator,
            demo.haren,
            &day_body("Crowded", upcoming(20), CAPACITY, 1000),
        )
        .await;

        // Everyone at once: the tasks wait at a barrier, then send.
        let barrier = Arc::new(tokio::sync::Barrier::new(FAMILIES));
        let mut tasks = JoinSet::new();
        for (i, family) in families.iter().enumerate() {
            let client = app.client.clone();
            let url = app.url(&registrations_path(&day));
            let token = admin.clone();
            let barrier = barrier.clone();
            let wait = i % 2 == 0;
            let body = registration(*family, 1 + (i % 2) as i32, (i % 3) as i32, wait);
            tasks.spawn(async move {
                barrier.wait().await;
                let resp = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("an answer");
                let status = resp.status().as_u16();
                let text = resp.text().await.expect("a body");
                (wait, status, text)
            });
        }
        let started = Instant::now();
        let results = tasks.join_all().await;
        let elapsed = started.elapsed();

        let (mut registered_n, mut waiting_n, mut full_n) = (0, 0, 0);
        for (wait, status, text) in results {
            match status {
                201 => {
                    let r: Registration = serde_json::from_str(&text).expect("a registration");
                    match r.status {
                        RegistrationStatus::Registered => registered_n += 1,
                        RegistrationStatus::Waiting => {
                            assert!(wait, "waiting without asking: {text}");
                            waiting_n += 1;
                        }
                        RegistrationStatus::Cancelled => panic!("cancelled on creation: {text}"),
                    }
                }
                409 => {
                    assert!(!wait, "refused though willing to wait: {text}");
                    assert!(text.contains("\"family_day_full\""), "{text}");
                    full_n += 1;
                }
                other => panic!("unexpected answer {other}: {text}"),
            }
        }
        eprintln!(
            "{:?}: {FAMILIES} concurrent registrations in {elapsed:?}: {registered_n} registered, \
             {waiting_n} waiting, {full_n} full",
            app.backend
        );
        assert_eq!(
            registered_n, CAPACITY as usize,
            "exactly the capacity is registered"
        );
        assert_eq!(registered_n + waiting_n + full_n, FAMILIES);
        let counted = fetch_day(&app, &admin, &day).await;
        let rows = day_registrations(&app, &admin, &day).await;
        assert_eq!(rows.len(), registered_n + waiting_n);
        assert_counters_match_rows(&counted, &rows);

        // Every registered family leaves at once; the waiting list fills the places again.
        let leaving: Vec<Registration> = rows
            .iter()
            .filter(|r| r.status == RegistrationStatus::Registered)
            .cloned()
            .collect();
        let mut tasks = JoinSet::new();
        for r in leaving {
            let client = app.client.clone();
            let url = app.url(&format!("{}/{}", registrations_path(&day), r.id));
            let token = admin.clone();
            tasks.spawn(async move {
                client
                    .delete(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("an answer")
                    .status()
                    .as_u16()
            });
        }
        let started = Instant::now();
        let statuses = tasks.join_all().await;
        eprintln!(
            "{:?}: {} concurrent cancellations in {:?}",
            app.backend,
            statuses.len(),
            started.elapsed()
        );
        assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
        let counted = fetch_day(&app, &admin, &day).await;
        let rows = day_registrations(&app, &admin, &day).await;
        assert_counters_match_rows(&counted, &rows);
        assert_eq!(counted.registered_families, CAPACITY.min(waiting_n as i32));
        assert_eq!(
            counted.waiting_families,
            (waiting_n as i64 - i64::from(CAPACITY)).max(0)
        );
    }

    async fn openapi_documents_family_days(app: TestApp) {
        let doc: Value = expect_json(app.get("/api/openapi.json", None).await, 200).await;
        let paths = doc["paths"].as_object().expect("paths is an object");
        for (path, methods) in [
            ("/api/v1/prisons/{prison_id}/family-days", &["post"][..]),
            ("/api/v1/family-days", &["get"]),
            ("/api/v1/family-days/{day_id}", &["get", "patch"]),
            ("/api/v1/family-days/{day_id}/cancel", &["post"]),
            (
                "/api/v1/family-days/{day_id}/registrations",
                &["get", "post"],
            ),
            ("/api/v1/family-days/{day_id}/registrations.csv", &["get"]),
            (
                "/api/v1/family-days/{day_id}/registrations/{registration_id}",
                &["delete"],
            ),
            (
                "/api/v1/families/{family_id}/family-day-registrations",
                &["get"],
            ),
        ] {
            for method in methods {
                assert!(
                    paths.get(path).and_then(|p| p.get(*method)).is_some(),
                    "{method} {path} missing from the OpenAPI document"
                );
            }
        }
        // Every schema a reference names is there.
        let schemas = doc["components"]["schemas"]
            .as_object()
            .expect("schemas is an object");
        let text = doc.to_string();
        for name in text.split("#/components/schemas/").skip(1) {
            let name = name.split('"').next().unwrap_or_default();
            assert!(schemas.contains_key(name), "dangling reference to {name}");
        }
        for name in [
            "FamilyDay",
            "NewFamilyDay",
            "Registration",
            "NewRegistration",
            "FamilyDayUpdate",
        ] {
            assert!(schemas.contains_key(name), "schema {name} missing");
        }
    }
}
