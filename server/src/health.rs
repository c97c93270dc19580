//! Liveness and readiness for load balancers and people.

use actix_web::{HttpResponse, get, web};
use diesel::connection::SimpleConnection;
use reguide_protocol::api::Health;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The process answers.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// The process answers and its database does too.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = reguide_protocol::ErrorBody)))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state
        .db(|conn| {
            conn.batch_execute("SELECT 1")
                .map_err(|e| ApiError::Unavailable(e.into()))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ready".into(),
    }))
}
