//! Email endpoints: a person's own preferences (`/api/v1/me/email`) and, for administrators,
//! the outbox with its dead letters and a way to send one again (`/api/v1/admin/outbox`).

use actix_web::{HttpResponse, get, post, put, web};
use diesel::prelude::*;
use reguide_protocol::Language;
use reguide_protocol::mail::{
    EmailKindSetting, EmailPreferences, EmailPreferencesUpdate, OutboxMessage,
};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use super::{Kind, worker};
use crate::audit::{self, Object};
use crate::auth::principal::Principal;
use crate::db::schema::{accounts, family_members, mail_opt_outs, outbox};
use crate::db::{DbConn, now, to_naive, to_utc};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

type Err = reguide_protocol::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(my_email)
        .service(set_my_email)
        .service(list_outbox)
        .service(retry_message);
}

#[derive(Debug, OpenApi)]
#[openapi(paths(my_email, set_my_email, list_outbox, retry_message))]
pub struct MailDoc;

/// The preference keys of the signed-in person: their account, and the family members it is.
fn keys_of(conn: &mut DbConn, principal: &Principal) -> ApiResult<Vec<String>> {
    let members: Vec<String> = family_members::table
        .filter(family_members::account_id.eq(principal.account_id.to_string()))
        .select(family_members::id)
        .load(conn)?;
    let mut keys = vec![format!("account:{}", principal.account_id)];
    keys.extend(members.into_iter().map(|m| format!("member:{m}")));
    Ok(keys)
}

fn preferences(conn: &mut DbConn, principal: &Principal) -> ApiResult<EmailPreferences> {
    let (address, language): (Option<String>, String) = accounts::table
        .find(principal.account_id.to_string())
        .select((accounts::email, accounts::preferred_language))
        .first(conn)?;
    let member_address: Option<Option<String>> = family_members::table
        .filter(family_members::account_id.eq(principal.account_id.to_string()))
        .select(family_members::email)
        .first(conn)
        .optional()?;
    let keys = keys_of(conn, principal)?;
    let off: Vec<String> = mail_opt_outs::table
        .filter(mail_opt_outs::recipient_key.eq_any(&keys))
        .select(mail_opt_outs::kind)
        .load(conn)?;
    Ok(EmailPreferences {
        address: member_address.flatten().or(address),
        language: Language::from_code(&language).unwrap_or(Language::En),
        kinds: Kind::ALL
            .into_iter()
            .map(|kind| EmailKindSetting {
                kind: kind.as_str().to_owned(),
                essential: kind.is_essential(),
                enabled: kind.is_essential() || !off.iter().any(|o| o == kind.as_str()),
            })
            .collect(),
    })
}

#[utoipa::path(get, path = "/api/v1/me/email", tag = "email",
    responses((status = 200, body = EmailPreferences), (status = 401, body = Err)),
    security(("bearer" = [])))]
#[get("/me/email")]
pub async fn my_email(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let prefs = state.db(move |conn| preferences(conn, &principal)).await?;
    Ok(HttpResponse::Ok().json(prefs))
}

#[utoipa::path(put, path = "/api/v1/me/email", tag = "email",
    request_body = EmailPreferencesUpdate,
    responses((status = 200, body = EmailPreferences),
        (status = 400, description = "`unknown_kind`, or `essential_kind`: that message cannot \
            be turned off (field `turned_off`)", body = Err),
        (status = 401, body = Err)),
    security(("bearer" = [])))]
