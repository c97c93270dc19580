//! `/api/v1/living-labs…`.

use actix_web::put;
use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use reguide_protocol::Role;
use reguide_protocol::living_labs::{
    Attendance, LabAnswer, LabInvitation, LabOverview, LabSummary, LivingLab, NewInvitations,
    NewLivingLab,
};
use utoipa::OpenApi;
use uuid::Uuid;

use crate::auth::principal::Principal;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::living_labs as labs;
use crate::state::AppState;

type Err = reguide_protocol::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(overview)
        .service(invite)
        .service(answer)
        .service(cancel)
        .service(attendance)
        .service(put_summary)
        .service(get_summary)
        .service(export);
}

#[derive(Debug, OpenApi)]
#[openapi(paths(
    create,
    list,
    get_one,
    overview,
    invite,
    answer,
    cancel,
    attendance,
    put_summary,
    get_summary,
    export
))]
pub struct LivingLabsDoc;

#[utoipa::path(post, path = "/api/v1/living-labs", tag = "living_labs",
    request_body = NewLivingLab,
    responses((status = 201, description = "the session, or every session of the series", body = [LivingLab]),
        (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, description = "facilitators and administrators only", body = Err)),
    security(("bearer" = [])))]
#[post("/living-labs")]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewLivingLab>,
) -> ApiResult<HttpResponse> {
    let new = body.into_inner();
    let made = state
        .write(move |conn| create_in(conn, &principal, &new))
        .await?;
    Ok(HttpResponse::Created().json(made))
}

/// Plans a session (or a series), by facilitators and administrators.
pub fn create_in(
    conn: &mut crate::db::DbConn,
    principal: &Principal,
    new: &NewLivingLab,
) -> ApiResult<Vec<LivingLab>> {
    if !(principal.is_admin() || principal.has_role(Role::Facilitator)) {
        return Err(ApiError::Forbidden(
            "only facilitators and administrators plan Living Labs".into(),
        ));
    }
    let today = Utc::now()
        .with_timezone(&reguide_protocol::time::DEFAULT_TIME_ZONE)
        .date_naive();
    let ids = labs::create(conn, principal.account_id, new, today)?;
    ids.iter()
        .map(|id| {
            let row = labs::load(conn, *id)?;
            labs::wire(conn, &row)
        })
        .collect()
}

#[utoipa::path(get, path = "/api/v1/living-labs", tag = "living_labs",
    responses((status = 200, description = "the sessions the caller runs or is invited to, soonest first",
        body = [LivingLab]), (status = 401, body = Err)),
    security(("bearer" = [])))]
#[get("/living-labs")]
pub async fn list(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let list = state
        .db(move |conn| labs::visible(conn, &principal))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(get, path = "/api/v1/living-labs/{id}", tag = "living_labs",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = LivingLab), (status = 401, body = Err),
        (status = 404, description = "`living_lab_not_found`, also for sessions the caller neither runs nor is invited to", body = Err)),
    security(("bearer" = [])))]
#[get("/living-labs/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let lab = state
        .db(move |conn| {
            let row = labs::load(conn, id)?;
            if labs::runs(conn, &principal, &row)?
                || labs::own_invitation(conn, &principal, &row.id)?.is_some()
            {
                labs::wire(conn, &row)
            } else {
                Err(labs::not_found())
            }
        })
        .await?;
    Ok(HttpResponse::Ok().json(lab))
}

#[utoipa::path(get, path = "/api/v1/living-labs/{id}/invitations", tag = "living_labs",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "everyone invited, answers, needs and the waiting list", body = LabOverview),
        (status = 401, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/living-labs/{id}/invitations")]
pub async fn overview(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let seen = state
        .db(move |conn| {
            let lab = labs::require_runs(conn, &principal, id)?;
            labs::overview(conn, &lab)
        })
        .await?;
    Ok(HttpResponse::Ok().json(seen))
}

#[utoipa::path(post, path = "/api/v1/living-labs/{id}/invitations", tag = "living_labs",
    params(("id" = Uuid, Path)), request_body = NewInvitations,
    responses((status = 201, description = "the session with everyone invited", body = LabOverview),
        (status = 400, body = Err), (status = 401, body = Err), (status = 404, body = Err),
        (status = 409, description = "`living_lab_cancelled`, `living_lab_started`", body = Err)),
    security(("bearer" = [])))]
#[post("/living-labs/{id}/invitations")]
pub async fn invite(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewInvitations>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let who = body.into_inner();
    let seen = state
        .write(move |conn| invite_in(conn, &principal, id, &who))
        .await?;
    Ok(HttpResponse::Created().json(seen))
}

/// Invites `who` to a session the caller runs, in the caller's transaction; answers with the
/// session as its facilitators now see it.
pub fn invite_in(
    conn: &mut crate::db::DbConn,
    principal: &Principal,
    id: Uuid,
    who: &NewInvitations,
) -> ApiResult<LabOverview> {
    let lab = labs::require_runs(conn, principal, id)?;
    labs::invite(conn, &lab, who, Utc::now())?;
    crate::audit::record(
        conn,
        Some(principal.account_id),
        "living_lab_invitations_sent",
        Some(crate::audit::Object::new("living_lab", &id)),
    )?;
    labs::overview(conn, &lab)
}

