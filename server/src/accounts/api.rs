//! Administrators' endpoints for accounts, roles and caseloads (`/api/v1/admin/accounts…`).

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use reguide_protocol::api::{Account, AccountUpdate, NewAccount, NewRoleGrant, RoleGrant};
use reguide_protocol::{AccountId, FamilyId, Language, Role, RoleGrantId};
use uuid::Uuid;

use crate::accounts::{self, EmailAddress, NewAccountRow};
use crate::audit::{self, Object};
use crate::auth::password;
use crate::auth::principal::{Principal, load_grants};
use crate::db::DbConn;
use crate::db::schema::accounts as accounts_t;
use crate::error::{ApiError, ApiResult};
use crate::families;
use crate::json::Json;
use crate::state::AppState;
use diesel::prelude::*;

type Err = reguide_protocol::ErrorBody;

#[utoipa::path(get, path = "/api/v1/admin/accounts", tag = "admin",
    responses((status = 200, body = [Account]), (status = 403, body = Err)),
    security(("bearer" = [])))]
#[get("/admin/accounts")]
pub async fn list(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    principal.require_admin()?;
    let accounts = state.db(accounts::list_accounts).await?;
    Ok(HttpResponse::Ok().json(accounts))
}

#[utoipa::path(post, path = "/api/v1/admin/accounts", tag = "admin", request_body = NewAccount,
    responses((status = 201, body = Account), (status = 400, body = Err), (status = 403, body = Err),
        (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/admin/accounts")]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewAccount>,
) -> ApiResult<HttpResponse> {
    let account = create_account(&state, principal, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(account))
}

/// A new staff account with its roles, by an administrator: the API's and the web admin's one
/// way to make one (the password is hashed off the async workers).
pub async fn create_account(
    state: &AppState,
    principal: Principal,
    body: NewAccount,
) -> ApiResult<Account> {
    principal.require_admin()?;
    let email = EmailAddress::parse(&body.email, "email")?;
    let display_name = accounts::display_name(&body.display_name, "display_name")?;
    password::check_policy(&body.password)?;
    let hash = web::block(move || password::hash(&body.password))
        .await?
        .map_err(ApiError::internal)?;
    let actor = principal.account_id;
    state
        .write(move |conn| {
            let id = accounts::insert_account(
                conn,
                NewAccountRow {
                    username: email.as_str().to_owned(),
                    email: Some(email),
                    display_name,
                    language: body.preferred_language.unwrap_or(Language::En),
                    password_hash: hash,
                },
            )?;
            audit::record(
                conn,
                Some(actor),
                "account_created",
                Some(Object::new("account", &id)),
            )?;
            for wanted in body.roles {
                let granted = accounts::grant_role(conn, id, wanted.role, wanted.prison_id, None)?;
                audit::record(
                    conn,
                    Some(actor),
                    "role_granted",
                    Some(Object::new("role_grant", &granted.id)),
                )?;
            }
            accounts::load_account(conn, id)
        })
        .await
}

#[utoipa::path(get, path = "/api/v1/admin/accounts/{account_id}", tag = "admin",
    params(("account_id" = Uuid, Path)),
    responses((status = 200, body = Account), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[get("/admin/accounts/{account_id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require_admin()?;
    let id = AccountId(path.into_inner());
    let account = state
        .db(move |conn| accounts::load_account(conn, id))
        .await?;
    Ok(HttpResponse::Ok().json(account))
}

#[utoipa::path(patch, path = "/api/v1/admin/accounts/{account_id}", tag = "admin",
    params(("account_id" = Uuid, Path)), request_body = AccountUpdate,
    responses((status = 200, body = Account), (status = 400, body = Err), (status = 403, body = Err),
        (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[patch("/admin/accounts/{account_id}")]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<AccountUpdate>,
) -> ApiResult<HttpResponse> {
    principal.require_admin()?;
    let id = AccountId(path.into_inner());
    let body = body.into_inner();
    let display_name = body
        .display_name
        .as_deref()
        .map(|n| accounts::display_name(n, "display_name"))
        .transpose()?;
    let actor = principal.account_id;
    let account = state
        .write(move |conn| {
            let current = accounts::load_account(conn, id)?;
            if let Some(name) = display_name {
                diesel::update(accounts_t::table.find(id.to_string()))
                    .set(accounts_t::display_name.eq(name))
                    .execute(conn)?;
                audit::record(
                    conn,
                    Some(actor),
                    "account_updated",
                    Some(Object::new("account", &id)),
                )?;
            }
            match body.disabled {
                Some(true) if !current.disabled => {
                    let is_admin = load_grants(conn, id)?.iter().any(|g| g.role == Role::Admin);
                    if is_admin && accounts::active_admins(conn)? <= 1 {
                        return Err(ApiError::conflict(
                            "last_admin",
                            "this is the last administrator; grant the role to someone else first",
                        ));
                    }
                    diesel::update(accounts_t::table.find(id.to_string()))
                        .set(accounts_t::disabled.eq(true))
                        .execute(conn)?;
                    accounts::revoke_all_tokens(conn, id)?;
                    audit::record(
                        conn,
                        Some(actor),
                        "account_disabled",
                        Some(Object::new("account", &id)),
                    )?;
                }
                Some(false) if current.disabled => {
                    diesel::update(accounts_t::table.find(id.to_string()))
                        .set(accounts_t::disabled.eq(false))
                        .execute(conn)?;
                    audit::record(
                        conn,
                        Some(actor),
                        "account_enabled",
                        Some(Object::new("account", &id)),
                    )?;
                }
                _ => {}
            }
            accounts::load_account(conn, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(account))
}

#[utoipa::path(post, path = "/api/v1/admin/accounts/{account_id}/roles", tag = "admin",
    params(("account_id" = Uuid, Path)), request_body = NewRoleGrant,
    responses((status = 201, body = RoleGrant), (status = 400, body = Err), (status = 403, body = Err),
        (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[post("/admin/accounts/{account_id}/roles")]
pub async fn grant_role(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewRoleGrant>,
) -> ApiResult<HttpResponse> {
    let id = AccountId(path.into_inner());
    let body = body.into_inner();
    let granted = state
        .write(move |conn| grant_role_in(conn, &principal, id, &body))
        .await?;
    Ok(HttpResponse::Created().json(granted))
}

/// Grants a role (a coordinator's with its prison), by administrators, recorded.
pub fn grant_role_in(
    conn: &mut DbConn,
    principal: &Principal,
    id: AccountId,
    grant: &NewRoleGrant,
) -> ApiResult<RoleGrant> {
    principal.require_admin()?;
    accounts::load_account(conn, id)?;
    let granted = accounts::grant_role(conn, id, grant.role, grant.prison_id, None)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "role_granted",
        Some(Object::new("role_grant", &granted.id)),
    )?;
    Ok(granted)
}

#[utoipa::path(delete, path = "/api/v1/admin/accounts/{account_id}/roles/{grant_id}", tag = "admin",
    params(("account_id" = Uuid, Path), ("grant_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Err), (status = 404, body = Err), (status = 409, body = Err)),
    security(("bearer" = [])))]
#[delete("/admin/accounts/{account_id}/roles/{grant_id}")]
pub async fn revoke_role(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (account, grant_id) = path.into_inner();
    let (account, grant_id) = (AccountId(account), RoleGrantId(grant_id));
    state
        .write(move |conn| revoke_role_in(conn, &principal, account, grant_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Takes a role back (never the last active administrator's), by administrators, recorded.
pub fn revoke_role_in(
    conn: &mut DbConn,
    principal: &Principal,
    account: AccountId,
    grant_id: RoleGrantId,
) -> ApiResult<()> {
    principal.require_admin()?;
    accounts::revoke_grant(conn, account, grant_id)?;
    audit::record(
        conn,
        Some(principal.account_id),
        "role_revoked",
        Some(Object::new("role_grant", &grant_id)),
    )
}

#[utoipa::path(put, path = "/api/v1/admin/accounts/{account_id}/caseload/{family_id}", tag = "admin",
    params(("account_id" = Uuid, Path), ("family_id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = Err), (status = 403, body = Err), (status = 404, body = Err),
        (status = 409, description = "`not_a_social_worker`: only a social worker has a caseload", body = Err)),
    security(("bearer" = [])))]
#[put("/admin/accounts/{account_id}/caseload/{family_id}")]
pub async fn assign_caseload(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (account, family) = path.into_inner();
    let (account, family) = (AccountId(account), FamilyId(family));
    state
        .write(move |conn| assign_caseload_in(conn, &principal, account, family))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Puts a family in a social worker's caseload, by administrators, recorded.
pub fn assign_caseload_in(
    conn: &mut DbConn,
    principal: &Principal,
    account: AccountId,
    family: FamilyId,
) -> ApiResult<()> {
    principal.require_admin()?;
    let target = accounts::load_account(conn, account)?;
    if !target.roles.iter().any(|g| g.role == Role::SocialWorker) {
        return Err(ApiError::conflict(
            "not_a_social_worker",
            "only an account with the social worker role has a caseload",
        ));
    }
    families::ensure_exists(conn, family)?;
    if accounts::assign_caseload(conn, account, family)? {
        audit::record(
            conn,
            Some(principal.account_id),
            "caseload_assigned",
            Some(Object::new("family", &family)),
        )?;
    }
    Ok(())
}

#[utoipa::path(delete, path = "/api/v1/admin/accounts/{account_id}/caseload/{family_id}", tag = "admin",
    params(("account_id" = Uuid, Path), ("family_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[delete("/admin/accounts/{account_id}/caseload/{family_id}")]
pub async fn unassign_caseload(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (account, family) = path.into_inner();
    let (account, family) = (AccountId(account), FamilyId(family));
    state
        .write(move |conn| unassign_caseload_in(conn, &principal, account, family))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Takes a family out of a social worker's caseload, by administrators, recorded.
pub fn unassign_caseload_in(
    conn: &mut DbConn,
    principal: &Principal,
    account: AccountId,
    family: FamilyId,
) -> ApiResult<()> {
    use crate::db::schema::caseloads;
    principal.require_admin()?;
    let removed = diesel::delete(
        caseloads::table
            .filter(caseloads::account_id.eq(account.to_string()))
            .filter(caseloads::family_id.eq(family.to_string())),
    )
    .execute(conn)?;
    if removed == 0 {
        return Err(ApiError::not_found(
            "caseload_entry_not_found",
            "this family is not in this account's caseload",
        ));
    }
    audit::record(
        conn,
        Some(principal.account_id),
        "caseload_unassigned",
        Some(Object::new("family", &family)),
    )
}
