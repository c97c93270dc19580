//! Accounts, their roles and scopes, and social workers' caseloads. Every change here is
//! audited by the caller in the same transaction.

pub mod api;
pub mod caseload_requests;
pub mod email;

pub use email::EmailAddress;

use diesel::prelude::*;
use reguide_protocol::api::{Account, RoleGrant};
use reguide_protocol::{AccountId, FamilyId, Language, PrisonId, Role, RoleGrantId};

use crate::auth::principal::parse_id;
use crate::db::schema::{accounts, api_tokens, caseloads, devices, prisons, role_grants};
use crate::db::{DbConn, now, to_utc};
use crate::error::{ApiError, ApiResult, is_unique_violation};

/// A new account, with its password already hashed (hashing is slow; never inside a
/// transaction).
#[derive(Debug)]
pub struct NewAccountRow {
    pub email: Option<EmailAddress>,
    pub username: String,
    pub display_name: String,
    pub language: Language,
    pub password_hash: String,
}

/// Checks a display name: trimmed, 1 to 100 characters.
pub fn display_name(raw: &str, field: &'static str) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "invalid_value",
            field,
            format!("{field} must have 1 to 100 characters"),
        ));
    }
    Ok(name.to_owned())
}

pub fn insert_account(conn: &mut DbConn, row: NewAccountRow) -> ApiResult<AccountId> {
    let id = AccountId::new();
    let inserted = conn.transaction(|c| {
        diesel::insert_into(accounts::table)
            .values((
                accounts::id.eq(id.to_string()),
                accounts::email.eq(row.email.as_ref().map(EmailAddress::as_str)),
                accounts::username.eq(&row.username),
                accounts::display_name.eq(&row.display_name),
                accounts::preferred_language.eq(row.language.code()),
                accounts::password_hash.eq(&row.password_hash),
                accounts::disabled.eq(false),
                accounts::created_at.eq(now()),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(ApiError::conflict(
            "email_taken",
            "another account already uses this email address or username",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Grants a role with its scope. Coordinators need a prison; a family-member grant is made
/// by enrolment, which passes the family.
pub fn grant_role(
    conn: &mut DbConn,
    account: AccountId,
    role: Role,
    prison: Option<PrisonId>,
    family: Option<FamilyId>,
) -> ApiResult<RoleGrant> {
    use reguide_protocol::roles::ScopeKind;
    let scope_key = match (role.scope_kind(), prison, family) {
        (ScopeKind::None, None, None) => String::new(),
        (ScopeKind::Prison, Some(p), None) => {
            let exists: i64 = prisons::table
                .filter(prisons::id.eq(p.to_string()))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(ApiError::invalid(
                    "unknown_prison",
                    "prison_id",
                    "no prison has this id",
                ));
            }
            p.to_string()
        }
        (ScopeKind::Family, None, Some(f)) => f.to_string(),
        (ScopeKind::Prison, None, _) => {
            return Err(ApiError::invalid(
                "missing_scope",
                "prison_id",
                "a coordinator role needs the prison it covers",
            ));
        }
        (ScopeKind::Family, _, None) => {
            return Err(ApiError::invalid(
                "missing_scope",
                "role",
                "the family-member role is given by enrolling a family member",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "unexpected_scope",
                "prison_id",
                format!("the {} role takes no prison", role.as_str()),
            ));
        }
    };
    let id = RoleGrantId::new();
    let inserted = conn.transaction(|c| {
        diesel::insert_into(role_grants::table)
            .values((
                role_grants::id.eq(id.to_string()),
                role_grants::account_id.eq(account.to_string()),
                role_grants::role.eq(role.as_str()),
                role_grants::prison_id.eq(prison.map(|p| p.to_string())),
                role_grants::family_id.eq(family.map(|f| f.to_string())),
                role_grants::scope_key.eq(scope_key),
                role_grants::created_at.eq(now()),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(RoleGrant {
            id,
            role,
            prison_id: prison,
            family_id: family,
        }),
        Err(e) if is_unique_violation(&e) => Err(ApiError::conflict(
            "role_already_granted",
            "the account already holds this role with this scope",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Removes a grant; refuses to remove the last active administrator.
pub fn revoke_grant(conn: &mut DbConn, account: AccountId, grant: RoleGrantId) -> ApiResult<Role> {
    let role: Option<String> = role_grants::table
        .filter(role_grants::id.eq(grant.to_string()))
        .filter(role_grants::account_id.eq(account.to_string()))
        .select(role_grants::role)
        .first(conn)
        .optional()?;
    let role = role.and_then(|r| Role::parse(&r)).ok_or_else(|| {
        ApiError::not_found("role_grant_not_found", "this account holds no such grant")
    })?;
    if role == Role::Admin && active_admins(conn)? <= 1 {
        return Err(ApiError::conflict(
            "last_admin",
            "this is the last administrator; grant the role to someone else first",
        ));
    }
    diesel::delete(role_grants::table.filter(role_grants::id.eq(grant.to_string())))
        .execute(conn)?;
    Ok(role)
}

/// Active accounts holding the admin role.
pub fn active_admins(conn: &mut DbConn) -> ApiResult<i64> {
    Ok(role_grants::table
        .inner_join(accounts::table)
        .filter(role_grants::role.eq(Role::Admin.as_str()))
        .filter(accounts::disabled.eq(false))
        .count()
        .get_result(conn)?)
}

/// Revokes every token and device of an account (disabling, lost phone, erasure).
pub fn revoke_all_tokens(conn: &mut DbConn, account: AccountId) -> ApiResult<()> {
    let now = now();
    diesel::update(
        api_tokens::table
            .filter(api_tokens::account_id.eq(account.to_string()))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)?;
    diesel::update(
        devices::table
            .filter(devices::account_id.eq(account.to_string()))
            .filter(devices::revoked_at.is_null()),
    )
    .set(devices::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

type AccountRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    bool,
    chrono::NaiveDateTime,
);

fn account_columns() -> (
    accounts::id,
    accounts::email,
    accounts::username,
    accounts::display_name,
    accounts::preferred_language,
    accounts::disabled,
    accounts::created_at,
) {
    (
        accounts::id,
        accounts::email,
        accounts::username,
        accounts::display_name,
        accounts::preferred_language,
        accounts::disabled,
        accounts::created_at,
    )
}

pub fn load_account(conn: &mut DbConn, id: AccountId) -> ApiResult<Account> {
    let row: AccountRow = accounts::table
        .find(id.to_string())
        .select(account_columns())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("account_not_found", "no account has this id"))?;
    to_account(conn, row)
}

pub fn list_accounts(conn: &mut DbConn) -> ApiResult<Vec<Account>> {
    let rows: Vec<AccountRow> = accounts::table
        .select(account_columns())
        .order(accounts::created_at.asc())
        .load(conn)?;
    rows.into_iter().map(|row| to_account(conn, row)).collect()
}

fn to_account(conn: &mut DbConn, row: AccountRow) -> ApiResult<Account> {
    let (id, email, username, display_name, language, disabled, created_at) = row;
    let account_id: AccountId = parse_id(&id)?;
    Ok(Account {
        id: account_id,
        email,
        username,
        display_name,
        preferred_language: Language::from_code(&language).unwrap_or(Language::En),
        disabled,
        created_at: to_utc(created_at),
        roles: load_role_grants(conn, account_id)?,
        caseload: caseload_of(conn, account_id)?,
    })
}

/// The grants of an account as the API shows them.
pub fn load_role_grants(conn: &mut DbConn, account: AccountId) -> ApiResult<Vec<RoleGrant>> {
    role_grants::table
        .filter(role_grants::account_id.eq(account.to_string()))
        .order(role_grants::created_at.asc())
        .select((
            role_grants::id,
            role_grants::role,
            role_grants::prison_id,
            role_grants::family_id,
        ))
        .load::<(String, String, Option<String>, Option<String>)>(conn)?
        .into_iter()
        .filter_map(|(id, role, p, f)| Role::parse(&role).map(|r| (id, r, p, f)))
        .map(|(id, role, prison, family)| {
            Ok(RoleGrant {
                id: parse_id(&id)?,
                role,
                prison_id: prison.as_deref().map(parse_id).transpose()?,
                family_id: family.as_deref().map(parse_id).transpose()?,
            })
        })
        .collect()
}

pub fn caseload_of(conn: &mut DbConn, account: AccountId) -> ApiResult<Vec<FamilyId>> {
    caseloads::table
        .filter(caseloads::account_id.eq(account.to_string()))
        .order(caseloads::created_at.asc())
        .select(caseloads::family_id)
        .load::<String>(conn)?
        .iter()
        .map(|f| parse_id(f))
        .collect()
}

/// Puts a family in a social worker's caseload (idempotent).
pub fn assign_caseload(conn: &mut DbConn, account: AccountId, family: FamilyId) -> ApiResult<bool> {
    assign_caseload_for(conn, account, family, None)
}

/// The families in `account`'s caseload: id, label and the service, by label.
pub fn caseload_lines(
    conn: &mut DbConn,
    account: AccountId,
) -> ApiResult<Vec<(FamilyId, String, Option<String>)>> {
    use crate::db::schema::families;
    caseloads::table
        .inner_join(families::table)
        .filter(caseloads::account_id.eq(account.to_string()))
        .order(families::label.asc())
        .select((families::id, families::label, caseloads::service))
        .load::<(String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, label, service)| Ok((parse_id(&id)?, label, service)))
        .collect()
}

/// [`assign_caseload`] naming the service the worker follows the family for.
pub fn assign_caseload_for(
    conn: &mut DbConn,
    account: AccountId,
    family: FamilyId,
    service: Option<&str>,
) -> ApiResult<bool> {
    let existing: i64 = caseloads::table
        .filter(caseloads::account_id.eq(account.to_string()))
        .filter(caseloads::family_id.eq(family.to_string()))
        .count()
        .get_result(conn)?;
    if existing > 0 {
        return Ok(false);
    }
    diesel::insert_into(caseloads::table)
        .values((
            caseloads::account_id.eq(account.to_string()),
            caseloads::family_id.eq(family.to_string()),
            caseloads::created_at.eq(now()),
            caseloads::service.eq(service),
        ))
        .execute(conn)?;
    Ok(true)
}

/// The active accounts holding `role`, by name: whom a form may offer to choose.
pub fn holders_of(conn: &mut DbConn, role: Role) -> ApiResult<Vec<(AccountId, String)>> {
    accounts::table
        .inner_join(role_grants::table)
        .filter(role_grants::role.eq(role.as_str()))
        .filter(accounts::disabled.eq(false))
        .select((accounts::id, accounts::display_name))
        .distinct()
        .order(accounts::display_name.asc())
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(id, name)| Ok((parse_id(&id)?, name)))
        .collect()
}

/// An account's display name and preferred language code, as the web admin greets it.
pub fn name_and_language(conn: &mut DbConn, account: AccountId) -> ApiResult<(String, String)> {
    Ok(accounts::table
        .find(account.to_string())
        .select((accounts::display_name, accounts::preferred_language))
        .first(conn)?)
}
