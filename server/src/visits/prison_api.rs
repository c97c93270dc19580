//! The prison side of visits: practical information and rules, weekly sessions, blocked
//! dates, open slots and coordinators' day lists.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{Duration, NaiveDate, Utc};
use reguide_protocol::PrisonId;
use reguide_protocol::visits::{
    BlockedDate, DayView, NewBlockedDate, NewSessionTemplate, PrisonDetail, PrisonInfo,
    SessionTemplate, Slot, VisitRules, VisitType,
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::audit::{self, Object};
use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use crate::visits::access::require_prison_manager;
use crate::visits::{dayview, rules, slots};

type Err = reguide_protocol::ErrorBody;

/// The longest range of slots one call computes.
const MAX_SLOT_DAYS: i64 = 92;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(prison_detail)
        .service(update_prison)
        .service(put_rules)
        .service(delete_rules)
        .service(list_templates)
        .service(create_template)
        .service(update_template)
        .service(delete_template)
        .service(list_blocked)
        .service(block_date)
        .service(unblock)
        .service(open_slots)
        .service(day)
        .service(day_csv);
}

#[utoipa::path(get, path = "/api/v1/prisons/{prison_id}", tag = "prisons", params(("prison_id" = Uuid, Path)),
    responses((status = 200, description = "the prison with its visit rules and practical advice", body = PrisonDetail),
        (status = 401, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/prisons/{prison_id}")]
pub async fn prison_detail(
    state: web::Data<AppState>,
    _principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = PrisonId(path.into_inner());
    let detail = state.db(move |conn| rules::load_detail(conn, id)).await?;
    Ok(HttpResponse::Ok().json(detail))
}

#[utoipa::path(put, path = "/api/v1/prisons/{prison_id}", tag = "prisons", params(("prison_id" = Uuid, Path)),
    request_body = PrisonInfo,
    responses((status = 200, body = PrisonDetail), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[put("/prisons/{prison_id}")]
pub async fn update_prison(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<PrisonInfo>,
) -> ApiResult<HttpResponse> {
    let id = PrisonId(path.into_inner());
    let info = body.into_inner();
    let detail = state
        .write(move |conn| update_info_in(conn, &principal, id, &info))
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// A prison's practical information for families, by its coordinators and administrators.
pub fn update_info_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: PrisonId,
    info: &PrisonInfo,
) -> ApiResult<PrisonDetail> {
    require_prison_manager(principal, id)?;
    rules::update_info(conn, id, info)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "prison_updated",
        Some(Object::new("prison", &id)),
    )?;
    rules::load_detail(conn, id)
}

#[utoipa::path(put, path = "/api/v1/prisons/{prison_id}/rules", tag = "prisons", params(("prison_id" = Uuid, Path)),
    request_body = VisitRules,
    responses((status = 200, body = PrisonDetail), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[put("/prisons/{prison_id}/rules")]
pub async fn put_rules(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<VisitRules>,
) -> ApiResult<HttpResponse> {
    let id = PrisonId(path.into_inner());
    let visit_rules = body.into_inner();
    let detail = state
        .write(move |conn| put_rules_in(conn, &principal, id, &visit_rules))
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Sets a prison's rules for one visit type, by its coordinators and administrators.
pub fn put_rules_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: PrisonId,
    visit_rules: &VisitRules,
) -> ApiResult<PrisonDetail> {
    require_prison_manager(principal, id)?;
    rules::load_prison_ref(conn, id)?;
    rules::put_rules(conn, id, visit_rules)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "visit_rules_set",
        Some(Object::new("prison", &id)),
    )?;
    rules::load_detail(conn, id)
}

#[utoipa::path(delete, path = "/api/v1/prisons/{prison_id}/rules/{visit_type}", tag = "prisons",
    params(("prison_id" = Uuid, Path), ("visit_type" = VisitType, Path)),
    responses((status = 204, description = "the prison no longer offers this visit type"), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[delete("/prisons/{prison_id}/rules/{visit_type}")]
pub async fn delete_rules(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, VisitType)>,
) -> ApiResult<HttpResponse> {
    let (id, visit_type) = path.into_inner();
    let id = PrisonId(id);
    require_prison_manager(&principal, id)?;
    state
        .write(move |conn| {
            rules::delete_rules(conn, id, visit_type)?;
            audit::record(
                conn,
                Some(principal.account_id),
                "visit_rules_removed",
                Some(Object::new("prison", &id)),
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/prisons/{prison_id}/session-templates", tag = "prisons", params(("prison_id" = Uuid, Path)),
    responses((status = 200, body = [SessionTemplate]), (status = 404, body = Err)), security(("bearer" = [])))]
#[get("/prisons/{prison_id}/session-templates")]
pub async fn list_templates(
    state: web::Data<AppState>,
    _principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = PrisonId(path.into_inner());
    let list = state.db(move |conn| templates_of(conn, id)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A prison's weekly sessions (public: families see them as slots).
pub fn templates_of(conn: &mut DbConn, id: PrisonId) -> ApiResult<Vec<SessionTemplate>> {
    rules::load_prison_ref(conn, id)?;
    Ok(slots::load_templates(conn, &id.to_string())?
        .iter()
        .map(|t| rules::to_template(id, t))
        .collect())
}

#[utoipa::path(post, path = "/api/v1/prisons/{prison_id}/session-templates", tag = "prisons", params(("prison_id" = Uuid, Path)),
    request_body = NewSessionTemplate,
    responses((status = 201, body = SessionTemplate), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/prisons/{prison_id}/session-templates")]
pub async fn create_template(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewSessionTemplate>,
) -> ApiResult<HttpResponse> {
    let id = PrisonId(path.into_inner());
    let new = body.into_inner();
    let template = state
        .write(move |conn| create_template_in(conn, &principal, id, &new))
        .await?;
    Ok(HttpResponse::Created().json(template))
}

/// A new weekly session of a prison, by its coordinators and administrators.
pub fn create_template_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: PrisonId,
    new: &NewSessionTemplate,
) -> ApiResult<SessionTemplate> {
    require_prison_manager(principal, id)?;
    rules::load_prison_ref(conn, id)?;
    let template = rules::create_template(conn, id, new)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "session_template_created",
        Some(Object::new("session_template", &template.id)),
    )?;
    Ok(template)
}

#[utoipa::path(put, path = "/api/v1/session-templates/{template_id}", tag = "prisons", params(("template_id" = Uuid, Path)),
    request_body = NewSessionTemplate,
    responses((status = 200, body = SessionTemplate), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[put("/session-templates/{template_id}")]
pub async fn update_template(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewSessionTemplate>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let new = body.into_inner();
    let template = state
        .write(move |conn| {
            let prison = rules::template_prison(conn, id)?;
            require_prison_manager(&principal, prison)?;
            let template = rules::update_template(conn, prison, id, &new)?;
            audit::record(
                conn,
                Some(principal.account_id),
                "session_template_updated",
                Some(Object::new("session_template", &id)),
            )?;
            Ok(template)
        })
        .await?;
    Ok(HttpResponse::Ok().json(template))
}

#[utoipa::path(delete, path = "/api/v1/session-templates/{template_id}", tag = "prisons", params(("template_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Err), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[delete("/session-templates/{template_id}")]
pub async fn delete_template(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    state
        .write(move |conn| delete_template_in(conn, &principal, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a weekly session (refused while visits are booked in it); answers its prison.
pub fn delete_template_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<PrisonId> {
    let prison = rules::template_prison(conn, id)?;
    require_prison_manager(principal, prison)?;
    rules::delete_template(conn, id)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "session_template_deleted",
        Some(Object::new("session_template", &id)),
    )?;
    Ok(prison)
}

#[utoipa::path(get, path = "/api/v1/prisons/{prison_id}/blocked-dates", tag = "prisons", params(("prison_id" = Uuid, Path)),
    responses((status = 200, body = [BlockedDate]), (status = 403, body = Err), (status = 404, body = Err)), security(("bearer" = [])))]
#[get("/prisons/{prison_id}/blocked-dates")]
pub async fn list_blocked(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = PrisonId(path.into_inner());
    let list = state
        .db(move |conn| blocked_of(conn, &principal, id))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A prison's blocked dates from today, for its coordinators and administrators.
pub fn blocked_of(
    conn: &mut DbConn,
    principal: &Principal,
    id: PrisonId,
) -> ApiResult<Vec<BlockedDate>> {
    require_prison_manager(principal, id)?;
    let prison = rules::load_prison_ref(conn, id)?;
    rules::list_blocked(conn, id, Utc::now().with_timezone(&prison.tz).date_naive())
}

#[utoipa::path(post, path = "/api/v1/prisons/{prison_id}/blocked-dates", tag = "prisons", params(("prison_id" = Uuid, Path)),
    request_body = NewBlockedDate,
    responses((status = 201, description = "blocked; visits already on that date are flagged", body = BlockedDate),
        (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/prisons/{prison_id}/blocked-dates")]
pub async fn block_date(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewBlockedDate>,
) -> ApiResult<HttpResponse> {
    let id = PrisonId(path.into_inner());
    let block = body.into_inner();
    let blocked = state
        .write(move |conn| block_date_in(conn, &principal, id, &block))
        .await?;
    Ok(HttpResponse::Created().json(blocked))
}

/// Blocks a date (or one session on it) of a prison; the visits already booked are flagged.
pub fn block_date_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: PrisonId,
    block: &NewBlockedDate,
) -> ApiResult<BlockedDate> {
    require_prison_manager(principal, id)?;
    let prison = rules::load_prison_ref(conn, id)?;
    let blocked = rules::block_date(conn, &prison, block, principal.account_id)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "date_blocked",
        Some(Object::new("prison", &id)),
    )?;
    Ok(blocked)
}

#[utoipa::path(delete, path = "/api/v1/blocked-dates/{blocked_id}", tag = "prisons", params(("blocked_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Err), (status = 404, body = Err)), security(("bearer" = [])))]
#[delete("/blocked-dates/{blocked_id}")]
pub async fn unblock(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    state
        .write(move |conn| unblock_in(conn, &principal, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lifts a blocked date; answers its prison.
pub fn unblock_in(conn: &mut DbConn, principal: &Principal, id: Uuid) -> ApiResult<PrisonId> {
    let prison = rules::blocked_date_prison(conn, id)?;
    require_prison_manager(principal, prison)?;
    rules::unblock(conn, id)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "date_unblocked",
        Some(Object::new("prison", &prison)),
    )?;
    Ok(prison)
}

/// A prison's slots from `from` (default today) to `to` (default four weeks on), with their
/// open places, in time order.
pub fn slots_between(
    conn: &mut DbConn,
    id: PrisonId,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    visit_type: Option<VisitType>,
) -> ApiResult<Vec<Slot>> {
    let prison = rules::load_prison_ref(conn, id)?;
    let now = Utc::now();
    let from = from.unwrap_or_else(|| now.with_timezone(&prison.tz).date_naive());
    let to = to.unwrap_or(from + Duration::days(27));
    if to < from || (to - from).num_days() >= MAX_SLOT_DAYS {
        return Err(ApiError::invalid(
            "invalid_range",
            "to",
            format!("give a range of 1 to {MAX_SLOT_DAYS} days"),
        ));
    }
    let rules = rules::load_rules(conn, id)?;
    let inputs = slots::load_inputs(conn, &id.to_string(), prison.tz, rules, from, to)?;
    Ok(inputs.slots(from, to, visit_type, now))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SlotRange {
    /// First date (prison's calendar); default today.
    from: Option<NaiveDate>,
    /// Last date, inclusive; default four weeks after `from`. At most 92 days.
    to: Option<NaiveDate>,
    /// Only this visit type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    visit_type: Option<VisitType>,
}

#[utoipa::path(get, path = "/api/v1/prisons/{prison_id}/slots", tag = "prisons", params(("prison_id" = Uuid, Path), SlotRange),
    responses((status = 200, description = "slots with their open places, in time order", body = [Slot]),
        (status = 400, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/prisons/{prison_id}/slots")]
pub async fn open_slots(
    state: web::Data<AppState>,
    _principal: Principal,
    path: web::Path<Uuid>,
    range: web::Query<SlotRange>,
) -> ApiResult<HttpResponse> {
    let id = PrisonId(path.into_inner());
    let range = range.into_inner();
    let list = state
        .db(move |conn| slots_between(conn, id, range.from, range.to, range.visit_type))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    date: NaiveDate,
}

#[utoipa::path(get, path = "/api/v1/prisons/{prison_id}/day", tag = "prisons", params(("prison_id" = Uuid, Path), DayQuery),
    responses((status = 200, body = DayView), (status = 403, body = Err), (status = 404, body = Err)), security(("bearer" = [])))]
#[get("/prisons/{prison_id}/day")]
pub async fn day(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: web::Query<DayQuery>,
) -> ApiResult<HttpResponse> {
    let view = load_day(&state, principal, path.into_inner(), query.date).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(get, path = "/api/v1/prisons/{prison_id}/day.csv", tag = "prisons", params(("prison_id" = Uuid, Path), DayQuery),
    responses((status = 200, description = "the day list as CSV", content_type = "text/csv"), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/prisons/{prison_id}/day.csv")]
pub async fn day_csv(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: web::Query<DayQuery>,
) -> ApiResult<HttpResponse> {
    let date = query.date;
    let view = load_day(&state, principal, path.into_inner(), date).await?;
    Ok(crate::csv::attachment(
        &format!("visits-{date}.csv"),
        dayview::day_csv(&view),
    ))
}

async fn load_day(
    state: &AppState,
    principal: Principal,
    prison: Uuid,
    date: NaiveDate,
) -> ApiResult<DayView> {
    let id = PrisonId(prison);
    require_prison_manager(&principal, id)?;
    state
        .write(move |conn| read_day(conn, &principal, id, date))
        .await
}

/// A prison's day list for its coordinators and administrators; the reading is recorded, as a
/// day list names families and visitors.
pub fn read_day(
    conn: &mut DbConn,
    principal: &Principal,
    id: PrisonId,
    date: NaiveDate,
) -> ApiResult<DayView> {
    require_prison_manager(principal, id)?;
    let prison = rules::load_prison_ref(conn, id)?;
    let view = dayview::day_view(conn, &prison, date)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "day_list_viewed",
        Some(Object::new("prison", &id)),
    )?;
    Ok(view)
}
