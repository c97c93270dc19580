//! `/api/v1/visit-requests…`, visitor lists and the waiting list. The prison-side endpoints
//! (rules, sessions, blocked dates, slots, day lists) are in [`super::prison_api`].

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::Utc;
use diesel::prelude::*;
use reguide_protocol::visits::{
    Amendment, ApprovedVisitor, Cancellation, Decision, NewVisitRequest, NewWaitlistEntry,
    VisitRequest, VisitStatus, VisitorDecision, WaitlistEntry,
};
use reguide_protocol::{DetaineeId, FamilyId, MemberId, PrisonId, Role};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use uuid::Uuid;

use crate::audit::{self, Object};
use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::db::schema::{caseloads, visit_requests};
use crate::error::{ApiError, ApiResult};
use crate::json::{Json, OptionalJson};
use crate::state::AppState;
use crate::visits::access::{self, Party};
use crate::visits::{prison_api, requests, visitors, waitlist};

type Err = reguide_protocol::ErrorBody;

/// Registers this module's routes under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_request)
        .service(list_requests)
        .service(get_request)
        .service(decide)
        .service(accept_proposal)
        .service(withdraw)
        .service(cancel)
        .service(amend)
        .service(list_visitors)
        .service(decide_visitor)
        .service(ask_visitor)
        .service(join_waitlist)
        .service(list_waitlist)
        .service(get_waitlist_entry)
        .service(accept_offer)
        .service(leave_waitlist);
    prison_api::configure(cfg);
}

#[derive(Debug, OpenApi)]
#[openapi(paths(
    create_request,
    list_requests,
    get_request,
    decide,
    accept_proposal,
    withdraw,
    cancel,
    amend,
    list_visitors,
    decide_visitor,
    ask_visitor,
    join_waitlist,
    list_waitlist,
    get_waitlist_entry,
    accept_offer,
    leave_waitlist,
    prison_api::prison_detail,
    prison_api::update_prison,
    prison_api::put_rules,
    prison_api::delete_rules,
    prison_api::list_templates,
    prison_api::create_template,
    prison_api::update_template,
    prison_api::delete_template,
    prison_api::list_blocked,
    prison_api::block_date,
    prison_api::unblock,
    prison_api::open_slots,
    prison_api::day,
    prison_api::day_csv,
))]
pub struct VisitsDoc;

