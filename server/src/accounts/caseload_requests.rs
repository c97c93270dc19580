//! A social worker asks to follow a family (`POST /api/v1/caseload-requests`); an
//! administrator approves, which puts the family in the worker's caseload with the service the
//! worker follows it for, or refuses (`POST /api/v1/admin/caseload-requests/{id}/decision`).

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use reguide_protocol::caseloads::{
    CaseloadDecision, CaseloadRequest, CaseloadRequestStatus, NewCaseloadRequest, WorkerService,
};
use reguide_protocol::{AccountId, Role};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use uuid::Uuid;

use crate::audit::{self, Object};
use crate::auth::principal::{Principal, parse_id};
use crate::db::schema::caseload_requests as requests;
use crate::db::{DbConn, now, to_utc};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use crate::{accounts, families};

type Err = reguide_protocol::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(ask).service(list).service(decide);
}

#[derive(Debug, OpenApi)]
#[openapi(paths(ask, list, decide))]
pub struct CaseloadRequestsDoc;

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
);

fn columns() -> (
    requests::id,
    requests::account_id,
    requests::family_id,
    requests::service,
    requests::reason,
    requests::status,
    requests::created_at,
    requests::decided_at,
    requests::decided_by,
) {
    (
        requests::id,
        requests::account_id,
        requests::family_id,
        requests::service,
        requests::reason,
        requests::status,
        requests::created_at,
        requests::decided_at,
        requests::decided_by,
    )
}

fn stored(what: &str) -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "a stored caseload request has a bad {what}"
    ))
}

fn from_row(row: Row) -> ApiResult<CaseloadRequest> {
    let (id, account, family, service, reason, status, created, decided_at, decided_by) = row;
    Ok(CaseloadRequest {
        id: Uuid::parse_str(&id).map_err(|_| stored("id"))?,
        account_id: parse_id(&account)?,
        family_id: parse_id(&family)?,
        service: WorkerService::parse(&service).ok_or_else(|| stored("service"))?,
        reason,
        status: CaseloadRequestStatus::parse(&status).ok_or_else(|| stored("status"))?,
        created_at: to_utc(created),
        decided_at: decided_at.map(to_utc),
        decided_by: decided_by.as_deref().map(parse_id).transpose()?,
    })
}

fn load(conn: &mut DbConn, id: &str) -> ApiResult<CaseloadRequest> {
    let row: Option<Row> = requests::table
        .find(id)
        .select(columns())
        .first(conn)
        .optional()?;
    from_row(row.ok_or_else(|| {
        ApiError::not_found("request_not_found", "there is no such caseload request")
    })?)
}

fn in_caseload(
    conn: &mut DbConn,
    account: AccountId,
    family: reguide_protocol::FamilyId,
) -> ApiResult<bool> {
    use crate::db::schema::caseloads;
    let n: i64 = caseloads::table
        .filter(caseloads::account_id.eq(account.to_string()))
        .filter(caseloads::family_id.eq(family.to_string()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

#[utoipa::path(post, path = "/api/v1/caseload-requests", tag = "admin",
    request_body = NewCaseloadRequest,
    responses((status = 201, body = CaseloadRequest), (status = 400, body = Err),
        (status = 403, description = "only social workers ask", body = Err),
        (status = 404, body = Err),
        (status = 409, description = "`already_in_caseload`, `request_pending`", body = Err)),
    security(("bearer" = [])))]
#[post("/caseload-requests")]
pub async fn ask(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewCaseloadRequest>,
) -> ApiResult<HttpResponse> {
    if !principal.has_role(Role::SocialWorker) {
        return Err(ApiError::Forbidden(
            "only social workers ask to follow a family".into(),
        ));
    }
    let NewCaseloadRequest {
        family_id,
        service,
        reason,
    } = body.into_inner();
    let reason = match reason.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) if r.chars().count() > 1_000 || r.chars().any(|c| c.is_control() && c != '\n') => {
            return Err(ApiError::invalid(
                "invalid_value",
                "reason",
                "a reason has at most 1,000 characters",
            ));
        }
        Some(r) => Some(r.to_owned()),
    };
    let account = principal.account_id;
    let made = state
        .write(move |conn| {
            families::ensure_exists(conn, family_id)?;
            if in_caseload(conn, account, family_id)? {
                return Err(ApiError::conflict(
                    "already_in_caseload",
                    "this family is in your caseload already",
                ));
            }
            let pending: i64 = requests::table
                .filter(requests::account_id.eq(account.to_string()))
                .filter(requests::family_id.eq(family_id.to_string()))
                .filter(requests::status.eq(CaseloadRequestStatus::Pending.as_str()))
                .count()
                .get_result(conn)?;
            if pending > 0 {
                return Err(ApiError::conflict(
                    "request_pending",
                    "you asked for this family already; an administrator will decide",
                ));
            }
            let id = Uuid::new_v4().to_string();
            diesel::insert_into(requests::table)
                .values((
                    requests::id.eq(&id),
                    requests::account_id.eq(account.to_string()),
                    requests::family_id.eq(family_id.to_string()),
                    requests::service.eq(service.as_str()),
                    requests::reason.eq(&reason),
                    requests::status.eq(CaseloadRequestStatus::Pending.as_str()),
                    requests::created_at.eq(now()),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                Some(account),
                "caseload_requested",
                Some(Object::new("family", &family_id)),
            )?;
            load(conn, &id)
        })
        .await?;
    Ok(HttpResponse::Created().json(made))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequestFilter {
    /// `pending`, `approved` or `refused`.
    status: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/caseload-requests", tag = "admin", params(RequestFilter),
    responses((status = 200, description = "an administrator sees every request, a social worker \
        their own; oldest first", body = [CaseloadRequest]),
        (status = 400, body = Err), (status = 403, body = Err)),
    security(("bearer" = [])))]
