//! `/api/v1/family-days…` and `/api/v1/prisons/{id}/family-days`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{NaiveDate, NaiveTime, Timelike};
use reguide_protocol::family_days::{
    FamilyDay, FamilyDayUpdate, NewFamilyDay, NewRegistration, Registration,
};
use reguide_protocol::{FamilyId, PrisonId};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use uuid::Uuid;

use crate::audit::{self, Object};
use crate::auth::principal::Principal;
use crate::db::{DbConn, now};
use crate::error::{ApiError, ApiResult};
use crate::family_days::access::{self, Acting, Canceller};
use crate::family_days::{self as days, DayChanges, DayFilter, DayInput, RegistrationInput};
use crate::json::Json;
use crate::state::AppState;
use crate::text::{free_text, line};

type Err = reguide_protocol::ErrorBody;

/// Registers this module's routes under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_day)
        .service(list_days)
        .service(get_day)
        .service(update_day)
        .service(cancel_day)
        .service(register)
        .service(list_registrations)
        .service(export_registrations)
        .service(cancel_registration)
        .service(family_registrations);
}

#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        create_day,
        list_days,
        get_day,
        update_day,
        cancel_day,
        register,
        list_registrations,
        export_registrations,
        cancel_registration,
        family_registrations,
    ),
    tags((name = "family_days", description = "Family days at prisons and families' registrations"))
)]
pub struct FamilyDaysDoc;

// ------------------------------------------------------------------ input checks

fn invalid(field: &'static str, message: &'static str) -> ApiError {
    ApiError::invalid("invalid_value", field, message)
}

/// Times are minutes of the day: `HH:MM`.
fn minute(time: NaiveTime, field: &'static str) -> ApiResult<NaiveTime> {
    if time.second() != 0 || time.nanosecond() != 0 {
        return Err(invalid(field, "give the time as HH:MM, without seconds"));
    }
    Ok(time)
}

const MAX_CAPACITY_FAMILIES: i32 = 1_000;
const MAX_CAPACITY_PEOPLE: i32 = 10_000;

fn check_capacities(families: Option<i32>, people: Option<i32>) -> ApiResult<()> {
    if families.is_some_and(|f| !(1..=MAX_CAPACITY_FAMILIES).contains(&f)) {
        return Err(invalid(
            "capacity_families",
            "capacity_families must be between 1 and 1000",
        ));
    }
    if people.is_some_and(|p| !(1..=MAX_CAPACITY_PEOPLE).contains(&p)) {
        return Err(invalid(
            "capacity_people",
            "capacity_people must be between 1 and 10000",
        ));
    }
    if let (Some(f), Some(p)) = (families, people)
        && p < f
    {
        return Err(invalid(
            "capacity_people",
            "capacity_people must be at least capacity_families: every family is one person or more",
        ));
    }
    Ok(())
}

/// The checks of a new day that need no database.
fn check_new_day(body: NewFamilyDay) -> ApiResult<DayInput> {
    let title = line(&body.title, "title", 200)?;
    let programme = free_text(&body.programme, "programme", 4000)?;
    let starts = minute(body.starts_at, "starts_at")?;
    let ends = minute(body.ends_at, "ends_at")?;
    if starts >= ends {
        return Err(invalid("ends_at", "the day must end after it starts"));
    }
    check_capacities(Some(body.capacity_families), Some(body.capacity_people))?;
    if body.min_child_age < 0 {
        return Err(invalid("min_child_age", "min_child_age cannot be negative"));
    }
    if body.max_child_age > 17 {
        return Err(invalid(
            "max_child_age",
            "max_child_age is at most 17: from 18 a visitor is an adult",
        ));
    }
    if body.min_child_age > body.max_child_age {
        return Err(invalid(
            "max_child_age",
            "max_child_age must be at least min_child_age",
        ));
    }
    Ok(DayInput {
        title,
        date: body.date,
        starts,
        ends,
        programme,
        capacity_families: body.capacity_families,
        capacity_people: body.capacity_people,
        min_child_age: body.min_child_age,
        max_child_age: body.max_child_age,
        registration_deadline: body.registration_deadline.naive_utc(),
    })
}

