//! Who is calling: the account behind a bearer token, with its roles and scopes, loaded once per
//! request. Domain modules decide what a principal may do; this module only says who it is.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use chrono::Duration;
use diesel::prelude::*;
use reguide_protocol::{AccountId, DeviceId, FamilyId, MemberId, PrisonId, Role};

use crate::auth::tokens;
use crate::db::schema::{accounts, api_tokens, caseloads, devices, family_members, role_grants};
use crate::db::{DbConn, now};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// One role held, with its scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub prison_id: Option<PrisonId>,
    pub family_id: Option<FamilyId>,
}

/// A signed-in account.
#[derive(Clone, Debug)]
pub struct Principal {
    pub account_id: AccountId,
    pub token_id: String,
    pub device_id: Option<DeviceId>,
    pub grants: Vec<Grant>,
    /// Families this account is a member of, and which member it is.
    pub memberships: Vec<(FamilyId, MemberId)>,
    /// Families in this account's caseload (meaningful with the social worker role).
    pub caseload: Vec<FamilyId>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }

    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only an administrator may do this".into(),
            ))
        }
    }

    /// Prisons this account coordinates.
    pub fn coordinated_prisons(&self) -> Vec<PrisonId> {
        self.grants
            .iter()
            .filter(|g| g.role == Role::Coordinator)
            .filter_map(|g| g.prison_id)
            .collect()
    }

    /// The member this account is in `family`, if it holds the family-member role there.
    pub fn member_in(&self, family: FamilyId) -> Option<MemberId> {
        let granted = self
            .grants
            .iter()
            .any(|g| g.role == Role::FamilyMember && g.family_id == Some(family));
        if !granted {
            return None;
        }
        self.memberships
            .iter()
            .find(|(f, _)| *f == family)
            .map(|(_, m)| *m)
    }

    /// Whether `family` is in this account's caseload as a social worker.
    pub fn has_in_caseload(&self, family: FamilyId) -> bool {
        self.has_role(Role::SocialWorker) && self.caseload.contains(&family)
    }
}

/// Touching `last_used_at` on every request would turn reads into writes; once in a while is
/// enough to show when a token was last used.
const TOUCH_EVERY_MINUTES: i64 = 5;

/// Where a token is presented. A bearer token never opens the web admin and a web session's
/// cookie never calls the API: a token taken from one place does not work in the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// `Authorization: Bearer` on the JSON API.
    Api,
    /// The web admin's session cookie, which also ends after `idle` without use.
    Web { idle: Duration },
}

type TokenRow = (
    String,
    String,
    Option<String>,
    Option<chrono::NaiveDateTime>,
);

/// Loads the principal for a bearer token, or `None` when the token is unknown, expired,
/// revoked, or belongs to a disabled account or a revoked device.
pub fn load_principal(conn: &mut DbConn, token: &str) -> ApiResult<Option<Principal>> {
    load_for(conn, token, Channel::Api)
}

/// Ends a token where it is stored, so that presenting it again finds nothing.
pub fn revoke_token(conn: &mut DbConn, token_id: &str) -> ApiResult<()> {
    diesel::update(api_tokens::table.find(token_id))
        .set(api_tokens::revoked_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

/// Loads the principal for a token presented on `channel`.
pub fn load_for(conn: &mut DbConn, token: &str, channel: Channel) -> ApiResult<Option<Principal>> {
    let now = now();
    let web = matches!(channel, Channel::Web { .. });
    let row: Option<TokenRow> = api_tokens::table
        .inner_join(accounts::table)
        .left_join(devices::table)
        .filter(api_tokens::token_hash.eq(tokens::digest(token)))
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::expires_at.gt(now))
        .filter(api_tokens::web.eq(web))
        .filter(accounts::disabled.eq(false))
        .filter(devices::revoked_at.is_null())
        .select((
            api_tokens::id,
            api_tokens::account_id,
            api_tokens::device_id,
            api_tokens::last_used_at,
        ))
        .first(conn)
        .optional()?;
    let Some((token_id, account_id, device_id, last_used)) = row else {
        return Ok(None);
    };
    let touch_after = match channel {
        Channel::Api => Duration::minutes(TOUCH_EVERY_MINUTES),
        Channel::Web { idle } => {
            // A web session not used for `idle` has ended; it is revoked so it stays ended.
            if last_used.is_some_and(|t| now - t >= idle) {
                revoke_token(conn, &token_id)?;
                return Ok(None);
            }
            // Often enough that the idle limit is kept to within a tenth.
            (idle / 10).min(Duration::minutes(TOUCH_EVERY_MINUTES))
        }
    };
    if last_used.is_none_or(|t| now - t > touch_after) {
        diesel::update(api_tokens::table.find(&token_id))
            .set(api_tokens::last_used_at.eq(now))
            .execute(conn)?;
        if let Some(device) = &device_id {
            diesel::update(devices::table.find(device))
                .set(devices::last_seen_at.eq(now))
                .execute(conn)?;
        }
    }
    let account = parse_id::<AccountId>(&account_id)?;
    let grants = load_grants(conn, account)?;
    // Memberships and caseloads matter only to those roles: most calls skip the queries.
    let memberships = if grants.iter().any(|g| g.role == Role::FamilyMember) {
        family_members::table
            .filter(family_members::account_id.eq(account.to_string()))
            .select((family_members::family_id, family_members::id))
            .load::<(String, String)>(conn)?
            .into_iter()
            .map(|(f, m)| Ok((parse_id(&f)?, parse_id(&m)?)))
            .collect::<ApiResult<_>>()?
    } else {
        Vec::new()
    };
    let caseload = if grants.iter().any(|g| g.role == Role::SocialWorker) {
        caseloads::table
            .filter(caseloads::account_id.eq(account.to_string()))
            .select(caseloads::family_id)
            .load::<String>(conn)?
            .iter()
            .map(|f| parse_id(f))
            .collect::<ApiResult<_>>()?
    } else {
        Vec::new()
    };
    Ok(Some(Principal {
        account_id: account,
        token_id,
        device_id: device_id.as_deref().map(parse_id).transpose()?,
        grants,
        memberships,
        caseload,
    }))
}

/// The roles an account holds.
pub fn load_grants(conn: &mut DbConn, account: AccountId) -> ApiResult<Vec<Grant>> {
    role_grants::table
        .filter(role_grants::account_id.eq(account.to_string()))
        .select((
            role_grants::role,
            role_grants::prison_id,
            role_grants::family_id,
        ))
        .load::<(String, Option<String>, Option<String>)>(conn)?
        .into_iter()
        .filter_map(|(role, prison, family)| {
            // A role this build does not know (from a newer version) grants nothing.
            let role = Role::parse(&role)?;
            Some((role, prison, family))
        })
        .map(|(role, prison, family)| {
            Ok(Grant {
                role,
                prison_id: prison.as_deref().map(parse_id).transpose()?,
                family_id: family.as_deref().map(parse_id).transpose()?,
            })
        })
        .collect()
}

/// Parses an id read back from the database; a malformed one is corruption, not bad input.
pub fn parse_id<T: std::str::FromStr>(s: &str) -> ApiResult<T> {
    s.parse()
        .map_err(|_| ApiError::internal(anyhow::anyhow!("malformed id in the database")))
}

/// The bearer token of a request, if it carries one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty() && t.len() <= 128)
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req).map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or(ApiError::Unauthenticated)?;
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no state")))?;
            let principal = state
                .db(move |conn| load_principal(conn, &token))
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            tracing::Span::current()
                .record("account_id", tracing::field::display(&principal.account_id));
            Ok(principal)
        })
    }
}
