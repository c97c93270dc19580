//! Helpers of the visits tests: dates relative to today, session templates and rules made for
//! one test, the demo families' visit ids, families made in bulk, and requests fired at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use reguide_protocol::api::{Detainee, EnrolResponse, EnrolmentCode, Family, Member};
use reguide_protocol::visits::{
    PrisonDetail, SessionTemplate, Slot, VisitRequest, VisitType, WaitlistEntry,
};
use reguide_protocol::{DetaineeId, FamilyId, MemberId, PrisonId};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::{DemoData, DemoUser, TestApp, expect_json};

pub const REQUESTS: &str = "/api/v1/visit-requests";
pub const WAITLIST: &str = "/api/v1/waitlist";

/// Today's date in Brussels, the zone of every demo prison.
pub fn today() -> NaiveDate {
    let now = Utc::now();
    (now + Duration::hours(brussels_offset_hours(now))).date_naive()
}

/// Brussels is UTC+2 from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
/// Sunday of October, UTC+1 otherwise (EU rules since 1996).
pub fn brussels_offset_hours(at: chrono::DateTime<Utc>) -> i64 {
    let last_sunday = |month: u32| {
        let mut day =
            NaiveDate::from_ymd_opt(at.year(), month, 31).expect("March and October have 31 days");
        while day.weekday() != Weekday::Sun {
            day -= Duration::days(1);
        }
        day.and_hms_opt(1, 0, 0).expect("01:00").and_utc()
    };
    if at >= last_sunday(3) && at < last_sunday(10) {
        2
    } else {
        1
    }
}

/// The first `weekday` at least `min_days` days from today.
pub fn next_weekday(weekday: Weekday, min_days: i64) -> NaiveDate {
    let mut date = today() + Duration::days(min_days);
    while date.weekday() != weekday {
        date += Duration::days(1);
    }
    date
}

/// The ISO number of a weekday, as templates take it (1 = Monday).
pub fn iso(weekday: Weekday) -> u8 {
    weekday.number_from_monday() as u8
}

/// A `{template_id, date}` slot choice.
pub fn choice(template: Uuid, date: NaiveDate) -> Value {
    json!({ "template_id": template, "date": date })
}

/// The demo's table rules (24 h notice, 28 days ahead, 3 visitors, 3 adults, 2 children, adult
/// at 18, cancel until 24 h before), with `auto_confirm` as given.
pub fn table_rules(auto_confirm: bool) -> Value {
    json!({
        "visit_type": "table",
        "min_notice_hours": 24,
        "max_days_ahead": 28,
        "max_visitors": 3,
        "max_adults": 3,
        "max_children": 2,
        "adult_from_age": 18,
        "auto_confirm": auto_confirm,
        "cancel_cutoff_hours": 24,
    })
}

/// `rules` with the fields of `changes` replaced.
pub fn with(rules: &Value, changes: Value) -> Value {
    let mut rules = rules.clone();
    if let (Some(target), Some(changes)) = (rules.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            target.insert(k.clone(), v.clone());
        }
    }
    rules
}

/// A `NewVisitRequest` body.
pub fn request_body(
    family: FamilyId,
    detainee: DetaineeId,
    visit_type: &str,
    preferences: &[(Uuid, NaiveDate)],
    visitors: &[MemberId],
) -> Value {
    json!({
        "family_id": family,
        "detainee_id": detainee,
        "visit_type": visit_type,
        "preferences": preferences.iter().map(|(t, d)| choice(*t, *d)).collect::<Vec<_>>(),
        "visitors": visitors,
    })
}

/// A `NewWaitlistEntry` body for a table visit.
pub fn waitlist_body(
    family: FamilyId,
    detainee: DetaineeId,
    template: Uuid,
    date: NaiveDate,
    visitors: &[MemberId],
) -> Value {
    json!({
        "family_id": family,
        "detainee_id": detainee,
        "visit_type": "table",
        "slot": choice(template, date),
        "visitors": visitors,
    })
}

