//! Signing in and out of the web admin, and the language switch.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use reguide_protocol::Language;
use serde::Deserialize;

use crate::auth::TokenKind;
use crate::auth::api::check_password;
use crate::auth::principal::load_grants;
use crate::auth::tokens;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::session::{self, STAFF_ROLES, WebUser};
use crate::web::{
    CsrfForm, InLanguage, Page, WebError, WebResult, i18n, render_status, safe_back, see_other,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(sign_in_form)
        .service(sign_in)
        .service(sign_out)
        .service(switch_language);
}

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage<'a> {
    page: Page,
    csrf: &'a str,
    next: &'a str,
    login: &'a str,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
    done: Option<String>,
}

/// The sign-in form. Its token is the sign-in cookie's value (set here when missing).
#[get("/sign-in")]
async fn sign_in_form(req: HttpRequest, query: web::Query<NextQuery>) -> WebResult {
    let language = session::request_language(&req);
    let existing = req
        .cookie(session::SIGN_IN_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()));
    let csrf = existing
        .clone()
        .unwrap_or_else(|| tokens::digest(&tokens::new_token()));
    let next = query
        .next
        .as_deref()
        .and_then(safe_back)
        .unwrap_or("/admin");
    let mut page = Page::bare(
        language,
        i18n::text(language, "sign_in.title"),
        "/admin/sign-in",
    );
    if query.done.as_deref() == Some("signed_out") {
        page.notice = Some(i18n::text(language, "done.signed_out").to_owned());
    }
    let mut response = render_status(
        &SignInPage {
            page,
            csrf: &csrf,
            next,
            login: "",
        },
        language,
        StatusCode::OK,
    )?;
    if existing.is_none() {
        response
            .add_cookie(&session::sign_in_cookie(&csrf))
            .map_err(|e| WebError::api(ApiError::internal(e), language))?;
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Checks the password the way the API does (throttled, every failure recorded), refuses
/// accounts without a staff role, and starts a session.
#[post("/sign-in")]
async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignInForm>,
) -> WebResult {
    let language = session::request_language(&req);
    session::same_site_request(&req, language)?;
    let SignInForm {
        csrf,
        login,
        password,
        next,
    } = form.into_inner();
    let expected = req
        .cookie(session::SIGN_IN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !session::constant_time_eq(csrf.as_bytes(), expected.as_bytes()) {
        return Err(WebError::Csrf { language });
    }
    let next = safe_back(&next).unwrap_or("/admin").to_owned();
    let login_name = login.trim().to_lowercase();
    let show_again = |error: ApiError| {
        let page = Page::bare(
            language,
            i18n::text(language, "sign_in.title"),
            "/admin/sign-in",
        )
        .with_error(&error, "login");
        let status = match error {
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        render_status(
            &SignInPage {
                page,
                csrf: &expected,
                next: &next,
                login: &login,
            },
            language,
            status,
        )
    };
    if login_name.is_empty() || login_name.len() > 254 {
        return show_again(ApiError::invalid(
            "login_missing",
            "login",
            "give your email address or username",
        ));
    }
    let verified = match check_password(&req, &state, &login_name, password).await {
        Ok(verified) => verified,
        Err(error @ (ApiError::InvalidCredentials | ApiError::TooManyAttempts { .. })) => {
            return show_again(error);
        }
        Err(error) => return Err(WebError::api(error, language)),
    };
    let config = state.config.auth.clone();
    let token = state
        .write(move |conn| {
            // Families use the app: no web session is opened for them, and the attempt is
            // not counted as a failure either (the password was right).
            let grants = load_grants(conn, verified.account)?;
            if !grants.iter().any(|g| STAFF_ROLES.contains(&g.role)) {
                return Ok(None);
            }
            Ok(Some(verified.sign_in(conn, TokenKind::Web, &config)?.token))
        })
        .await
        .lang(language)?;
    let Some(token) = token else {
        return Err(WebError::NotStaff { language });
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, next.clone()))
        .cookie(session::session_cookie(&token))
        .cookie(session::removal(session::SIGN_IN_COOKIE))
        .finish())
}

/// Ends the session here and in the database.
#[post("/sign-out")]
async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    form: web::Form<CsrfForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let language = user.language;
    let principal = user.principal;
    state
        .write(move |conn| crate::auth::api::end_session(conn, &principal))
        .await
        .lang(language)?;
    let mut response = see_other("/admin/sign-in?done=signed_out");
    response
        .add_cookie(&session::removal(session::SESSION_COOKIE))
        .map_err(|e| WebError::api(ApiError::internal(e), language))?;
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct BackQuery {
    back: Option<String>,
}

/// Changes the language of the admin's pages (a preference of this browser) and goes back.
#[get("/language/{code}")]
async fn switch_language(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<BackQuery>,
) -> WebResult {
    let language = Language::from_code(&path.into_inner())
        .filter(|l| i18n::OFFERED.contains(l))
        .ok_or_else(|| {
            WebError::api(
                ApiError::not_found("language_not_offered", "this language is not offered"),
                session::request_language(&req),
            )
        })?;
    let back = query
        .back
        .as_deref()
        .and_then(safe_back)
        .unwrap_or("/admin")
        .to_owned();
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, back))
        .cookie(session::language_cookie(language))
        .finish())
}
