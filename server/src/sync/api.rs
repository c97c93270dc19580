//! `POST /api/v1/families/{family_id}/sync`: the binary sync endpoint (see `docs/SYNC.md`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use futures_util::StreamExt;
use reguide_protocol::FamilyId;
use reguide_protocol::sync::{CONTENT_TYPE, MAX_REQUEST_BYTES, SyncRequest};
use utoipa::OpenApi;
use uuid::Uuid;

use crate::auth::principal::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::sync::{Syncer, sync};

type Err = reguide_protocol::ErrorBody;

/// Registers this module's routes under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(sync_family);
}

#[derive(Debug, OpenApi)]
#[openapi(
    paths(sync_family),
    tags((name = "sync", description = "Sync of family documents (binary, see docs/SYNC.md)"))
)]
pub struct SyncDoc;

/// Whether the request says its body is `application/octet-stream`.
fn is_octet_stream(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(CONTENT_TYPE))
}

/// Reads the body, refusing it as soon as it is known to be over the limit: from
/// `Content-Length` before reading anything, else while streaming.
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> ApiResult<Vec<u8>> {
    let limit = MAX_REQUEST_BYTES;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("incomplete_body", "the request body could not be read")
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Sync a family document: send the server heads last seen and the changes since, receive the
/// changes missing here and the server's new heads. Binary body, see `docs/SYNC.md`.
#[utoipa::path(post, path = "/api/v1/families/{family_id}/sync", tag = "sync",
    params(("family_id" = Uuid, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "[0x01][n: u8][n × 32-byte server heads][changes: save_after(heads)]"),
    responses(
        (status = 200, content_type = "application/octet-stream", body = Vec<u8>,
            description = "[0x01][kind: u8, 0 changes / 1 full document][m: u8][m × 32-byte heads][data]"),
        (status = 400, description = "malformed_sync_request, malformed_changes", body = Err),
        (status = 401, body = Err),
        (status = 403, description = "device_required, foreign_actor, or a write-policy code with the path in field", body = Err),
        (status = 404, description = "family_not_found", body = Err),
        (status = 409, description = "missing_dependencies: resend with no heads and the whole document", body = Err),
        (status = 413, body = Err), (status = 415, body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/sync")]
pub async fn sync_family(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    let device = principal.device_id.ok_or_else(|| {
        ApiError::refused(
            "device_required",
            "sync needs the token of an enrolled device",
        )
    })?;
    let member = principal
        .member_in(family)
        .ok_or_else(|| ApiError::not_found("family_not_found", "no such family"))?;
    if !is_octet_stream(&req) {
        return Err(ApiError::UnsupportedMediaTypeOf {
            expected: CONTENT_TYPE,
        });
    }
    let body = read_body(&req, payload).await?;
    let request = SyncRequest::decode(&body).map_err(|e| {
        ApiError::bad_request(
            "malformed_sync_request",
            format!("the sync frame is not valid: {e}"),
        )
    })?;
    let who = Syncer {
        family,
        member,
        device,
        account: principal.account_id,
    };
    let docs = state.docs.clone();
    let (response, stored) = state
        .write(move |conn| sync(conn, &docs, who, request))
        .await?;
    // Committed: the next sync of the family starts from this document.
    state.docs.put(stored);
    let frame = response
        .encode()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("encoding a sync response: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(frame))
}