/// A family that visits someone held in a prison.
#[derive(Clone, Debug)]
pub struct VisitingFamily {
    pub id: FamilyId,
    pub label: String,
    pub detainee: DetaineeId,
    pub prison: PrisonId,
    /// Members by display name.
    pub members: HashMap<String, MemberId>,
}

impl VisitingFamily {
    pub fn member(&self, name: &str) -> MemberId {
        *self
            .members
            .get(name)
            .unwrap_or_else(|| panic!("no member {name:?} in {}", self.label))
    }

    /// The only (or first-made) member, for families made by [`TestApp::new_visiting_family`].
    pub fn visitor(&self) -> MemberId {
        *self.members.values().next().expect("a member")
    }

    /// A table request of this family for one slot, its only member visiting.
    pub fn table_request(&self, template: Uuid, date: NaiveDate) -> Value {
        request_body(
            self.id,
            self.detainee,
            "table",
            &[(template, date)],
            &[self.visitor()],
        )
    }
}

/// The demo's ids as the visits tests need them.
#[derive(Clone, Debug)]
pub struct VisitsDemo {
    pub demo: DemoData,
    /// Benali, Haren: Fatima (account), Karim, Salma (child).
    pub a: VisitingFamily,
    /// Janssens, Brugge: Els, Lotte (child).
    pub b: VisitingFamily,
    /// El Idrissi, Lantin: Nadia.
    pub c: VisitingFamily,
}

static ROOMS: AtomicUsize = AtomicUsize::new(0);

/// A room name no other template of the test run has.
pub fn fresh_room() -> String {
    format!("Room {}", ROOMS.fetch_add(1, Ordering::Relaxed))
}

/// One response of [`TestApp::fire`].
#[derive(Debug, Clone)]
pub struct Fired {
    pub status: u16,
    pub body: Value,
}

impl Fired {
    pub fn code(&self) -> Option<&str> {
        self.body["error"].as_str()
    }
}

impl TestApp {
    /// The demo families with their detained person and members.
    pub async fn visits_demo(&self) -> VisitsDemo {
        let demo = self.demo_data().await;
        let admin = self.login_as(DemoUser::Admin).await;
        let family = |id| {
            let admin = admin.clone();
            async move {
                let family = self.family(&admin, id).await;
                to_visiting(&family)
            }
        };
        VisitsDemo {
            a: family(demo.family_a).await,
            b: family(demo.family_b).await,
            c: family(demo.family_c).await,
            demo,
        }
    }

    /// `POST /prisons/{id}/session-templates` with a full body.
    pub async fn create_template(
        &self,
        token: &str,
        prison: PrisonId,
        body: &Value,
    ) -> SessionTemplate {
        let path = format!("/api/v1/prisons/{prison}/session-templates");
        expect_json(self.post_json(&path, Some(token), body).await, 201).await
    }

    /// A weekly session of 90 minutes from `start` (`HH:MM`), valid from a week ago, in a room
    /// of its own.
    pub async fn session(
        &self,
        token: &str,
        prison: PrisonId,
        weekday: Weekday,
        start: &str,
        capacities: &[(&str, i32)],
    ) -> SessionTemplate {
        self.create_template(token, prison, &template_body(weekday, start, capacities))
            .await
    }

    /// A table session of `capacity` places on `weekday` at 14:00.
    pub async fn table_session(
        &self,
        token: &str,
        prison: PrisonId,
        weekday: Weekday,
        capacity: i32,
    ) -> SessionTemplate {
        self.session(token, prison, weekday, "14:00", &[("table", capacity)])
            .await
    }

    /// `PUT /prisons/{id}/rules`, which must succeed.
    pub async fn set_rules(&self, token: &str, prison: PrisonId, rules: &Value) -> PrisonDetail {
        let path = format!("/api/v1/prisons/{prison}/rules");
        let resp = self
            .request(Method::PUT, &path, Some(token), Some(rules))
            .await;
        expect_json(resp, 200).await
    }

