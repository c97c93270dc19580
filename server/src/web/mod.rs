//! The web admin under `/admin`: server-rendered pages (askama templates in
//! `server/templates/admin`, compiled with the server) for prison visit coordinators, social
//! workers, Living Lab facilitators and administrators. Works without JavaScript and prints
//! cleanly; its stylesheet is served from the binary.
//!
//! Pages load and change data through the same functions, and so the same authorization
//! checks, as the JSON API; this module adds the session cookie, CSRF protection, the words in
//! the reader's language and the HTML.

pub mod i18n;
pub mod session;

mod admin;
mod families;
mod labs;
mod prison;
mod privacy;
mod sign_in;
pub(crate) mod visits;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, web};
use askama::Template;
use reguide_protocol::{Language, Role};

use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use session::WebUser;

pub type WebResult = Result<HttpResponse, WebError>;

/// The stylesheet, part of the binary.
const STYLESHEET: &str = include_str!("../../static/admin.css");

/// A strict policy: nothing but this origin's stylesheet and images, no script at all, no
/// framing, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
    img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A form carrying U+0000 (`%00`) is refused with a page: no field needs it, and PostgreSQL
/// cannot store text holding it. The body is read here (up to the forms' limit) and handed on.
async fn refuse_nul_in_form(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let body = req.extract::<web::Bytes>().await?;
        if body.windows(3).any(|w| w == b"%00") {
            let error = WebError::Api {
                error: ApiError::bad_request(
                    "invalid_form",
                    "the form holds the NUL character, which no field takes",
                ),
                language: session::request_language(req.request()),
            };
            return Ok(req
                .into_response(error.error_response())
                .map_into_right_body());
        }
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Registers `/admin…`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(refuse_nul_in_form))
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    // Not `no-referrer` (the API's): with it, browsers send `Origin: null` on
                    // the admin's own forms, which the CSRF check refuses. No address leaves
                    // the site either way.
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add(("Cross-Origin-Opener-Policy", "same-origin"))
                    .add(("Cross-Origin-Resource-Policy", "same-origin")),
            )
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|err, req| {
                        WebError::Api {
                            error: ApiError::bad_request(
                                "invalid_form",
                                format!("the form could not be read: {err}"),
                            ),
                            language: session::request_language(req),
                        }
                        .into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, req| {
                WebError::Api {
                    error: ApiError::bad_request(
                        "invalid_query",
                        format!("the address is not valid: {err}"),
                    ),
                    language: session::request_language(req),
                }
                .into()
            }))
            .app_data(web::PathConfig::default().error_handler(|err, req| {
                WebError::Api {
                    error: ApiError::not_found("not_found", format!("no such page: {err}")),
                    language: session::request_language(req),
                }
                .into()
            }))
            .service(stylesheet)
            .service(home)
            .configure(sign_in::configure)
            .configure(visits::configure)
            .configure(prison::configure)
            .configure(families::configure)
            .configure(labs::configure)
            .configure(admin::configure)
            .configure(privacy::configure)
            .default_service(web::to(not_found)),
    );
}

#[get("/static/admin.css")]
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        // The stylesheet changes only with the binary.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

async fn not_found(req: HttpRequest) -> WebResult {
    Err(WebError::Api {
        error: ApiError::not_found("not_found", "there is no such page"),
        language: session::request_language(&req),
    })
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session, or it ended: to the sign-in page, then back to `next`.
    #[error("sign in first")]
    SignIn { next: String },
    /// Signed in, but holds no staff role: families use the app.
    #[error("the web admin is for staff")]
    NotStaff { language: Language },
    /// A form from another site, or without its token.
    #[error("the form's security token is missing or wrong")]
    Csrf { language: Language },
    #[error("{error}")]
    Api { error: ApiError, language: Language },
}

impl WebError {
    pub fn api(error: ApiError, language: Language) -> Self {
        Self::Api { error, language }
    }
}

/// Puts an API error into the reader's language (there is deliberately no `From`: every error
/// says which language its page is in).
pub trait InLanguage<T> {
    fn lang(self, language: Language) -> Result<T, WebError>;
}

