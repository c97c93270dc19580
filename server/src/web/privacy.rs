//! Administrators' page of requests about personal data: each request with the member it is
//! about, the copy of their data (JSON, or a page to read and print) and refusal with a reason.
//! Social workers ask on a member's behalf from the family page.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use reguide_protocol::privacy::{NewPrivacyRequest, PrivacyKind, PrivacyRequest, PrivacyState};
use reguide_protocol::{FamilyId, MemberId};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::privacy::{self, api as privacy_api, export};
use crate::state::AppState;
use crate::web::families::family_page_is_not_theirs;
use crate::web::session::WebUser;
use crate::web::{InLanguage, Page, Reading, WebError, WebResult, act, see_other, show};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(requests)
        .service(download)
        .service(refuse)
        .service(erase)
        .service(ask_for_member);
}

#[derive(Debug)]
struct Line {
    request: PrivacyRequest,
    /// The member and their family, or nothing once erased.
    who: Option<(String, String)>,
    kind: String,
    state: String,
    when: String,
}

#[derive(Template)]
#[template(path = "admin/privacy.html")]
struct RequestsPage {
    page: Page,
    lines: Vec<Line>,
}

#[get("/privacy")]
async fn requests(req: HttpRequest, state: web::Data<AppState>, user: WebUser) -> WebResult {
    show_requests(&req, &state, &user, None).await
}

async fn show_requests(
    req: &HttpRequest,
    state: &AppState,
    user: &WebUser,
    problem: Option<(&ApiError, &str)>,
) -> WebResult {
    show(
        req,
        state,
        user,
        "privacy.title",
        Reading::Plain,
        problem,
        |conn, principal| {
            let list = privacy::list(conn, principal)?;
            let members: Vec<MemberId> = list.iter().map(|r| r.member_id).collect();
            Ok((list, privacy::member_names(conn, &members)?))
        },
        |page, (list, names)| RequestsPage {
            lines: list
                .into_iter()
                .map(|request| Line {
                    who: names.get(&request.member_id).cloned(),
                    kind: page.tv("privacy_kind", request.kind.as_str()),
                    state: page.tv("privacy_state", request.state.as_str()),
                    when: crate::mail::format::instant(
                        page.language,
                        chrono_tz::Europe::Brussels,
                        request.created_at,
                    ),
                    request,
                })
                .collect(),
            page,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct DownloadForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    format: String,
}

/// The copy of the data, as JSON or as a page, through the API's `export_in` (which records
/// it and closes the request).
#[post("/privacy/{id}/export")]
async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<DownloadForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let principal = user.principal.clone();
    let copy = state
        .write(move |conn| privacy_api::export_in(conn, &principal, id))
        .await
        .lang(user.language)?;
    let (body, content_type, extension) = if form.format == "html" {
        (
            export::html(&copy).lang(user.language)?,
            "text/html; charset=utf-8",
            "html",
        )
    } else {
        (
            serde_json::to_string_pretty(&copy)
                .map_err(|e| WebError::api(ApiError::internal(e), user.language))?,
            "application/json",
            "json",
        )
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"data-{id}.{extension}\""),
        ))
        .body(body))
}

#[derive(Debug, Deserialize)]
struct RefuseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

#[post("/privacy/{id}/refuse")]
async fn refuse(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<RefuseForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let note = form.into_inner().note;
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| privacy::refuse(conn, principal, id, &note),
        "/admin/privacy?done=refused",
        |error| async move {
            show_requests(req, state, user, Some((&at_line(error, "note", id), ""))).await
        },
    )
    .await
}

/// A problem with a field of one request's line: each line has its own fields.
fn at_line(error: ApiError, field: &str, id: Uuid) -> ApiError {
    let field = Some(format!("{field}-{id}").into());
    match error {
        ApiError::Invalid { code, message, .. } => ApiError::Invalid {
            code,
            field,
            message,
        },
        ApiError::Conflict { code, message } => ApiError::Invalid {
            code,
            field,
            message,
        },
        other => other,
    }
}

#[derive(Debug, Deserialize)]
struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// Carries out an erasure through `privacy::erase::erase`, once the administrator has ticked
/// that they checked it: it cannot be undone.
#[post("/privacy/{id}/erase")]
async fn erase(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<Uuid>,
    form: web::Form<EraseForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let id = path.into_inner();
    let confirmed = form.confirm.is_some();
    let (req, state, user) = (&req, &*state, &user);
    act(
        state,
        user,
        move |conn, principal| {
            if !confirmed {
                return Err(ApiError::invalid(
                    "erasure_not_confirmed",
                    "confirm",
                    "tick the box to confirm the erasure",
                ));
            }
            privacy::erase::erase(conn, principal, id)
        },
        "/admin/privacy?done=erased",
        |error| async move {
            show_requests(req, state, user, Some((&at_line(error, "confirm", id), ""))).await
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct AskForm {
    #[serde(default)]
    csrf: String,
    kind: String,
}

/// A social worker records a member's request (through `privacy::ask`, the API's rule), and
/// comes back to the family's page; an administrator, for whom that page is not, goes on to the
/// list of requests, where the new one is.
#[post("/families/{family}/members/{member}/privacy")]
async fn ask_for_member(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Form<AskForm>,
) -> WebResult {
    user.check_csrf(&req, &form.csrf)?;
    let (family, member) = path.into_inner();
    let kind = PrivacyKind::parse(&form.kind).ok_or_else(|| {
        WebError::api(
            ApiError::invalid("invalid_value", "kind", "a copy or an erasure"),
            user.language,
        )
    })?;
    let new = NewPrivacyRequest {
        member_id: MemberId(member),
        kind,
        note: None,
    };
    let family = FamilyId(family);
    let principal = user.principal.clone();
    state
        .write(move |conn| privacy::ask(conn, &principal, &new))
        .await
        .lang(user.language)?;
    Ok(see_other(&if family_page_is_not_theirs(&user, family) {
        "/admin/privacy?done=privacy_asked".to_owned()
    } else {
        format!("/admin/families/{family}?done=privacy_asked")
    }))
}

impl Line {
    fn open(&self) -> bool {
        self.request.state == PrivacyState::Open
    }

    fn erasure(&self) -> bool {
        self.request.kind == PrivacyKind::Erasure && self.open()
    }

    fn export(&self) -> bool {
        self.request.kind == PrivacyKind::Export && self.request.state != PrivacyState::Refused
    }
}
