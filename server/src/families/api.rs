//! `/api/v1/families…`: families, their members and detained persons, enrolment codes.

use actix_web::{HttpResponse, get, post, web};
use reguide_protocol::api::{
    Detainee, EnrolmentCode, Family, FamilySummary, Member, NewDetainee, NewFamily, NewMember,
};
use reguide_protocol::{FamilyId, MemberId};
use uuid::Uuid;

use crate::accounts::{self, EmailAddress};
use crate::audit::{self, Object};
use crate::auth::principal::Principal;
use crate::db::DbConn;
use crate::db::schema::families as families_t;
use crate::error::{ApiError, ApiResult};
use crate::families::access::{self, FamilyAccess};
use crate::families::{self, MemberInput};
use crate::json::Json;
use crate::state::AppState;
use crate::text::line;
use diesel::prelude::*;

type Err = reguide_protocol::ErrorBody;

#[utoipa::path(get, path = "/api/v1/families", tag = "families",
    responses((status = 200, description = "the families visible to the caller", body = [FamilySummary]),
        (status = 401, body = Err)),
    security(("bearer" = [])))]
#[get("/families")]
pub async fn list(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let list = state
        .db(move |conn| families::visible_families(conn, &principal))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(post, path = "/api/v1/families", tag = "families", request_body = NewFamily,
    responses((status = 201, body = Family), (status = 400, body = Err), (status = 403, body = Err)),
    security(("bearer" = [])))]
#[post("/families")]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewFamily>,
) -> ApiResult<HttpResponse> {
    if !access::may_create_family(&principal) {
        return Err(ApiError::Forbidden(
            "only social workers and administrators create families".into(),
        ));
    }
    let label = line(&body.label, "label", 200)?;
    let family = state
        .write(move |conn| {
            let id = families::create_family(conn, &label)?;
            // A social worker who opens a family keeps it in their caseload.
            if principal.has_role(reguide_protocol::Role::SocialWorker) {
                accounts::assign_caseload(conn, principal.account_id, id)?;
            }
            audit::record(
                conn,
                Some(principal.account_id),
                "family_created",
                Some(Object::new("family", &id)),
            )?;
            families::load_family(conn, id)
        })
        .await?;
    Ok(HttpResponse::Created().json(family))
}