impl<T> InLanguage<T> for ApiResult<T> {
    fn lang(self, language: Language) -> Result<T, WebError> {
        self.map_err(|error| WebError::Api { error, language })
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } => StatusCode::SEE_OTHER,
            Self::NotStaff { .. } | Self::Csrf { .. } => StatusCode::FORBIDDEN,
            Self::Api { error, .. } => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (language, title, message) = match self {
            Self::SignIn { next } => {
                let back = safe_back(next).unwrap_or("/admin");
                let location = format!("/admin/sign-in?next={}", urlencode(back));
                // A session that ended is forgotten by the browser too.
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .cookie(session::removal(session::SESSION_COOKIE))
                    .finish();
            }
            Self::NotStaff { language } => (
                *language,
                "error.not_staff_title",
                i18n::text(*language, "error.not_staff").to_owned(),
            ),
            Self::Csrf { language } => (
                *language,
                "error.csrf_title",
                i18n::text(*language, "error.csrf").to_owned(),
            ),
            Self::Api { error, language } => {
                // Logged as the API logs them; causes never reach the page.
                error.log_cause();
                (
                    *language,
                    match error.status_code() {
                        StatusCode::NOT_FOUND => "error.not_found_title",
                        StatusCode::FORBIDDEN => "error.forbidden_title",
                        StatusCode::CONFLICT => "error.conflict_title",
                        StatusCode::BAD_REQUEST => "error.invalid_title",
                        StatusCode::TOO_MANY_REQUESTS => "error.too_many_title",
                        _ => "error.internal_title",
                    },
                    error_message(error, *language),
                )
            }
        };
        let page = Page::bare(language, i18n::text(language, title), "/admin");
        let body = ErrorPage {
            page: &page,
            message: &message,
        }
        .render()
        .unwrap_or_else(|_| message.clone());
        let mut response = HttpResponse::build(self.status_code());
        if let Self::NotStaff { .. } = self {
            // A family member's session is of no use here: it was ended where it is stored
            // (`session.rs`), and the browser forgets it too.
            response.cookie(session::removal(session::SESSION_COOKIE));
        }
        response.content_type("text/html; charset=utf-8").body(body)
    }
}

/// An error in words for the page: the text for its code in the reader's language when there
/// is one, else the API's own message (English, and safe to show).
pub fn error_message(error: &ApiError, language: Language) -> String {
    let key = format!("error.{}", error.code());
    if i18n::has(&key) {
        i18n::text(language, &key).to_owned()
    } else {
        error.to_string()
    }
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage<'a> {
    page: &'a Page,
    message: &'a str,
}

/// A link in the top navigation.
#[derive(Debug)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// One language of the switch.
#[derive(Debug)]
pub struct LanguageLink {
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// A problem with one field of a form, listed at the top and linked to the field.
#[derive(Debug)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What every page shares: language, title, the signed-in person and their navigation, the
/// CSRF token for its forms, and the messages at the top.
#[derive(Debug)]
pub struct Page {
    pub language: Language,
    pub title: String,
    pub user: Option<String>,
    pub nav: Vec<NavItem>,
    pub csrf: String,
    /// This page's address, to come back to after switching language.
    pub path: String,
    pub notice: Option<String>,
    pub errors: Vec<FieldError>,
}

impl Page {
    /// A page for someone signed in; `title` is a text key.
    pub fn new(user: &WebUser, req: &HttpRequest, title: &str) -> Self {
        let path = req.uri().path();
        let principal = &user.principal;
        let coordinates = principal.is_admin() || principal.has_role(Role::Coordinator);
        let mut nav = Vec::new();
        let mut add = |href: &'static str, label: &'static str| {
            let current = path == href || path.starts_with(&format!("{href}/"));
            nav.push(NavItem {
                href,
                label,
                current,
            });
        };
        if coordinates {
            add("/admin/visits", "nav.requests");
            add("/admin/prisons", "nav.prisons");
        }
        if principal.has_role(Role::SocialWorker) {
            add("/admin/caseload", "nav.caseload");
        }
        if principal.is_admin() || principal.has_role(Role::Facilitator) {
            add("/admin/living-labs", "nav.living_labs");
        }
        if principal.is_admin() {
            add("/admin/accounts", "nav.accounts");
            add("/admin/email", "nav.email");
            add("/admin/privacy", "nav.privacy");
            add("/admin/audit", "nav.audit");
        }
        let notice = req
            .uri()
            .query()
            .and_then(|q| {
                web::Query::<Done>::from_query(q)
                    .ok()
                    .and_then(|d| d.into_inner().done)
            })
            .filter(|key| DONE_NOTICES.contains(&key.as_str()))
            .map(|key| i18n::text(user.language, &format!("done.{key}")).to_owned());
        Self {
            language: user.language,
            title: i18n::text(user.language, title).to_owned(),
            user: Some(user.name.clone()),
            nav,
            csrf: user.csrf(),
            path: path.to_owned(),
            notice,
            errors: Vec::new(),
        }
    }