    pub async fn slots(
        &self,
        token: &str,
        prison: PrisonId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<Slot> {
        let path = format!("/api/v1/prisons/{prison}/slots?from={from}&to={to}");
        expect_json(self.get(&path, Some(token)).await, 200).await
    }

    /// The one slot of a template on a date for a visit type.
    pub async fn slot(
        &self,
        token: &str,
        prison: PrisonId,
        template: Uuid,
        date: NaiveDate,
        visit_type: VisitType,
    ) -> Slot {
        let slots = self.slots(token, prison, date, date).await;
        slots
            .iter()
            .find(|s| s.template_id == template && s.visit_type == visit_type)
            .unwrap_or_else(|| panic!("no {visit_type} slot of {template} on {date}: {slots:?}"))
            .clone()
    }

    /// `GET /visit-requests?family_id=` for a caller who may.
    pub async fn visit_requests(&self, token: &str, family: FamilyId) -> Vec<VisitRequest> {
        let path = format!("{REQUESTS}?family_id={family}");
        expect_json(self.get(&path, Some(token)).await, 200).await
    }

    pub async fn visit_request(&self, token: &str, id: Uuid) -> VisitRequest {
        expect_json(
            self.get(&format!("{REQUESTS}/{id}"), Some(token)).await,
            200,
        )
        .await
    }

    /// `POST /visit-requests`, which must be created.
    pub async fn request_visit(&self, token: &str, body: &Value) -> VisitRequest {
        expect_json(self.post_json(REQUESTS, Some(token), body).await, 201).await
    }

    /// `POST /visit-requests/{id}/{action}` with a JSON body, which must succeed.
    pub async fn visit_action(
        &self,
        token: &str,
        id: Uuid,
        action: &str,
        body: &Value,
    ) -> VisitRequest {
        let path = format!("{REQUESTS}/{id}/{action}");
        expect_json(self.post_json(&path, Some(token), body).await, 200).await
    }

    pub async fn waitlist_entry(&self, token: &str, id: Uuid) -> WaitlistEntry {
        expect_json(
            self.get(&format!("{WAITLIST}/{id}"), Some(token)).await,
            200,
        )
        .await
    }

    /// `PUT /detainees/{id}/visitors/{member}`, which must succeed.
    pub async fn decide_visitor(
        &self,
        token: &str,
        detainee: DetaineeId,
        member: MemberId,
        status: &str,
        basis: &str,
    ) {
        let path = format!("/api/v1/detainees/{detainee}/visitors/{member}");
        let body = json!({ "status": status, "basis": basis });
        let resp = self
            .request(Method::PUT, &path, Some(token), Some(&body))
            .await;
        crate::expect_status(resp, 200).await;
    }

    /// A new family with one adult member (a parent, so close family), linked to a new detained
    /// person at `prison`, the member approved as a visitor. `admin` must be an administrator.
    pub async fn new_visiting_family(
        &self,
        admin: &str,
        prison: PrisonId,
        label: &str,
    ) -> VisitingFamily {
        let family: Family = expect_json(
            self.post_json("/api/v1/families", Some(admin), &json!({ "label": label }))
                .await,
            201,
        )
        .await;
        let name = format!("Member of {label}");
        let member: Member = expect_json(
            self.post_json(
                &format!("/api/v1/families/{}/members", family.id),
                Some(admin),
                &json!({
                    "display_name": name,
                    "relation": "parent",
                    "preferred_language": "fr",
                    "birth_date": "1980-05-01",
                }),
            )
            .await,
            201,
        )
        .await;
        let detainee: Detainee = expect_json(
            self.post_json(
                &format!("/api/v1/families/{}/detainees", family.id),
                Some(admin),
                &json!({
                    "full_name": format!("Detainee of {label}"),
                    "prison_id": prison,
                    "internal_number": format!("T-{}", Uuid::new_v4().simple()),
                }),
            )
            .await,
            201,
        )
        .await;
        self.decide_visitor(admin, detainee.id, member.id, "approved", "kinship_proof")
            .await;
        VisitingFamily {
            id: family.id,
            label: label.to_owned(),
            detainee: detainee.id,
            prison,
            members: HashMap::from([(name, member.id)]),
        }
    }

    /// `count` new visiting families at `prison`, made `batch` at a time.
    pub async fn new_visiting_families(
        &self,
        admin: &str,
        prison: PrisonId,
        prefix: &str,
        count: usize,
        batch: usize,
    ) -> Vec<VisitingFamily> {
        let mut out = Vec::with_capacity(count);
        let labels: Vec<String> = (0..count).map(|i| format!("{prefix} {i}")).collect();
        for chunk in labels.chunks(batch.max(1)) {
            let made = join_all_local(
                chunk
                    .iter()
                    .map(|label| self.new_visiting_family(admin, prison, label)),
            )
            .await;
            out.extend(made);
        }
        out
    }

    /// Gives `member` of `family` an account through an enrolment code; returns its token.
    pub async fn enrol_member(&self, staff: &str, family: FamilyId, member: MemberId) -> String {
        let path = format!("/api/v1/families/{family}/members/{member}/enrolment-codes");
        let code: EnrolmentCode = expect_json(self.post_empty(&path, Some(staff)).await, 201).await;
        let body = json!({
            "code": code.code,
            "password": "a long enough secret",
            "device_name": "phone",
        });
        let enrolled: EnrolResponse =
            expect_json(self.post_json("/api/v1/auth/enrol", None, &body).await, 200).await;
        enrolled.session.token
    }

    /// Sends all `calls` at once (each on its own task, released together) and returns the
    /// answers in the order of the calls.
    pub async fn fire(
        &self,
        calls: Vec<(Method, String, Option<String>, Option<Value>)>,
    ) -> Vec<Fired> {
        let barrier = Arc::new(Barrier::new(calls.len()));
        let mut tasks = JoinSet::new();
        for (i, (method, path, token, body)) in calls.into_iter().enumerate() {
            let client = self.client.clone();
            let url = self.url(&path);
            let barrier = barrier.clone();
            tasks.spawn(async move {
                let mut request = client.request(method.clone(), &url);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                if let Some(body) = body {
                    request = request.json(&body);
                }
                barrier.wait().await;
                let resp = request
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{method} {path}: no response: {e}"));
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
                (i, Fired { status, body })
            });
        }
        let mut out: Vec<Option<Fired>> = vec![None; tasks.len()];
        while let Some(done) = tasks.join_next().await {
            let (i, fired) = done.expect("a fired request panicked");
            out[i] = Some(fired);
        }
        out.into_iter()
            .map(|f| f.expect("every call answered"))
            .collect()
    }
}

/// The body of a 90-minute weekly session valid from a week ago.
pub fn template_body(weekday: Weekday, start: &str, capacities: &[(&str, i32)]) -> Value {
    let starts = chrono::NaiveTime::parse_from_str(start, "%H:%M").expect("HH:MM");
    let ends = starts + Duration::minutes(90);
    json!({
        "weekday": iso(weekday),
        "starts_at": starts.format("%H:%M").to_string(),
        "ends_at": ends.format("%H:%M").to_string(),
        "valid_from": today() - Duration::days(7),
        "room": fresh_room(),
        "capacities": capacities
            .iter()
            .map(|(t, c)| json!({ "visit_type": t, "capacity": c }))
            .collect::<Vec<_>>(),
    })
}

fn to_visiting(family: &Family) -> VisitingFamily {
    let detainee = family
        .detainees
        .first()
        .unwrap_or_else(|| panic!("{} has no detained person", family.label));
    VisitingFamily {
        id: family.id,
        label: family.label.clone(),
        detainee: detainee.id,
        prison: detainee.prison_id,
        members: family
            .members
            .iter()
            .map(|m| (m.display_name.clone(), m.id))
            .collect(),
    }
}

/// Polls futures that borrow the app side by side on the current task, so they run
/// concurrently without `'static` bounds.
pub async fn join_all_local<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, future) in futures.iter_mut().enumerate() {
            if out[i].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => out[i] = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

/// Parses CSV as RFC 4180 writes it: quoted fields may hold commas, quotes (doubled) and line
/// breaks; records end with CRLF or LF.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}