/// The checks of a new day against the prison's calendar.
fn check_dates(input: &DayInput, tz: chrono_tz::Tz) -> ApiResult<()> {
    if input.date < days::today_in(tz) {
        return Err(invalid(
            "date",
            "the date of a family day cannot be in the past",
        ));
    }
    let starts = days::local_instant(tz, input.date, input.starts).naive_utc();
    if input.registration_deadline >= starts {
        return Err(invalid(
            "registration_deadline",
            "the registration deadline must be before the day starts",
        ));
    }
    if input.registration_deadline <= now() {
        return Err(invalid(
            "registration_deadline",
            "the registration deadline has already passed",
        ));
    }
    Ok(())
}

pub(crate) fn check_registration(body: NewRegistration) -> ApiResult<RegistrationInput> {
    let max = days::MAX_PEOPLE_PER_FAMILY;
    if body.adults < 1 {
        return Err(invalid("adults", "a family comes with at least one adult"));
    }
    if body.adults > max {
        return Err(ApiError::invalid(
            "invalid_value",
            "adults",
            format!("a family brings at most {max} people"),
        ));
    }
    if body.children < 0 {
        return Err(invalid("children", "children cannot be negative"));
    }
    if body.adults + body.children > max {
        return Err(ApiError::invalid(
            "invalid_value",
            "children",
            format!("a family brings at most {max} people, adults and children together"),
        ));
    }
    let note = body
        .note
        .as_deref()
        .map(|n| free_text(n, "note", 500))
        .transpose()?
        .filter(|n| !n.is_empty());
    Ok(RegistrationInput {
        family: body.family_id,
        adults: body.adults,
        children: body.children,
        wait_if_full: body.wait_if_full,
        note,
    })
}

/// Records, as done by nobody in particular, the waiting families a change let in.
pub(crate) fn audit_promotions(conn: &mut DbConn, promoted: &[String]) -> ApiResult<()> {
    for id in promoted {
        audit::record(
            conn,
            None,
            "family_day_registration_promoted",
            Some(Object::new("family_day_registration", id)),
        )?;
    }
    Ok(())
}

// ------------------------------------------------------------------ days

#[utoipa::path(post, path = "/api/v1/prisons/{prison_id}/family-days", tag = "family_days",
    params(("prison_id" = Uuid, Path)), request_body = NewFamilyDay,
    responses((status = 201, body = FamilyDay), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/prisons/{prison_id}/family-days")]
pub async fn create_day(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewFamilyDay>,
) -> ApiResult<HttpResponse> {
    let prison = PrisonId(path.into_inner());
    let body = body.into_inner();
    let day = state
        .write(move |conn| create_day_in(conn, &principal, prison, body))
        .await?;
    Ok(HttpResponse::Created().json(day))
}

/// A new family day at a prison, by its coordinators and administrators.
pub fn create_day_in(
    conn: &mut DbConn,
    principal: &Principal,
    prison: PrisonId,
    body: NewFamilyDay,
) -> ApiResult<FamilyDay> {
    let tz = days::prison_zone(conn, &prison.to_string())?;
    access::require_manage_day(principal, prison)?;
    let input = check_new_day(body)?;
    check_dates(&input, tz)?;
    let day = days::insert_day(conn, prison, tz, &input, principal.account_id)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "family_day_created",
        Some(Object::new("family_day", &day.row.id)),
    )?;
    day.to_wire(0)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    /// Only days at this prison.
    prison_id: Option<Uuid>,
    /// Only days on or after this date (default: today).
    from: Option<NaiveDate>,
    /// Only days on or before this date.
    to: Option<NaiveDate>,
    /// Also cancelled days (default: false).
    include_cancelled: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/family-days", tag = "family_days", params(DayQuery),
    responses((status = 200, description = "days by date, upcoming by default", body = [FamilyDay]),
        (status = 400, body = Err), (status = 401, body = Err)),
    security(("bearer" = [])))]
