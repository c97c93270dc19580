//! `GET /api/v1/admin/audit`: the audit log for administrators, newest first, with filters.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use reguide_protocol::api::{AuditEntry, AuditPage};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::principal::{Principal, parse_id};
use crate::db::schema::audit_log;
use crate::db::{DbConn, to_utc};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A page size from a query: 1 to 500, 100 when not given.
pub fn page_limit(limit: Option<i64>) -> ApiResult<i64> {
    let limit = limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid(
            "invalid_value",
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    Ok(limit)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries by this account.
    pub actor: Option<uuid::Uuid>,
    /// Only this action, e.g. `login_failed`.
    pub action: Option<String>,
    /// Only entries about this object id.
    pub object_id: Option<String>,
    /// Only entries at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only entries with an id below this (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/v1/admin/audit", tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = reguide_protocol::ErrorBody),
        (status = 403, body = reguide_protocol::ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/admin/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = state.db(move |conn| search(conn, &principal, q)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One page of the audit log, for administrators only.
pub fn search(conn: &mut DbConn, principal: &Principal, q: AuditQuery) -> ApiResult<AuditPage> {
    principal.require_admin()?;
    let limit = page_limit(q.limit)?;
    let mut sql = audit_log::table.into_boxed();
    if let Some(actor) = q.actor {
        sql = sql.filter(audit_log::actor_account_id.eq(actor.to_string()));
    }
    if let Some(action) = q.action {
        sql = sql.filter(audit_log::action.eq(action));
    }
    if let Some(object) = q.object_id {
        sql = sql.filter(audit_log::object_id.eq(object));
    }
    if let Some(since) = q.since {
        sql = sql.filter(audit_log::at.ge(since.naive_utc()));
    }
    if let Some(until) = q.until {
        sql = sql.filter(audit_log::at.lt(until.naive_utc()));
    }
    if let Some(before) = q.before {
        sql = sql.filter(audit_log::id.lt(before));
    }
    let rows = sql
        .order(audit_log::id.desc())
        .limit(limit + 1)
        .select((
            audit_log::id,
            audit_log::at,
            audit_log::actor_account_id,
            audit_log::action,
            audit_log::object_type,
            audit_log::object_id,
        ))
        .load::<(
            i64,
            chrono::NaiveDateTime,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
        )>(conn)?;
    let more = rows.len() as i64 > limit;
    let entries = rows
        .into_iter()
        .take(limit as usize)
        .map(|(id, at, actor, action, object_type, object_id)| {
            Ok(AuditEntry {
                id,
                at: to_utc(at),
                actor_account_id: actor.as_deref().map(parse_id).transpose()?,
                action,
                object_type,
                object_id,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let next_before = if more {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_before,
    })
}
