//! `/api/v1/families/{id}/appointments…`.

use actix_web::{HttpResponse, get, post, web};
use chrono::Utc;
use reguide_protocol::FamilyId;
use reguide_protocol::appointments::{
    AppointmentAnswerRequest, AppointmentDetail, NewAppointmentRequest,
};
use utoipa::OpenApi;
use uuid::Uuid;

use crate::appointments;
use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::json::Json;
use crate::state::AppState;
use crate::steps;
use crate::sync::store;

type Err = reguide_protocol::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_appointments)
        .service(propose_appointment)
        .service(answer_appointment);
}

#[derive(Debug, OpenApi)]
#[openapi(paths(list_appointments, propose_appointment, answer_appointment))]
pub struct AppointmentsDoc;

fn current(conn: &mut DbConn, family: FamilyId) -> ApiResult<Vec<AppointmentDetail>> {
    store::view(conn, family, appointments::all)
}

#[utoipa::path(get, path = "/api/v1/families/{family_id}/appointments", tag = "steps",
    params(("family_id" = Uuid, Path)),
    responses((status = 200, description = "soonest first", body = [AppointmentDetail]),
        (status = 401, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/families/{family_id}/appointments")]
pub async fn list_appointments(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    steps::access(&principal, family)?;
    let list = state.db(move |conn| current(conn, family)).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/appointments", tag = "steps",
    params(("family_id" = Uuid, Path)), request_body = NewAppointmentRequest,
    responses((status = 201, body = AppointmentDetail), (status = 400, body = Err),
        (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/appointments")]
pub async fn propose_appointment(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewAppointmentRequest>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    steps::require_write(&principal, family)?;
    let request = body.into_inner();
    let staff = principal.account_id;
    let made = state
        .write(move |conn| appointments::propose_and_tell(conn, family, request, staff, Utc::now()))
        .await?;
    Ok(HttpResponse::Created().json(made))
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/appointments/{appointment_id}/answer",
    tag = "steps",
    params(("family_id" = Uuid, Path), ("appointment_id" = String, Path)),
    request_body = AppointmentAnswerRequest,
    responses((status = 200, body = AppointmentDetail), (status = 400, body = Err),
        (status = 403, description = "another worker's appointment", body = Err),
        (status = 404, body = Err),
        (status = 409, description = "`nothing_to_answer`: the family answers your proposal; \
            `appointment_cancelled`", body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/appointments/{appointment_id}/answer")]
pub async fn answer_appointment(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
    body: Json<AppointmentAnswerRequest>,
) -> ApiResult<HttpResponse> {
    let (family, id) = path.into_inner();
    let family = FamilyId(family);
    steps::require_write(&principal, family)?;
    let request = body.into_inner();
    let staff = principal.account_id;
    let answered = state
        .write(move |conn| {
            appointments::answer_and_tell(conn, family, &id, request, staff, Utc::now())
        })
        .await?;
    Ok(HttpResponse::Ok().json(answered))
}