#[put("/me/email")]
pub async fn set_my_email(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<EmailPreferencesUpdate>,
) -> ApiResult<HttpResponse> {
    let update = body.into_inner();
    let mut off = Vec::new();
    for name in &update.turned_off {
        let kind = Kind::parse(name).ok_or_else(|| {
            ApiError::invalid(
                "unknown_kind",
                "turned_off",
                format!("no message kind {name:?}"),
            )
        })?;
        if kind.is_essential() {
            return Err(ApiError::invalid(
                "essential_kind",
                "turned_off",
                format!("{name} is essential and cannot be turned off"),
            ));
        }
        off.push(kind);
    }
    let prefs = state
        .write(move |conn| {
            let keys = keys_of(conn, &principal)?;
            diesel::delete(mail_opt_outs::table.filter(mail_opt_outs::recipient_key.eq_any(&keys)))
                .execute(conn)?;
            for key in &keys {
                for kind in &off {
                    diesel::insert_into(mail_opt_outs::table)
                        .values((
                            mail_opt_outs::recipient_key.eq(key),
                            mail_opt_outs::kind.eq(kind.as_str()),
                            mail_opt_outs::created_at.eq(now()),
                        ))
                        .execute(conn)?;
                }
            }
            if let Some(language) = update.language {
                diesel::update(accounts::table.find(principal.account_id.to_string()))
                    .set(accounts::preferred_language.eq(language.code()))
                    .execute(conn)?;
                diesel::update(
                    family_members::table
                        .filter(family_members::account_id.eq(principal.account_id.to_string())),
                )
                .set(family_members::preferred_language.eq(language.code()))
                .execute(conn)?;
            }
            // Pending reminders of a kind now turned off are called off.
            if !off.is_empty() {
                diesel::update(
                    outbox::table
                        .filter(outbox::recipient_key.eq_any(&keys))
                        .filter(outbox::state.eq(worker::PENDING))
                        .filter(outbox::kind.eq_any(off.iter().map(|k| k.as_str()))),
                )
                .set(outbox::state.eq(worker::CANCELLED))
                .execute(conn)?;
            }
            preferences(conn, &principal)
        })
        .await?;
    Ok(HttpResponse::Ok().json(prefs))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// `pending`, `sent`, `dead` (the default) or `cancelled`.
    state: Option<String>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<i64>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    i32,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

fn to_wire(row: Row) -> OutboxMessage {
    let (id, kind, state, to, language, subject, attempts, error, after, next, created, sent) = row;
    OutboxMessage {
        id,
        kind,
        state,
        to_address: to,
        language: Language::from_code(&language).unwrap_or(Language::En),
        subject,
        attempts,
        last_error: error,
        send_after: to_utc(after),
        next_attempt_at: to_utc(next),
        created_at: to_utc(created),
        sent_at: sent.map(to_utc),
    }
}

#[utoipa::path(get, path = "/api/v1/admin/outbox", tag = "admin", params(OutboxQuery),
    responses((status = 200, description = "newest first", body = [OutboxMessage]),
        (status = 400, body = Err), (status = 401, body = Err), (status = 403, body = Err)),
    security(("bearer" = [])))]
#[get("/admin/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<OutboxQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let wanted = q.state.unwrap_or_else(|| worker::DEAD.to_owned());
    let limit = q.limit;
    let list = state
        .db(move |conn| outbox_in(conn, &principal, &wanted, limit))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(post, path = "/api/v1/admin/outbox/{message_id}/retry", tag = "admin",
    params(("message_id" = String, Path)),
    responses((status = 204, description = "the message goes out again with its attempts reset"),
        (status = 401, body = Err), (status = 403, body = Err),
        (status = 404, description = "`message_not_found`", body = Err),
        (status = 409, description = "`not_dead`: only a dead message is sent again", body = Err)),
    security(("bearer" = [])))]
#[post("/admin/outbox/{message_id}/retry")]
pub async fn retry_message(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    state
        .write(move |conn| retry_in(conn, &principal, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The outbox's messages in one state, newest first, for administrators.
pub fn outbox_in(
    conn: &mut DbConn,
    principal: &Principal,
    wanted: &str,
    limit: Option<i64>,
) -> ApiResult<Vec<OutboxMessage>> {
    principal.require_admin()?;
    if ![
        worker::PENDING,
        worker::SENT,
        worker::DEAD,
        worker::CANCELLED,
    ]
    .contains(&wanted)
    {
        return Err(ApiError::invalid(
            "invalid_value",
            "state",
            "state is pending, sent, dead or cancelled",
        ));
    }
    let limit = crate::audit::api::page_limit(limit)?;
    let rows: Vec<Row> = outbox::table
        .filter(outbox::state.eq(wanted))
        .order((outbox::created_at.desc(), outbox::id.desc()))
        .limit(limit)
        .select((
            outbox::id,
            outbox::kind,
            outbox::state,
            outbox::to_address,
            outbox::language,
            outbox::subject,
            outbox::attempts,
            outbox::last_error,
            outbox::send_after,
            outbox::next_attempt_at,
            outbox::created_at,
            outbox::sent_at,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(to_wire).collect())
}

/// Sends a dead message again, its attempts reset; by administrators, and recorded.
pub fn retry_in(conn: &mut DbConn, principal: &Principal, id: &str) -> ApiResult<()> {
    principal.require_admin()?;
    let current: Option<String> = outbox::table
        .find(id)
        .select(outbox::state)
        .first(conn)
        .optional()?;
    match current.as_deref() {
        None => Err(ApiError::not_found("message_not_found", "no such message")),
        Some(worker::DEAD) => {
            diesel::update(outbox::table.find(id))
                .set((
                    outbox::state.eq(worker::PENDING),
                    outbox::attempts.eq(0),
                    outbox::next_attempt_at.eq(to_naive(chrono::Utc::now())),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                Some(principal.account_id),
                "email_retried",
                Some(Object::new("email", &id)),
            )
        }
        Some(_) => Err(ApiError::conflict(
            "not_dead",
            "only a dead message is sent again",
        )),
    }
}