#[get("/family-days")]
pub async fn list_days(
    state: web::Data<AppState>,
    _principal: Principal,
    query: web::Query<DayQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    if let (Some(from), Some(to)) = (q.from, q.to)
        && to < from
    {
        return Err(invalid("to", "to must not be before from"));
    }
    let filter = DayFilter {
        prison: q.prison_id.map(PrisonId),
        from: q.from,
        to: q.to,
        include_cancelled: q.include_cancelled.unwrap_or(false),
    };
    let list = state.db(move |conn| days::list_days(conn, &filter)).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(get, path = "/api/v1/family-days/{day_id}", tag = "family_days",
    params(("day_id" = Uuid, Path)),
    responses((status = 200, body = FamilyDay), (status = 401, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/family-days/{day_id}")]
pub async fn get_day(
    state: web::Data<AppState>,
    _principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let day = state
        .db(move |conn| {
            let day = days::load_day(conn, id)?;
            days::day_wire(conn, &day)
        })
        .await?;
    Ok(HttpResponse::Ok().json(day))
}

/// `PATCH /api/v1/family-days/{id}`: what may change of a day once families register for it.
/// Date and times stay: cancel the day and create another to move it.

#[utoipa::path(patch, path = "/api/v1/family-days/{day_id}", tag = "family_days",
    params(("day_id" = Uuid, Path)), request_body = FamilyDayUpdate,
    responses((status = 200, body = FamilyDay), (status = 400, body = Err), (status = 401, body = Err),
        (status = 403, body = Err), (status = 404, body = Err),
        (status = 409, description = "cancelled, or capacity below what is registered", body = Err)),
    security(("bearer" = [])))]
#[patch("/family-days/{day_id}")]
pub async fn update_day(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<FamilyDayUpdate>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let body = body.into_inner();
    let day = state
        .write(move |conn| {
            let day = days::lock_day(conn, id)?;
            access::require_manage_day(&principal, day.prison_id)?;
            check_capacities(body.capacity_families, body.capacity_people)?;
            let changes = DayChanges {
                title: body
                    .title
                    .as_deref()
                    .map(|t| line(t, "title", 200))
                    .transpose()?,
                programme: body
                    .programme
                    .as_deref()
                    .map(|p| free_text(p, "programme", 4000))
                    .transpose()?,
                capacity_families: body.capacity_families,
                capacity_people: body.capacity_people,
                registration_deadline: body.registration_deadline.map(|d| d.naive_utc()),
            };
            if day.row.cancelled {
                return Err(days::day_cancelled());
            }
            let promoted = days::update_day(conn, &day, &changes)?;
            audit::record(
                conn,
                Some(principal.account_id),
                "family_day_updated",
                Some(Object::new("family_day", &day.row.id)),
            )?;
            audit_promotions(conn, &promoted)?;
            let day = days::load_day(conn, id)?;
            days::day_wire(conn, &day)
        })
        .await?;
    Ok(HttpResponse::Ok().json(day))
}

#[utoipa::path(post, path = "/api/v1/family-days/{day_id}/cancel", tag = "family_days",
    params(("day_id" = Uuid, Path)),
    responses((status = 200, description = "the day, cancelled with all its registrations", body = FamilyDay),
        (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err),
        (status = 409, description = "already cancelled, or started", body = Err)),
    security(("bearer" = [])))]
#[post("/family-days/{day_id}/cancel")]
pub async fn cancel_day(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let day = state
        .write(move |conn| cancel_day_in(conn, &principal, id))
        .await?;
    Ok(HttpResponse::Ok().json(day))
}

/// Calls a family day off before it starts, by its organisers; the families are told.
pub fn cancel_day_in(conn: &mut DbConn, principal: &Principal, id: Uuid) -> ApiResult<FamilyDay> {
    let day = days::lock_day(conn, id)?;
    access::require_manage_day(principal, day.prison_id)?;
    if day.row.cancelled {
        return Err(days::day_cancelled());
    }
    if day.started(now()) {
        return Err(days::day_started());
    }
    days::cancel_day(conn, &day, principal.account_id)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "family_day_cancelled",
        Some(Object::new("family_day", &day.row.id)),
    )?;
    let day = days::load_day(conn, id)?;
    days::day_wire(conn, &day)
}

// ------------------------------------------------------------------ registrations

#[utoipa::path(post, path = "/api/v1/family-days/{day_id}/registrations", tag = "family_days",
    params(("day_id" = Uuid, Path)), request_body = NewRegistration,
    responses((status = 201, description = "registered, or waiting with its position", body = Registration),
        (status = 400, body = Err), (status = 401, body = Err), (status = 404, body = Err),
        (status = 409, description = "family_day_cancelled, registration_closed, already_registered, \
            group_too_large or family_day_full", body = Err)),
    security(("bearer" = [])))]
#[post("/family-days/{day_id}/registrations")]
pub async fn register(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewRegistration>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let input = check_registration(body.into_inner())?;
    let registration = state
        .write(move |conn| {
            let acting = access::require_register(conn, &principal, input.family)?;
            let day = days::lock_day(conn, id)?;
            let registration = days::register(conn, &day, &input, principal.account_id)?;
            if acting == Acting::Staff {
                audit::record(
                    conn,
                    Some(principal.account_id),
                    "family_day_registration_created",
                    Some(Object::new("family_day_registration", &registration.id)),
                )?;
            }
            Ok(registration)
        })
        .await?;
    Ok(HttpResponse::Created().json(registration))
}

