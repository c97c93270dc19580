//! `/api/v1/privacy-requests` (asking) and `/api/v1/admin/privacy-requests…` (deciding).

use actix_web::{HttpResponse, get, post, web};
use reguide_protocol::privacy::{
    NewPrivacyRequest, PrivacyKind, PrivacyRefusal, PrivacyRequest, PrivacyState,
};
use utoipa::OpenApi;
use uuid::Uuid;

use crate::audit::{self, Object};
use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::privacy::{self, export};
use crate::state::AppState;

type Err = reguide_protocol::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(ask)
        .service(list)
        .service(export_json)
        .service(erase)
        .service(refuse);
}

#[derive(Debug, OpenApi)]
#[openapi(paths(ask, list, export_json, erase, refuse))]
pub struct PrivacyDoc;

#[utoipa::path(post, path = "/api/v1/privacy-requests", tag = "privacy",
    request_body = NewPrivacyRequest,
    responses((status = 201, description = "recorded (or the open request of this kind, asked again)", body = PrivacyRequest),
        (status = 400, body = Err), (status = 401, body = Err),
        (status = 404, description = "`family_not_found`: not the caller's own data nor a family of their caseload", body = Err)),
    security(("bearer" = [])))]
#[post("/privacy-requests")]
pub async fn ask(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewPrivacyRequest>,
) -> ApiResult<HttpResponse> {
    let new = body.into_inner();
    let made = state
        .write(move |conn| privacy::ask(conn, &principal, &new))
        .await?;
    Ok(HttpResponse::Created().json(made))
}

#[utoipa::path(get, path = "/api/v1/admin/privacy-requests", tag = "privacy",
    responses((status = 200, description = "open requests first, then the newest", body = [PrivacyRequest]),
        (status = 401, body = Err), (status = 403, body = Err)),
    security(("bearer" = [])))]
#[get("/admin/privacy-requests")]
pub async fn list(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let list = state
        .db(move |conn| privacy::list(conn, &principal))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Produces the copy of a member's data for an export request and closes the request: the
/// reading is recorded by the request's id. Asked again, the copy is made again (and recorded).
pub fn export_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<export::MemberExport> {
    principal.require_admin()?;
    let request = privacy::load(conn, id)?;
    if request.kind != PrivacyKind::Export {
        return Err(ApiError::conflict(
            "not_an_export",
            "this request is not for a copy of the data",
        ));
    }
    if request.state == PrivacyState::Refused {
        return Err(ApiError::conflict(
            "privacy_request_closed",
            "this request was refused",
        ));
    }
    let copy = export::gather(conn, request.member_id)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "member_data_exported",
        Some(Object::new("privacy_request", &id)),
    )?;
    if request.state == PrivacyState::Open {
        privacy::open_for_decision(conn, principal, id)?;
        privacy::close(conn, principal, id, PrivacyState::Done, None)?;
    }
    Ok(copy)
}

#[utoipa::path(post, path = "/api/v1/admin/privacy-requests/{request_id}/export", tag = "privacy",
    params(("request_id" = Uuid, Path)),
    responses((status = 200, description = "everything held about the member, as JSON; the request is done", content_type = "application/json"),
        (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err),
        (status = 409, description = "`not_an_export`, `privacy_request_closed`", body = Err)),
    security(("bearer" = [])))]
#[post("/admin/privacy-requests/{request_id}/export")]
pub async fn export_json(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let copy = state
        .write(move |conn| export_in(conn, &principal, id))
        .await?;
    Ok(HttpResponse::Ok().json(copy))
}

#[utoipa::path(post, path = "/api/v1/admin/privacy-requests/{request_id}/erase", tag = "privacy",
    params(("request_id" = Uuid, Path)),
    responses((status = 204, description = "the member is erased; the family document is written anew without them and its devices replace theirs at their next sync"),
        (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err),
        (status = 409, description = "`not_an_erasure`, `privacy_request_closed`, `member_gone`, `account_is_staff`", body = Err)),
    security(("bearer" = [])))]
#[post("/admin/privacy-requests/{request_id}/erase")]
pub async fn erase(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    state
        .write(move |conn| privacy::erase::erase(conn, &principal, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/admin/privacy-requests/{request_id}/refuse", tag = "privacy",
    params(("request_id" = Uuid, Path)), request_body = PrivacyRefusal,
    responses((status = 204), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err),
        (status = 409, description = "`privacy_request_closed`", body = Err)),
    security(("bearer" = [])))]
#[post("/admin/privacy-requests/{request_id}/refuse")]
pub async fn refuse(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<PrivacyRefusal>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let note = body.into_inner().note;
    state
        .write(move |conn| privacy::refuse(conn, &principal, id, &note))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
