//! The web admin over plain HTTP, as a browser without JavaScript uses it: a session cookie,
//! forms sent as `application/x-www-form-urlencoded` with their CSRF token, and the
//! `Origin` and `Sec-Fetch-Site` headers a browser adds. For the rules themselves (CSRF,
//! sessions, who may open which page); [`crate::browser`] drives a real browser.

use reqwest::{Response, StatusCode, header};

use crate::{DEMO_PASSWORD, DemoUser, TestApp};

pub const SESSION_COOKIE: &str = "__Host-reguide-session";
pub const SIGN_IN_COOKIE: &str = "__Host-reguide-sign-in";

/// A signed-in web admin session.
#[derive(Clone, Debug)]
pub struct WebSession {
    /// The session cookie's value.
    pub cookie: String,
}

/// The value of `name` among a response's `Set-Cookie` headers, with the header's whole text.
pub fn set_cookie(resp: &Response, name: &str) -> Option<(String, String)> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned();
            (value, v.to_owned())
        })
}

/// The value of the first `<input name="{name}" … value="…">` in a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker)? + marker.len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_owned())
}

impl TestApp {
    /// GET of an admin page with a session cookie (or none).
    pub async fn web_get(&self, path: &str, session: Option<&WebSession>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(session) = session {
            request = request.header(
                header::COOKIE,
                format!("{SESSION_COOKIE}={}", session.cookie),
            );
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: no response: {e}"))
    }

    /// A form POST as a browser sends it from one of the admin's own pages.
    pub async fn web_post(
        &self,
        path: &str,
        session: Option<&WebSession>,
        cookies: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> Response {
        self.web_post_from(path, session, cookies, form, Some(&self.address))
            .await
    }

    /// A form POST, claiming to come from `origin` (`None`: no `Origin` header at all).
    pub async fn web_post_from(
        &self,
        path: &str,
        session: Option<&WebSession>,
        cookies: &[(&str, &str)],
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Response {
        let mut all: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
        if let Some(session) = session {
            all.push(format!("{SESSION_COOKIE}={}", session.cookie));
        }
        let mut request = self.client.post(self.url(path)).form(form);
        if !all.is_empty() {
            request = request.header(header::COOKIE, all.join("; "));
        }
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
            let site = if origin == self.address {
                "same-origin"
            } else {
                "cross-site"
            };
            request = request.header("sec-fetch-site", site);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: no response: {e}"))
    }

    /// The sign-in page's form token and the cookie it is bound to.
    pub async fn web_sign_in_token(&self) -> String {
        let resp = self.web_get("/admin/sign-in", None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let (cookie, _) = set_cookie(&resp, SIGN_IN_COOKIE).expect("the sign-in cookie is set");
        let html = resp.text().await.expect("page");
        assert_eq!(input_value(&html, "csrf").as_deref(), Some(cookie.as_str()));
        cookie
    }

    /// Signs in through the sign-in form; the response is the form's answer.
    pub async fn web_sign_in_raw(&self, login: &str, password: &str) -> Response {
        let token = self.web_sign_in_token().await;
        self.web_post(
            "/admin/sign-in",
            None,
            &[(SIGN_IN_COOKIE, &token)],
            &[
                ("csrf", &token),
                ("login", login),
                ("password", password),
                ("next", "/admin"),
            ],
        )
        .await
    }

    /// Signs a demo user into the web admin.
    pub async fn web_sign_in(&self, user: DemoUser) -> WebSession {
        let resp = self.web_sign_in_raw(user.email(), DEMO_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{user:?} signs in");
        let (cookie, _) = set_cookie(&resp, SESSION_COOKIE).expect("a session cookie");
        WebSession { cookie }
    }

    /// An admin page's HTML, which must answer 200.
    pub async fn web_page(&self, path: &str, session: &WebSession) -> String {
        let resp = self.web_get(path, Some(session)).await;
        let status = resp.status();
        let html = resp.text().await.expect("page");
        assert_eq!(status, StatusCode::OK, "GET {path}: {html}");
        html
    }
}

impl TestApp {
    /// A request of Fatima's family waiting for Haren's coordinators: Haren stops confirming on
    /// its own and gets a Wednesday table session of two places, which Fatima asks for.
    pub async fn pending_visit(&self) -> reguide_protocol::visits::VisitRequest {
        use crate::visits::{next_weekday, request_body, table_rules};
        let v = self.visits_demo().await;
        let coordinator = self.login_as(DemoUser::Coordinator).await;
        let fatima = self.login_as(DemoUser::FamilyMember).await;
        self.set_rules(&coordinator, v.demo.haren, &table_rules(false))
            .await;
        let session = self
            .table_session(&coordinator, v.demo.haren, chrono::Weekday::Wed, 2)
            .await;
        let day = next_weekday(chrono::Weekday::Wed, 3);
        let body = request_body(
            v.a.id,
            v.a.detainee,
            "table",
            &[(session.id, day)],
            &[v.a.member("Fatima Benali")],
        );
        let request = self.request_visit(&fatima, &body).await;
        assert_eq!(
            request.status,
            reguide_protocol::visits::VisitStatus::Pending
        );
        request
    }
}