    /// A page before signing in, or an error page.
    pub fn bare(language: Language, title: &str, path: &str) -> Self {
        Self {
            language,
            title: title.to_owned(),
            user: None,
            nav: Vec::new(),
            csrf: String::new(),
            path: path.to_owned(),
            notice: None,
            errors: Vec::new(),
        }
    }

    /// The text for `key` in this page's language.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        i18n::text(self.language, key)
    }

    /// The text for a wire value, e.g. `tv("visit_type", "table")`.
    pub fn tv(&self, kind: &str, value: &str) -> String {
        let key = format!("{kind}.{value}");
        if i18n::has(&key) {
            i18n::text(self.language, &key).to_owned()
        } else {
            value.replace('_', " ")
        }
    }

    pub fn lang(&self) -> &'static str {
        self.language.code()
    }

    pub fn dir(&self) -> &'static str {
        if i18n::is_rtl(self.language) {
            "rtl"
        } else {
            "ltr"
        }
    }

    pub fn languages(&self) -> Vec<LanguageLink> {
        i18n::OFFERED
            .iter()
            .map(|&l| LanguageLink {
                code: l.code(),
                name: i18n::endonym(l),
                current: l == self.language,
            })
            .collect()
    }

    /// A language's own name, e.g. `Français`.
    pub fn language_name(&self, language: &Language) -> &'static str {
        i18n::endonym(*language)
    }

    /// A date in words in this page's language.
    pub fn date(&self, day: &chrono::NaiveDate) -> String {
        crate::mail::format::date(self.language, *day)
    }

    /// Where the language switch comes back to.
    pub fn back(&self) -> String {
        urlencode(&self.path)
    }

    /// Adds the problems of a refused form, linked to their fields.
    pub fn with_error(mut self, error: &ApiError, default_field: &str) -> Self {
        let field = match error {
            ApiError::Invalid {
                field: Some(field), ..
            } => field.to_string(),
            _ => default_field.to_owned(),
        };
        self.errors.push(FieldError {
            field: field.replace(['.', '[', ']'], "-"),
            message: error_message(error, self.language),
        });
        self
    }
}

/// A form that carries nothing but its CSRF token (a button that acts).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `?done=…` after a form succeeded: which notice to show.
#[derive(serde::Deserialize)]
struct Done {
    done: Option<String>,
}

/// The notices a redirect may ask for (any other value shows nothing).
pub(crate) const DONE_NOTICES: &[&str] = &[
    "confirmed",
    "declined",
    "proposed",
    "template_applied",
    "case_closed",
    "case_reopened",
    "appointment_answered",
    "invited",
    "saved",
    "retried",
    "attendance",
    "summary",
    "refused",
    "privacy_asked",
    "erased",
    "planned",
    "cancelled",
];