#[utoipa::path(get, path = "/api/v1/families/{family_id}", tag = "families",
    params(("family_id" = Uuid, Path)),
    responses((status = 200, body = Family), (status = 401, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/families/{family_id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    let record = state
        .write(move |conn| read_family(conn, &principal, family))
        .await?;
    Ok(HttpResponse::Ok().json(record))
}

/// A family's record for someone who may read it. Staff reading a family's file is itself
/// recorded: the family may ask who did.
pub fn read_family(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
) -> ApiResult<Family> {
    access::require(conn, principal, family, FamilyAccess::Read)?;
    let record = families::load_family(conn, family)?;
    if principal.member_in(family).is_none() {
        audit::record(
            conn,
            Some(principal.account_id),
            "family_viewed",
            Some(Object::new("family", &family)),
        )?;
    }
    Ok(record)
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/close", tag = "families",
    params(("family_id" = Uuid, Path)),
    responses((status = 200, description = "the case is closed: it is deleted after the retention \
            period (`retention.closed_case_days`) unless reopened", body = Family),
        (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err),
        (status = 409, description = "`case_closed`: already closed", body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/close")]
pub async fn close_case(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    let record = state
        .write(move |conn| set_closed(conn, &principal, family, true))
        .await?;
    Ok(HttpResponse::Ok().json(record))
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/reopen", tag = "families",
    params(("family_id" = Uuid, Path)),
    responses((status = 200, description = "the case is open again and kept", body = Family),
        (status = 401, body = Err), (status = 403, body = Err), (status = 404, body = Err),
        (status = 409, description = "`case_not_closed`: the case is open", body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/reopen")]
pub async fn reopen_case(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    let record = state
        .write(move |conn| set_closed(conn, &principal, family, false))
        .await?;
    Ok(HttpResponse::Ok().json(record))
}

/// Closes or reopens a family's case, for those who manage the family (its social worker, an
/// administrator).
pub fn set_closed(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
    close: bool,
) -> ApiResult<Family> {
    access::require(conn, principal, family, FamilyAccess::Manage)?;
    let id = family.to_string();
    let changed = if close {
        diesel::update(
            families_t::table
                .find(&id)
                .filter(families_t::closed_at.is_null()),
        )
        .set((
            families_t::closed_at.eq(Some(crate::db::now())),
            families_t::closed_by.eq(Some(principal.account_id.to_string())),
        ))
        .execute(conn)?
    } else {
        diesel::update(
            families_t::table
                .find(&id)
                .filter(families_t::closed_at.is_not_null()),
        )
        .set((
            families_t::closed_at.eq(None::<chrono::NaiveDateTime>),
            families_t::closed_by.eq(None::<String>),
        ))
        .execute(conn)?
    };
    if changed == 0 {
        return Err(if close {
            ApiError::conflict("case_closed", "this family's case is closed already")
        } else {
            ApiError::conflict("case_not_closed", "this family's case is open")
        });
    }
    audit::record(
        conn,
        Some(principal.account_id),
        if close {
            "case_closed"
        } else {
            "case_reopened"
        },
        Some(Object::new("family", &family)),
    )?;
    families::load_family(conn, family)
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/members", tag = "families",
    params(("family_id" = Uuid, Path)), request_body = NewMember,
    responses((status = 201, body = Member), (status = 400, body = Err), (status = 403, body = Err),
        (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/members")]
pub async fn add_member(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewMember>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    let body = body.into_inner();
    let input = MemberInput {
        display_name: line(&body.display_name, "display_name", 100)?,
        relation: body.relation,
        language: body.preferred_language,
        email: body
            .email
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .map(|e| EmailAddress::parse(e, "email").map(|e| e.as_str().to_owned()))
            .transpose()?,
        phone: body
            .phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(check_phone)
            .transpose()?,
        birth_date: match body.birth_date {
            Some(date) if date > chrono::Utc::now().date_naive() => {
                return Err(ApiError::invalid(
                    "invalid_value",
                    "birth_date",
                    "a birth date cannot be in the future",
                ));
            }
            other => other,
        },
    };
    let member = state
        .write(move |conn| {
            access::require(conn, &principal, family, FamilyAccess::Manage)?;
            let member = families::add_member(conn, family, input)?;
            audit::record(
                conn,
                Some(principal.account_id),
                "member_added",
                Some(Object::new("member", &member.id)),
            )?;
            Ok(member)
        })
        .await?;
    Ok(HttpResponse::Created().json(member))
}

fn check_phone(raw: &str) -> ApiResult<String> {
    let phone = raw.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')' | '/'));
    if allowed && (6..=20).contains(&digits) {
        Ok(phone.to_owned())
    } else {
        Err(ApiError::invalid(
            "invalid_phone",
            "phone",
            "this is not a phone number",
        ))
    }
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/detainees", tag = "families",
    params(("family_id" = Uuid, Path)), request_body = NewDetainee,
    responses((status = 201, body = Detainee), (status = 400, body = Err), (status = 403, body = Err),
        (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/detainees")]
pub async fn link_detainee(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewDetainee>,
) -> ApiResult<HttpResponse> {
    let family = FamilyId(path.into_inner());
    let body = body.into_inner();
    let full_name = line(&body.full_name, "full_name", 200)?;
    let number = line(&body.internal_number, "internal_number", 40)?;
    let detainee = state
        .write(move |conn| {
            access::require(conn, &principal, family, FamilyAccess::Manage)?;
            let detainee =
                families::link_detainee(conn, family, &full_name, body.prison_id, &number)?;
            audit::record(
                conn,
                Some(principal.account_id),
                "detainee_linked",
                Some(Object::new("detainee", &detainee.id)),
            )?;
            Ok(detainee)
        })
        .await?;
    Ok(HttpResponse::Created().json(detainee))
}

/// How a new enrolment code reaches the member.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CodeDelivery {
    /// Also email the code to the member's address (refused with `no_email_address` when they
    /// have none). Without it the code is only in the answer, to print or read out.
    email: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/families/{family_id}/members/{member_id}/enrolment-codes",
    tag = "families", params(("family_id" = Uuid, Path), ("member_id" = Uuid, Path), CodeDelivery),
    responses((status = 201, description = "the code is shown once", body = EnrolmentCode),
        (status = 400, description = "`no_email_address`", body = Err),
        (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[post("/families/{family_id}/members/{member_id}/enrolment-codes")]
pub async fn create_enrolment_code(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
    delivery: web::Query<CodeDelivery>,
) -> ApiResult<HttpResponse> {
    let by_email = delivery.email.unwrap_or(false);
    let (family, member) = path.into_inner();
    let (family, member) = (FamilyId(family), MemberId(member));
    let ttl = state.config.auth.enrolment_code_ttl_hours;
    let code = state
        .write(move |conn| issue_code(conn, &principal, family, member, ttl, by_email))
        .await?;
    Ok(HttpResponse::Created().json(code))
}

/// A new enrolment code for a member, by someone who manages the family; sent by email too
/// when asked. The code is shown once.
pub fn issue_code(
    conn: &mut DbConn,
    principal: &Principal,
    family: FamilyId,
    member: MemberId,
    ttl_hours: i64,
    by_email: bool,
) -> ApiResult<EnrolmentCode> {
    access::require(conn, principal, family, FamilyAccess::Manage)?;
    let code =
        families::issue_enrolment_code(conn, family, member, principal.account_id, ttl_hours)?;
    if by_email {
        crate::mail::events::enrolment_code(conn, member, &code.code, code.expires_at)?;
    }
    audit::record(
        conn,
        Some(principal.account_id),
        "enrolment_code_created",
        Some(Object::new("member", &member)),
    )?;
    Ok(code)
}
