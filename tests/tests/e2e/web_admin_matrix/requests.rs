//! A cell's call as a browser sends it (in English, with the caller's session cookie and form
//! token), what a form may change, and its answer as the table reads it.

use chrono::{Duration, Weekday};
use reguide_tests::visits::{next_weekday, today};
use reguide_tests::web::{SESSION_COOKIE, SIGN_IN_COOKIE, WebSession, set_cookie};
use reguide_tests::{DEMO_PASSWORD, DemoUser, TestApp};
use reqwest::{Method, header};

use super::Outcome::{self, *};
use super::Route::{self, *};
use super::fixtures::{Context, Fixture};
use super::{
    CALLERS, CSRF_TITLE, FORBIDDEN_TITLE, LANGUAGE_COOKIE, NOT_FOUND_TITLE, NOT_STAFF_TITLE,
};

impl Context {
    /// The cell's call: method, address and the form's fields (the CSRF token is added).
    pub(super) fn call(
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

    /// What a form may change, as the administrator reads it (or, for signing out, whether the
    /// caller's session still opens the start page). `None` for pages, which change nothing.
    pub(super) async fn probe(
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
            // Opening a page ends a family member's session (turned away, checked after every
            // cell that turns it away), so theirs is not looked at.
            if CALLERS[column] == Some(DemoUser::FamilyMember) {
                return None;
            }
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
}

impl Context {
    /// A page as the caller's browser opens it after the cell (where a form led, or whether
    /// the session still opens the start page).
    pub(super) async fn open(&self, app: &TestApp, column: usize, path: &str) -> Outcome {
        answer_of(get(app, path, self.session(column)).await)
            .await
            .outcome
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
pub(super) fn words(html: &str) -> String {
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
pub(super) struct Answer {
    pub(super) outcome: Outcome,
    /// A session cookie with a value was set (signing in).
    pub(super) session_set: bool,
    /// Where a redirect leads.
    pub(super) location: String,
    pub(super) body: String,
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
        location,
        body,
    }
}

impl Context {
    /// Sends one cell's call as its caller.
    pub(super) async fn send(
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