/// Renders a page.
pub fn render(template: &impl Template, language: Language) -> WebResult {
    let body = template
        .render()
        .map_err(|e| WebError::api(ApiError::internal(e), language))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// Renders a page with a status other than 200 (a form shown again with its problems).
pub fn render_status(
    template: &impl Template,
    language: Language,
    status: StatusCode,
) -> WebResult {
    let body = template
        .render()
        .map_err(|e| WebError::api(ApiError::internal(e), language))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// Whether showing a page writes (an audit entry of the reading) or only reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    Plain,
    Recorded,
}

/// Shows a page: `load` reads what it needs with the signed-in person's rights (the API's
/// functions), `build` makes the page of it. With `problem`, a refused form's error is listed
/// at the top, linked to its field, and the page answers 400.
#[allow(clippy::too_many_arguments)] // one call shape for every page; each argument is plain
pub async fn show<L, T>(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    title: &str,
    reading: Reading,
    problem: Option<(&ApiError, &str)>,
    load: impl FnOnce(&mut DbConn, &Principal) -> ApiResult<L> + Send + 'static,
    build: impl FnOnce(Page, L) -> T,
) -> WebResult
where
    L: Send + 'static,
    T: Template,
{
    let principal = user.principal.clone();
    let loaded = match reading {
        Reading::Plain => state.db(move |conn| load(conn, &principal)).await,
        Reading::Recorded => state.write(move |conn| load(conn, &principal)).await,
    }
    .lang(user.language)?;
    let mut page = Page::new(user, req, title);
    let status = match problem {
        Some((error, field)) => {
            page = page.with_error(error, field);
            StatusCode::BAD_REQUEST
        }
        None => StatusCode::OK,
    };
    render_status(&build(page, loaded), user.language, status)
}

/// Runs a form's change in one transaction with the signed-in person's rights (the API's
/// function for it inside `change`, after the form's own checks). Done: on to `done` (POST,
/// redirect, GET). Refused for a reason the person can mend (`400`, `409`): `again` shows the
/// form's page with the problem. Anything else: an error page.
pub async fn act<T, Again>(
    state: &AppState,
    user: &WebUser,
    change: impl FnOnce(&mut DbConn, &Principal) -> ApiResult<T> + Send + 'static,
    done: &str,
    again: impl FnOnce(ApiError) -> Again,
) -> WebResult
where
    T: Send + 'static,
    Again: std::future::Future<Output = WebResult>,
{
    let principal = user.principal.clone();
    match state.write(move |conn| change(conn, &principal)).await {
        Ok(_) => Ok(see_other(done)),
        Err(error @ (ApiError::Invalid { .. } | ApiError::Conflict { .. })) => again(error).await,
        Err(error) => Err(WebError::api(error, user.language)),
    }
}

/// After a form: see the page again (POST, redirect, GET), with a notice.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// A path inside the admin to come back to, or `None` for anything else (another site, a
/// scheme-relative `//host`, a backslash trick).
pub fn safe_back(target: &str) -> Option<&str> {
    let path = target.split('?').next().unwrap_or_default();
    let inside = path == "/admin"
        || (path.starts_with("/admin/")
            && !path.contains("//")
            && !path.contains('\\')
            && !path.contains(':'));
    (inside && !target.chars().any(char::is_control)).then_some(target)
}

pub fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Refuses a page to someone without any of `roles` (administrators pass everywhere).
pub fn require_any(user: &WebUser, roles: &[Role]) -> Result<(), WebError> {
    if user.principal.is_admin() || roles.iter().any(|r| user.has_role(*r)) {
        Ok(())
    } else {
        Err(WebError::api(ApiError::forbidden(), user.language))
    }
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct Home {
    page: Page,
}

/// The start page: each area the signed-in person may use.
#[get("")]
async fn home(req: HttpRequest, user: WebUser) -> WebResult {
    let page = Page::new(&user, &req, "home.title");
    render(&Home { page }, user.language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admin_paths_are_come_back_to() {
        assert_eq!(safe_back("/admin/visits"), Some("/admin/visits"));
        assert_eq!(safe_back("/admin"), Some("/admin"));
        assert_eq!(
            safe_back("/admin/prisons/x/day?date=2027-01-05"),
            Some("/admin/prisons/x/day?date=2027-01-05")
        );
        for bad in [
            "https://evil.example/admin",
            "//evil.example",
            "/admin//evil.example",
            "/admin/\\evil",
            "/api/v1/me",
            "/administrator",
            "javascript:alert(1)",
            "/admin/x\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(safe_back(bad), None, "{bad}");
        }
    }

    #[test]
    fn urlencoding_keeps_paths_readable() {
        assert_eq!(urlencode("/admin/visits"), "/admin/visits");
        assert_eq!(urlencode("a b&c=d"), "a%20b%26c%3Dd");
    }

    #[test]
    fn the_policy_allows_no_script() {
        assert!(!CONTENT_SECURITY_POLICY.contains("script-src"));
        assert!(CONTENT_SECURITY_POLICY.contains("default-src 'none'"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