/// The registrations of a day for its organisers; the read is audited.
async fn registrations_for_organiser(
    state: &AppState,
    principal: Principal,
    id: Uuid,
    action: &'static str,
) -> ApiResult<(days::Day, Vec<Registration>)> {
    state
        .write(move |conn| registrations_in(conn, &principal, id, action))
        .await
}

/// A day's registrations for its organisers, then the waiting list in order; the reading is
/// recorded as `action`.
pub fn registrations_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: Uuid,
    action: &'static str,
) -> ApiResult<(days::Day, Vec<Registration>)> {
    let day = days::load_day(conn, id)?;
    access::require_manage_day(principal, day.prison_id)?;
    let list = days::day_registrations(conn, day.id())?;
    audit::record(
        conn,
        Some(principal.account_id),
        action,
        Some(Object::new("family_day", &day.row.id)),
    )?;
    Ok((day, list))
}

#[utoipa::path(get, path = "/api/v1/family-days/{day_id}/registrations", tag = "family_days",
    params(("day_id" = Uuid, Path)),
    responses((status = 200, description = "registered families, then the waiting list in order",
            body = [Registration]),
        (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/family-days/{day_id}/registrations")]
pub async fn list_registrations(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let (_, list) = registrations_for_organiser(
        &state,
        principal,
        path.into_inner(),
        "family_day_registrations_viewed",
    )
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(get, path = "/api/v1/family-days/{day_id}/registrations.csv", tag = "family_days",
    params(("day_id" = Uuid, Path)),
    responses((status = 200, description = "the registration list as CSV (UTF-8 with a byte order mark)",
            content_type = "text/csv", body = String),
        (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/family-days/{day_id}/registrations.csv")]
pub async fn export_registrations(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let (day, list) = registrations_for_organiser(
        &state,
        principal,
        path.into_inner(),
        "family_day_registrations_exported",
    )
    .await?;
    let csv = days::export::registrations_csv(&list, day.tz);
    Ok(crate::csv::attachment(
        &format!("family-day-{}.csv", day.row.date),
        csv,
    ))
}

#[utoipa::path(delete, path = "/api/v1/family-days/{day_id}/registrations/{registration_id}",
    tag = "family_days", params(("day_id" = Uuid, Path), ("registration_id" = Uuid, Path)),
    responses((status = 204, description = "cancelled; waiting families that fit are registered"),
        (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err),
        (status = 409, description = "registration_closed (families, after the deadline), \
            family_day_started (staff) or registration_cancelled", body = Err)),
    security(("bearer" = [])))]
#[delete("/family-days/{day_id}/registrations/{registration_id}")]
pub async fn cancel_registration(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (day_id, registration_id) = path.into_inner();
    state
        .write(move |conn| {
            let day = days::lock_day(conn, day_id)?;
            let row = days::registration_of_day(conn, &day, registration_id)?;
            let family: FamilyId = crate::auth::principal::parse_id(&row.family_id)?;
            let canceller =
                access::require_cancel_registration(conn, &principal, day.prison_id, family)?;
            let at = now();
            match canceller {
                Canceller::Member if !day.registration_open(at) => {
                    return Err(days::registration_closed());
                }
                Canceller::Staff if day.started(at) => return Err(days::day_started()),
                _ => {}
            }
            let promoted = days::cancel_registration(conn, &day, &row, principal.account_id)?;
            if canceller == Canceller::Staff && principal.member_in(family).is_none() {
                audit::record(
                    conn,
                    Some(principal.account_id),
                    "family_day_registration_cancelled",
                    Some(Object::new("family_day_registration", &row.id)),
                )?;
            }
            audit_promotions(conn, &promoted)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/families/{family_id}/family-day-registrations",
    tag = "family_days", params(("family_id" = Uuid, Path)),
    responses((status = 200, description = "the family's registrations, latest days first",
            body = [Registration]),
        (status = 401, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/families/{family_id}/family-day-registrations")]
pub async fn family_registrations(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    let list = state
        .write(move |conn| {
            let acting = access::require_read_family(conn, &principal, family)?;
            let list = days::family_registrations(conn, family)?;
            if acting == Acting::Staff {
                audit::record(
                    conn,
                    Some(principal.account_id),
                    "family_day_registrations_viewed",
                    Some(Object::new("family", &family)),
                )?;
            }
            Ok(list)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