#[utoipa::path(post, path = "/api/v1/living-labs/{id}/answer", tag = "living_labs",
    params(("id" = Uuid, Path)), request_body = LabAnswer,
    responses((status = 200, description = "the caller's invitation as it stands", body = LabInvitation),
        (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, description = "family members answer in the app", body = Err),
        (status = 404, body = Err),
        (status = 409, description = "`living_lab_cancelled`, `living_lab_started`", body = Err)),
    security(("bearer" = [])))]
#[post("/living-labs/{id}/answer")]
pub async fn answer(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<LabAnswer>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let reply = body.into_inner();
    let mine = state
        .write(move |conn| {
            let lab = labs::load(conn, id)?;
            let invitation =
                labs::own_invitation(conn, &principal, &lab.id)?.ok_or_else(labs::not_found)?;
            if invitation.member_id.is_some() {
                return Err(ApiError::Forbidden(
                    "family members answer in the app, where the answer also works offline".into(),
                ));
            }
            let (_, places) = labs::answer(
                conn,
                &invitation.id,
                reply.answer,
                reply.note.as_deref(),
                &reply.needs,
                Utc::now(),
            )?;
            labs::write_places(conn, &places)?;
            labs::invitation_wire(conn, &invitation.id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(mine))
}

#[utoipa::path(post, path = "/api/v1/living-labs/{id}/cancel", tag = "living_labs",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "the session, cancelled; those with a place are told", body = LivingLab),
        (status = 401, body = Err), (status = 404, body = Err),
        (status = 409, description = "`living_lab_cancelled`, `living_lab_started`", body = Err)),
    security(("bearer" = [])))]
#[post("/living-labs/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let lab = state
        .write(move |conn| {
            let lab = labs::require_runs(conn, &principal, id)?;
            labs::cancel(conn, &lab, Utc::now())?;
            crate::audit::record(
                conn,
                Some(principal.account_id),
                "living_lab_cancelled",
                Some(crate::audit::Object::new("living_lab", &id)),
            )?;
            let lab = labs::load(conn, id)?;
            labs::wire(conn, &lab)
        })
        .await?;
    Ok(HttpResponse::Ok().json(lab))
}

#[utoipa::path(put, path = "/api/v1/living-labs/{id}/attendance", tag = "living_labs",
    params(("id" = Uuid, Path)), request_body = Attendance,
    responses((status = 200, body = LabOverview), (status = 400, body = Err),
        (status = 401, body = Err), (status = 404, body = Err),
        (status = 409, description = "`living_lab_not_started`", body = Err)),
    security(("bearer" = [])))]
#[put("/living-labs/{id}/attendance")]
pub async fn attendance(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<Attendance>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let attended = body.into_inner().attended;
    let seen = state
        .write(move |conn| attendance_in(conn, &principal, id, &attended))
        .await?;
    Ok(HttpResponse::Ok().json(seen))
}

/// Who attended a session that has started (the others did not), by its facilitators.
pub fn attendance_in(
    conn: &mut crate::db::DbConn,
    principal: &Principal,
    id: Uuid,
    attended: &[Uuid],
) -> ApiResult<LabOverview> {
    let lab = labs::require_runs(conn, principal, id)?;
    labs::record_attendance(conn, &lab, attended, Utc::now())?;
    labs::overview(conn, &lab)
}

#[utoipa::path(put, path = "/api/v1/living-labs/{id}/summary", tag = "living_labs",
    params(("id" = Uuid, Path)), request_body = LabSummary,
    responses((status = 200, body = LabSummary), (status = 400, body = Err),
        (status = 401, body = Err), (status = 404, body = Err),
        (status = 409, description = "`attendance_not_recorded`", body = Err)),
    security(("bearer" = [])))]
#[put("/living-labs/{id}/summary")]
pub async fn put_summary(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<LabSummary>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let text = body.into_inner();
    let published = state
        .write(move |conn| summary_in(conn, &principal, id, &text))
        .await?;
    Ok(HttpResponse::Ok().json(published))
}

/// Publishes what was agreed and the next steps, for those who attended; by facilitators.
pub fn summary_in(
    conn: &mut crate::db::DbConn,
    principal: &Principal,
    id: Uuid,
    text: &LabSummary,
) -> ApiResult<LabSummary> {
    let lab = labs::require_runs(conn, principal, id)?;
    labs::publish_summary(conn, &lab, &text.summary, &text.next_steps)?;
    let lab = labs::load(conn, id)?;
    labs::summary_for(conn, principal, &lab)
}

#[utoipa::path(get, path = "/api/v1/living-labs/{id}/summary", tag = "living_labs",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = LabSummary), (status = 401, body = Err),
        (status = 403, description = "invited, but did not attend", body = Err),
        (status = 404, description = "`living_lab_not_found`, `summary_not_published`", body = Err)),
    security(("bearer" = [])))]
#[get("/living-labs/{id}/summary")]
pub async fn get_summary(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let summary = state
        .db(move |conn| {
            let lab = labs::load(conn, id)?;
            labs::summary_for(conn, &principal, &lab)
        })
        .await?;
    Ok(HttpResponse::Ok().json(summary))
}

#[utoipa::path(get, path = "/api/v1/living-labs/{id}/invitations.csv", tag = "living_labs",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "everyone invited, for a spreadsheet", content_type = "text/csv"),
        (status = 401, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/living-labs/{id}/invitations.csv")]
pub async fn export(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let body = state
        .db(move |conn| {
            let lab = labs::require_runs(conn, &principal, id)?;
            labs::csv(conn, &lab)
        })
        .await?;
    Ok(crate::csv::attachment("living-lab-invitations.csv", body))
}