#[get("/caseload-requests")]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<RequestFilter>,
) -> ApiResult<HttpResponse> {
    let status = match filter.into_inner().status {
        None => None,
        Some(s) => Some(CaseloadRequestStatus::parse(&s).ok_or_else(|| {
            ApiError::invalid("invalid_value", "status", "pending, approved or refused")
        })?),
    };
    let list = state
        .db(move |conn| list_in(conn, &principal, status))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The requests an administrator decides (all of them) or a social worker made (their own),
/// oldest first.
pub fn list_in(
    conn: &mut DbConn,
    principal: &Principal,
    status: Option<CaseloadRequestStatus>,
) -> ApiResult<Vec<CaseloadRequest>> {
    let own = match (principal.is_admin(), principal.has_role(Role::SocialWorker)) {
        (true, _) => None,
        (false, true) => Some(principal.account_id),
        (false, false) => return Err(ApiError::forbidden()),
    };
    let mut query = requests::table
        .order((requests::created_at.asc(), requests::id.asc()))
        .select(columns())
        .into_boxed();
    if let Some(account) = own {
        query = query.filter(requests::account_id.eq(account.to_string()));
    }
    if let Some(status) = status {
        query = query.filter(requests::status.eq(status.as_str()));
    }
    query.load::<Row>(conn)?.into_iter().map(from_row).collect()
}

#[utoipa::path(post, path = "/api/v1/admin/caseload-requests/{request_id}/decision", tag = "admin",
    params(("request_id" = Uuid, Path)), request_body = CaseloadDecision,
    responses((status = 200, body = CaseloadRequest), (status = 403, body = Err),
        (status = 404, body = Err),
        (status = 409, description = "`already_decided`", body = Err)),
    security(("bearer" = [])))]
#[post("/admin/caseload-requests/{request_id}/decision")]
pub async fn decide(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<CaseloadDecision>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let approve = body.approve;
    let decided = state
        .write(move |conn| decide_in(conn, &principal, id, approve))
        .await?;
    Ok(HttpResponse::Ok().json(decided))
}

/// An administrator's decision on a caseload request: approved, the family joins the worker's
/// caseload for the service asked; recorded either way.
pub fn decide_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
    approve: bool,
) -> ApiResult<CaseloadRequest> {
    principal.require_admin()?;
    let id = id.to_string();
    let admin = principal.account_id;
    // Only a pending request changes; two decisions at once leave one winner.
    let status = if approve {
        CaseloadRequestStatus::Approved
    } else {
        CaseloadRequestStatus::Refused
    };
    let request = load(conn, &id)?;
    let changed = diesel::update(
        requests::table
            .find(&id)
            .filter(requests::status.eq(CaseloadRequestStatus::Pending.as_str())),
    )
    .set((
        requests::status.eq(status.as_str()),
        requests::decided_at.eq(now()),
        requests::decided_by.eq(admin.to_string()),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(ApiError::conflict(
            "already_decided",
            "this request was decided already",
        ));
    }
    if approve {
        let worker = accounts::load_account(conn, request.account_id)?;
        if !worker.roles.iter().any(|g| g.role == Role::SocialWorker) {
            return Err(ApiError::conflict(
                "not_a_social_worker",
                "the account asking is no longer a social worker",
            ));
        }
        accounts::assign_caseload_for(
            conn,
            request.account_id,
            request.family_id,
            Some(request.service.as_str()),
        )?;
    }
    audit::record(
        conn,
        Some(admin),
        if approve {
            "caseload_request_approved"
        } else {
            "caseload_request_refused"
        },
        Some(Object::new("family", &request.family_id)),
    )?;
    load(conn, &id)
}
