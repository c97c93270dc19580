//! `/api/v1/prisons…` for everyone signed in, and `/api/v1/admin/prisons` for administrators.

use actix_web::{HttpResponse, get, post, web};
use reguide_protocol::api::{NewPrison, Prison};

use crate::audit::{self, Object};
use crate::auth::principal::Principal;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::prisons;
use crate::state::AppState;

type Err = reguide_protocol::ErrorBody;

#[utoipa::path(get, path = "/api/v1/prisons", tag = "prisons",
    responses((status = 200, body = [Prison]), (status = 401, body = Err)),
    security(("bearer" = [])))]
#[get("/prisons")]
pub async fn list(state: web::Data<AppState>, _principal: Principal) -> ApiResult<HttpResponse> {
    let list = state.db(prisons::list_prisons).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(post, path = "/api/v1/admin/prisons", tag = "admin", request_body = NewPrison,
    responses((status = 201, body = Prison), (status = 400, body = Err), (status = 403, body = Err)),
    security(("bearer" = [])))]
#[post("/admin/prisons")]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewPrison>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let prison = state
        .write(move |conn| create_in(conn, &principal, &body))
        .await?;
    Ok(HttpResponse::Created().json(prison))
}

/// A new prison, by administrators: a name, a city and the time zone its visits are kept in.
pub fn create_in(
    conn: &mut crate::db::DbConn,
    principal: &Principal,
    body: &NewPrison,
) -> ApiResult<Prison> {
    principal.require_admin()?;
    let name = body.name.trim().to_owned();
    let city = body.city.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "invalid_value",
            "name",
            "name must have 1 to 200 characters",
        ));
    }
    if city.is_empty() || city.chars().count() > 100 {
        return Err(ApiError::invalid(
            "invalid_value",
            "city",
            "city must have 1 to 100 characters",
        ));
    }
    let tz = prisons::time_zone(&body.time_zone)?;
    let prison = prisons::create_prison(conn, &name, &city, tz)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "prison_created",
        Some(Object::new("prison", &prison.id)),
    )?;
    Ok(prison)
}