/// Loads a request the caller may see; others are told it does not exist.
pub fn visible_request(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<(requests::Stored, Party)> {
    let stored = requests::load_stored(conn, id).map_err(|_| requests::not_found())?;
    if principal.member_in(stored.family).is_some() && !principal.is_admin() {
        return Ok((stored, Party::Family));
    }
    if access::manages_prison(principal, stored.prison) {
        return Ok((stored, Party::Staff));
    }
    match access::require_family_party(conn, principal, stored.family, stored.prison) {
        Ok(party) => Ok((stored, party)),
        Err(_) => Err(requests::not_found()),
    }
}

#[utoipa::path(post, path = "/api/v1/visit-requests", tag = "visits", request_body = NewVisitRequest,
    responses((status = 201, description = "created; `status` says whether it was confirmed at once", body = VisitRequest),
        (status = 400, body = Err), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/visit-requests")]
pub async fn create_request(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewVisitRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let request = state
        .write(move |conn| {
            let party = access::require_party_for_detainee(
                conn,
                &principal,
                body.family_id,
                body.detainee_id,
            )?;
            let id = requests::create(conn, &body, party, principal.account_id, Utc::now())?;
            if party == Party::Staff {
                audit::record(
                    conn,
                    Some(principal.account_id),
                    "visit_requested_for_family",
                    Some(Object::new("visit_request", &id)),
                )?;
            }
            requests::load_one(conn, &id)
        })
        .await?;
    Ok(HttpResponse::Created().json(request))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequestFilter {
    /// One family's requests.
    pub family_id: Option<Uuid>,
    /// One prison's requests (its coordinators and administrators).
    pub prison_id: Option<Uuid>,
    /// e.g. `pending` for the queue of requests to decide.
    pub status: Option<String>,
    /// Only requests flagged for a coordinator's attention.
    pub flagged: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/visit-requests", tag = "visits", params(RequestFilter),
    responses((status = 200, body = [VisitRequest]), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/visit-requests")]
pub async fn list_requests(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<RequestFilter>,
) -> ApiResult<HttpResponse> {
    let filter = filter.into_inner();
    let list = state
        .db(move |conn| list_visible(conn, &principal, &filter))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The requests `filter` names that the caller may see, newest first (500 at most): a family's
/// own, a social worker's caseload, a coordinator's prisons, everything for administrators.
pub fn list_visible(
    conn: &mut DbConn,
    principal: &Principal,
    filter: &RequestFilter,
) -> ApiResult<Vec<VisitRequest>> {
    let status = filter
        .status
        .as_deref()
        .map(|s| {
            VisitStatus::parse(s)
                .ok_or_else(|| ApiError::invalid("invalid_value", "status", "unknown status"))
        })
        .transpose()?;
    let mut query = visit_requests::table
        .select(visit_requests::id)
        .into_boxed();
    if let Some(family) = filter.family_id {
        if let access::FamilyScope::Prisons(prisons) =
            access::family_scope(conn, principal, FamilyId(family))?
        {
            let prisons: Vec<String> = prisons.iter().map(|p| p.to_string()).collect();
            query = query.filter(visit_requests::prison_id.eq_any(prisons));
        }
        query = query.filter(visit_requests::family_id.eq(family.to_string()));
    }
    if let Some(prison) = filter.prison_id {
        access::require_prison_manager(principal, PrisonId(prison))?;
        query = query.filter(visit_requests::prison_id.eq(prison.to_string()));
    }
    if filter.family_id.is_none() && filter.prison_id.is_none() && !principal.is_admin() {
        let mut families: Vec<String> = principal
            .memberships
            .iter()
            .filter(|(f, _)| principal.member_in(*f).is_some())
            .map(|(f, _)| f.to_string())
            .collect();
        if principal.has_role(Role::SocialWorker) {
            families.extend(
                caseloads::table
                    .filter(caseloads::account_id.eq(principal.account_id.to_string()))
                    .select(caseloads::family_id)
                    .load::<String>(conn)?,
            );
        }
        let prisons: Vec<String> = principal
            .coordinated_prisons()
            .iter()
            .map(|p| p.to_string())
            .collect();
        query = query.filter(
            visit_requests::family_id
                .eq_any(families)
                .or(visit_requests::prison_id.eq_any(prisons)),
        );
    }
    if let Some(status) = status {
        query = query.filter(visit_requests::status.eq(status.as_str()));
    }
    if let Some(flagged) = filter.flagged {
        query = query.filter(visit_requests::flagged.eq(flagged));
    }
    let ids: Vec<String> = query
        .order(visit_requests::created_at.desc())
        .limit(500)
        .load(conn)?;
    requests::load_many(conn, &ids)
}

#[utoipa::path(get, path = "/api/v1/visit-requests/{request_id}", tag = "visits", params(("request_id" = Uuid, Path)),
    responses((status = 200, body = VisitRequest), (status = 404, body = Err)), security(("bearer" = [])))]
#[get("/visit-requests/{request_id}")]
pub async fn get_request(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let request = state
        .db(move |conn| {
            let (stored, _) = visible_request(conn, &principal, id)?;
            requests::load_one(conn, &stored.id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

#[utoipa::path(post, path = "/api/v1/visit-requests/{request_id}/decision", tag = "visits", params(("request_id" = Uuid, Path)),
    request_body = Decision,
    responses((status = 200, body = VisitRequest), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/visit-requests/{request_id}/decision")]
pub async fn decide(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<Decision>,
) -> ApiResult<HttpResponse> {
    let decision = body.into_inner();
    let id = path.into_inner();
    let request = state
        .write(move |conn| decide_in(conn, &principal, id, &decision))
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

/// A coordinator's decision on a request, in the caller's transaction: the API's and the web
/// admin's one way to decide.
pub fn decide_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
    decision: &Decision,
) -> ApiResult<VisitRequest> {
    change_request_in(
        conn,
        principal,
        id,
        (Audit::Always, "visit_request_decided"),
        |conn, principal, stored, _| {
            access::require_prison_manager(principal, stored.prison)?;
            requests::decide(conn, stored, decision, principal.account_id, Utc::now())
        },
    )
}

/// Which changes of a request the audit log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Audit {
    /// Coordinators' decisions and amendments, whoever holds the role.
    Always,
    /// Changes staff make for a family; a family's own changes are its history, not an audit.
    StaffOnly,
}

/// One change of a visit request: lock it (PostgreSQL: a second change waits and sees the
/// first), check the caller may see it, apply `change`, record it in the audit log, and answer
/// with the request as it now stands.
async fn change_request<F>(
    state: web::Data<AppState>,
    principal: Principal,
    id: Uuid,
    audit: (Audit, &'static str),
    change: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce(&mut DbConn, &Principal, &requests::Stored, Party) -> ApiResult<()> + Send + 'static,
{
    let request = state
        .write(move |conn| change_request_in(conn, &principal, id, audit, change))
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

/// [`change_request`] inside the caller's transaction.
fn change_request_in<F>(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
    audit: (Audit, &'static str),
    change: F,
) -> ApiResult<VisitRequest>
where
    F: FnOnce(&mut DbConn, &Principal, &requests::Stored, Party) -> ApiResult<()>,
{
    requests::lock_request(conn, id)?;
    let (stored, party) = visible_request(conn, principal, id)?;
    change(conn, principal, &stored, party)?;
    if audit.0 == Audit::Always || party == Party::Staff {
        audit::record(
            conn,
            Some(principal.account_id),
            audit.1,
            Some(Object::new("visit_request", &stored.id)),
        )?;
    }
    requests::load_one(conn, &stored.id)
}

/// The actions a family (or staff for it) takes on its own request.
#[derive(Clone, Copy, Debug)]
enum FamilyAction {
    Accept,
    Withdraw,
}

async fn family_action(
    state: web::Data<AppState>,
    principal: Principal,
    id: Uuid,
    action: FamilyAction,
) -> ApiResult<HttpResponse> {
    change_request(
        state,
        principal,
        id,
        (Audit::StaffOnly, "visit_request_changed_for_family"),
        move |conn, principal, stored, _| match action {
            FamilyAction::Accept => requests::accept_proposal(conn, stored, principal.account_id),
            FamilyAction::Withdraw => {
                requests::withdraw(conn, stored, principal.account_id, Utc::now())
            }
        },
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/visit-requests/{request_id}/accept", tag = "visits", params(("request_id" = Uuid, Path)),
    responses((status = 200, description = "the proposed slot is confirmed", body = VisitRequest), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/visit-requests/{request_id}/accept")]
pub async fn accept_proposal(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    family_action(state, principal, path.into_inner(), FamilyAction::Accept).await
}

#[utoipa::path(post, path = "/api/v1/visit-requests/{request_id}/withdraw", tag = "visits", params(("request_id" = Uuid, Path)),
    responses((status = 200, body = VisitRequest), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/visit-requests/{request_id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    family_action(state, principal, path.into_inner(), FamilyAction::Withdraw).await
}

#[utoipa::path(post, path = "/api/v1/visit-requests/{request_id}/cancel", tag = "visits", params(("request_id" = Uuid, Path)),
    request_body = Cancellation,
    responses((status = 200, body = VisitRequest), (status = 400, body = Err), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/visit-requests/{request_id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: OptionalJson<Cancellation>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let id = path.into_inner();
    let request = state
        .write(move |conn| cancel_in(conn, &principal, id, body.reason.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

/// Cancels a visit for whoever may: the family (reason optional) or staff (reason required).
pub fn cancel_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
    reason: Option<&str>,
) -> ApiResult<VisitRequest> {
    change_request_in(
        conn,
        principal,
        id,
        (Audit::StaffOnly, "visit_cancelled"),
        |conn, principal, stored, party| {
            requests::cancel(
                conn,
                stored,
                party,
                reason,
                principal.account_id,
                Utc::now(),
            )
        },
    )
}

#[utoipa::path(post, path = "/api/v1/visit-requests/{request_id}/amend", tag = "visits", params(("request_id" = Uuid, Path)),
    request_body = Amendment,
    responses((status = 200, body = VisitRequest), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/visit-requests/{request_id}/amend")]
pub async fn amend(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<Amendment>,
) -> ApiResult<HttpResponse> {
    let change = body.into_inner();
    change_request(
        state,
        principal,
        path.into_inner(),
        (Audit::Always, "visit_amended"),
        move |conn, principal, stored, _| {
            access::require_prison_manager(principal, stored.prison)?;
            requests::amend(conn, stored, &change, principal.account_id, Utc::now())
        },
    )
    .await
}

/// The detained person, if the caller may see their visitor list: the prison's staff, or a
/// party of one of the linked families.
fn visible_detainee(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<visitors::DetaineeRef> {
    let detainee = visitors::load_detainee(conn, DetaineeId(id))?;
    if access::manages_prison(principal, detainee.prison) {
        return Ok(detainee);
    }
    for family in &detainee.families {
        if access::require_family_party(conn, principal, *family, detainee.prison).is_ok() {
            return Ok(detainee);
        }
    }
    Err(ApiError::not_found(
        "detainee_not_found",
        "no detained person has this id",
    ))
}

#[utoipa::path(get, path = "/api/v1/detainees/{detainee_id}/visitors", tag = "visits", params(("detainee_id" = Uuid, Path)),
    responses((status = 200, body = [ApprovedVisitor]), (status = 404, body = Err)), security(("bearer" = [])))]
#[get("/detainees/{detainee_id}/visitors")]
pub async fn list_visitors(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let list = state
        .db(move |conn| {
            let detainee = visible_detainee(conn, &principal, id)?;
            let mut list = visitors::list(conn, &detainee)?;
            // Families see their own members only; staff see the whole list.
            if !access::manages_prison(&principal, detainee.prison) {
                let mut visible = Vec::new();
                for entry in list.drain(..) {
                    if access::require_family_party(
                        conn,
                        &principal,
                        entry.family_id,
                        detainee.prison,
                    )
                    .is_ok()
                    {
                        visible.push(entry);
                    }
                }
                list = visible;
            }
            Ok(list)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(put, path = "/api/v1/detainees/{detainee_id}/visitors/{member_id}", tag = "visits",
    params(("detainee_id" = Uuid, Path), ("member_id" = Uuid, Path)), request_body = VisitorDecision,
    responses((status = 200, body = [ApprovedVisitor]), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[put("/detainees/{detainee_id}/visitors/{member_id}")]
pub async fn decide_visitor(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<VisitorDecision>,
) -> ApiResult<HttpResponse> {
    let (detainee, member) = path.into_inner();
    let decision = body.into_inner();
    let list = state
        .write(move |conn| {
            decide_visitor_in(conn, &principal, detainee, MemberId(member), &decision)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A coordinator's decision on a member of a detained person's visitor list; answers the list.
pub fn decide_visitor_in(
    conn: &mut DbConn,
    principal: &Principal,
    detainee: Uuid,
    member: MemberId,
    decision: &VisitorDecision,
) -> ApiResult<Vec<ApprovedVisitor>> {
    let detainee = visible_detainee(conn, principal, detainee)?;
    access::require_prison_manager(principal, detainee.prison)?;
    visitors::decide(conn, &detainee, member, decision, principal.account_id)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "visitor_decided",
        Some(Object::new("member", &member)),
    )?;
    visitors::list(conn, &detainee)
}

#[utoipa::path(post, path = "/api/v1/detainees/{detainee_id}/visitors/{member_id}/ask", tag = "visits",
    params(("detainee_id" = Uuid, Path), ("member_id" = Uuid, Path)),
    responses((status = 200, description = "the member's standing on the list", body = [ApprovedVisitor]), (status = 400, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/detainees/{detainee_id}/visitors/{member_id}/ask")]
pub async fn ask_visitor(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (detainee, member) = path.into_inner();
    let list = state
        .write(move |conn| {
            let detainee = visible_detainee(conn, &principal, detainee)?;
            let family: String = crate::db::schema::family_members::table
                .find(member.to_string())
                .select(crate::db::schema::family_members::family_id)
                .first(conn)
                .optional()?
                .ok_or_else(visitors::member_not_found)?;
            // A member of a family the caller does not see is not found, as an unknown id is.
            access::require_family_party(
                conn,
                &principal,
                crate::auth::principal::parse_id(&family)?,
                detainee.prison,
            )
            .map_err(|error| match error {
                ApiError::NotFound { .. } => visitors::member_not_found(),
                other => other,
            })?;
            visitors::ask(conn, &detainee, MemberId(member))?;
            let list = visitors::list(conn, &detainee)?;
            Ok(list
                .into_iter()
                .filter(|v| v.member_id == MemberId(member))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(post, path = "/api/v1/waitlist", tag = "visits", request_body = NewWaitlistEntry,
    responses((status = 201, body = WaitlistEntry), (status = 400, body = Err), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/waitlist")]
pub async fn join_waitlist(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewWaitlistEntry>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let entry = state
        .write(move |conn| {
            access::require_party_for_detainee(conn, &principal, body.family_id, body.detainee_id)?;
            let id = waitlist::join(conn, &body, principal.account_id, Utc::now())?;
            waitlist::load_one(conn, &id)
        })
        .await?;
    Ok(HttpResponse::Created().json(entry))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitlistFilter {
    family_id: Option<Uuid>,
    prison_id: Option<Uuid>,
}

#[utoipa::path(get, path = "/api/v1/waitlist", tag = "visits", params(WaitlistFilter),
    responses((status = 200, body = [WaitlistEntry]), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/waitlist")]
pub async fn list_waitlist(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<WaitlistFilter>,
) -> ApiResult<HttpResponse> {
    let filter = filter.into_inner();
    let list = state
        .db(move |conn| match (filter.family_id, filter.prison_id) {
            (Some(family), None) => {
                let prisons = match access::family_scope(conn, &principal, FamilyId(family))? {
                    access::FamilyScope::All(_) => None,
                    access::FamilyScope::Prisons(prisons) => {
                        Some(prisons.iter().map(|p| p.to_string()).collect::<Vec<_>>())
                    }
                };
                waitlist::list(conn, Some(&[family.to_string()]), prisons.as_deref(), false)
            }
            (None, Some(prison)) => {
                access::require_prison_manager(&principal, PrisonId(prison))?;
                waitlist::list(conn, None, Some(&[prison.to_string()]), true)
            }
            _ => Err(ApiError::bad_request(
                "invalid_query",
                "give either family_id or prison_id",
            )),
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

fn visible_entry(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<waitlist::StoredEntry> {
    let entry = waitlist::load_stored(conn, id)?;
    if access::manages_prison(principal, entry.prison)
        || access::require_family_party(conn, principal, entry.family, entry.prison).is_ok()
    {
        Ok(entry)
    } else {
        Err(waitlist::not_found())
    }
}

#[utoipa::path(get, path = "/api/v1/waitlist/{entry_id}", tag = "visits", params(("entry_id" = Uuid, Path)),
    responses((status = 200, body = WaitlistEntry), (status = 404, body = Err)), security(("bearer" = [])))]
#[get("/waitlist/{entry_id}")]
pub async fn get_waitlist_entry(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let entry = state
        .db(move |conn| {
            let entry = visible_entry(conn, &principal, id)?;
            waitlist::load_one(conn, &entry.id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(entry))
}

#[utoipa::path(post, path = "/api/v1/waitlist/{entry_id}/accept", tag = "visits", params(("entry_id" = Uuid, Path)),
    responses((status = 200, description = "the confirmed visit made from the offered place", body = VisitRequest), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/waitlist/{entry_id}/accept")]
pub async fn accept_offer(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let request = state
        .write(move |conn| {
            waitlist::lock_entry(conn, id)?;
            let entry = visible_entry(conn, &principal, id)?;
            access::require_family_party(conn, &principal, entry.family, entry.prison)?;
            let request = waitlist::accept(conn, &entry, principal.account_id, Utc::now())?;
            requests::load_one(conn, &request)
        })
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

#[utoipa::path(delete, path = "/api/v1/waitlist/{entry_id}", tag = "visits", params(("entry_id" = Uuid, Path)),
    responses((status = 204, description = "left the list; an offered place goes to the next family"), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[delete("/waitlist/{entry_id}")]
pub async fn leave_waitlist(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    state
        .write(move |conn| {
            waitlist::lock_entry(conn, id)?;
            let entry = visible_entry(conn, &principal, id)?;
            waitlist::leave(conn, &entry, Utc::now())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
