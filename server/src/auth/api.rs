//! `/api/v1/auth/*` and `/api/v1/me*`: sign in and out, enrol with a code, who am I, my devices.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use diesel::prelude::*;
use reguide_protocol::api::{
    Device, EnrolRequest, EnrolResponse, LoginRequest, Me, Membership, TokenResponse,
};
use reguide_protocol::{AccountId, DeviceId, FamilyId, Language, MemberId, Role};
use uuid::Uuid;

use crate::accounts::{self, EmailAddress, NewAccountRow};
use crate::audit::{self, Object};
use crate::auth::principal::{Principal, parse_id};
use crate::auth::throttle::{self, ThrottleKey};
use crate::auth::{
    DEVICE_COLUMNS, DeviceRow, TokenKind, device_from_row, device_name, issue_token, password,
    tokens,
};
use crate::db::schema::{
    accounts as accounts_t, api_tokens, devices, enrolment_codes, family_members,
};
use crate::db::{DbConn, now};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

type Err = reguide_protocol::ErrorBody;

/// The client address failed attempts are counted against.
fn client_address(req: &HttpRequest, state: &AppState) -> String {
    if state.config.trust_forwarded_for
        && let Some(addr) = req.connection_info().realip_remote_addr()
    {
        return addr.to_owned();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = Err),
        (status = 401, description = "wrong email or password (never says which)", body = Err),
        (status = 429, description = "too many failed attempts; see Retry-After", body = Err),
    ))]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest {
        email,
        password,
        device_name: device,
        device_id,
    } = body.into_inner();
    let login = email.trim().to_lowercase();
    if login.is_empty() || login.len() > 254 {
        return Err(ApiError::invalid(
            "invalid_value",
            "email",
            "give the email address or username",
        ));
    }
    let device = device.as_deref().map(device_name).transpose()?;
    let verified = check_password(&req, &state, &login, password).await?;
    let config = state.config.auth.clone();
    let session = state
        .write(move |conn| {
            let account = verified.account;
            let kind = match (enrolled_device(conn, account, device_id)?, &device) {
                (Some(known), _) => TokenKind::Renewal(known),
                (None, Some(name)) => TokenKind::NewDevice(name),
                (None, None) => TokenKind::Session,
            };
            verified.sign_in(conn, kind, &config)
        })
        .await?;
    Ok(HttpResponse::Ok().json(session))
}

/// An account whose password was just checked; [`Verified::sign_in`] gives it its token.
#[derive(Debug)]
pub struct Verified {
    pub account: AccountId,
    keys: Vec<ThrottleKey>,
}

impl Verified {
    /// Issues the token, inside the write transaction: the throttle is checked once more (a
    /// lock taken meanwhile wins) and the login name's failures are forgotten.
    pub fn sign_in(
        self,
        conn: &mut DbConn,
        kind: TokenKind<'_>,
        config: &crate::config::AuthConfig,
    ) -> ApiResult<reguide_protocol::api::TokenResponse> {
        throttle::check(conn, &self.keys, now())?;
        throttle::settle(conn, &self.keys)?;
        let session = issue_token(conn, self.account, kind, config)?;
        audit::record(
            conn,
            Some(self.account),
            "login_succeeded",
            Some(Object::new("account", &self.account)),
        )?;
        Ok(session)
    }
}

/// Checks a login name (email or username, already trimmed and lower-cased) and password, the
/// one way every sign-in goes (the API and the web admin): throttled per login name and per
/// client address, as slow for unknown names as for known ones, each failure recorded and
/// slowing the next answer. Never says which of the two was wrong.
pub async fn check_password(
    req: &HttpRequest,
    state: &AppState,
    login_name: &str,
    password: String,
) -> ApiResult<Verified> {
    if password.is_empty() || password.chars().count() > password::MAX_LEN {
        return Err(ApiError::InvalidCredentials);
    }
    let config = state.config.auth.clone();
    let keys = vec![
        ThrottleKey::login_name(login_name, &config),
        ThrottleKey::address("login-addr", &client_address(req, state), &config),
    ];

    let (check_keys, lookup) = (keys.clone(), login_name.to_owned());
    let (attempt, account) = state
        .write(move |conn| {
            let attempt = throttle::reserve(conn, &check_keys, &config, now())?;
            if attempt.allowed().is_err() {
                return Ok((attempt, None));
            }
            let found: Option<(String, String, bool)> = accounts_t::table
                .filter(
                    accounts_t::email
                        .eq(&lookup)
                        .or(accounts_t::username.eq(&lookup)),
                )
                .select((
                    accounts_t::id,
                    accounts_t::password_hash,
                    accounts_t::disabled,
                ))
                .first(conn)
                .optional()?;
            Ok((attempt, found))
        })
        .await?;
    let attempts = attempt.allowed()?;

    let verified = web::block(move || match &account {
        Some((id, hash, disabled)) => {
            let ok = password::verify(&password, hash);
            (Some(id.clone()), ok && !disabled)
        }
        None => {
            password::verify_against_dummy(&password);
            (None, false)
        }
    })
    .await?;

    match verified {
        (Some(id), true) => Ok(Verified {
            account: parse_id(&id)?,
            keys,
        }),
        (known, _) => {
            // The attempt was counted before the check: a failure may lock, and is recorded.
            let config = state.config.auth.clone();
            state
                .write(move |conn| {
                    throttle::failed(conn, &keys, &config, now())?;
                    // A failure names the account only when it exists; the attempted login
                    // name is never stored.
                    let object = known.as_ref().map(|id| Object::new("account", id));
                    audit::record(conn, None, "login_failed", object)
                })
                .await?;
            actix_web::rt::time::sleep(throttle::delay(attempts, &state.config.auth)).await;
            Err(ApiError::InvalidCredentials)
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "the token no longer works; a device signing out is \
        signed out for good (its tokens and the device itself are revoked)"),
        (status = 401, body = Err)),
    security(("bearer" = [])))]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    state
        .write(move |conn| end_session(conn, &principal))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends the session `principal` came with: its token, and for a device the device itself and
/// all its tokens (a phone that signs out has wiped its data).
pub fn end_session(conn: &mut DbConn, principal: &Principal) -> ApiResult<()> {
    diesel::update(api_tokens::table.find(&principal.token_id))
        .set(api_tokens::revoked_at.eq(now()))
        .execute(conn)?;
    if let Some(device) = principal.device_id {
        diesel::update(devices::table.find(device.to_string()))
            .set(devices::revoked_at.eq(now()))
            .execute(conn)?;
        diesel::update(
            api_tokens::table
                .filter(api_tokens::device_id.eq(device.to_string()))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now()))
        .execute(conn)?;
    }
    audit::record(conn, Some(principal.account_id), "logout", None)
}

/// `device` if it is one of `account`'s enrolled devices that was not revoked.
fn enrolled_device(
    conn: &mut DbConn,
    account: AccountId,
    device: Option<DeviceId>,
) -> ApiResult<Option<DeviceId>> {
    let Some(device) = device else {
        return Ok(None);
    };
    let found = devices::table
        .find(device.to_string())
        .filter(devices::account_id.eq(account.to_string()))
        .filter(devices::revoked_at.is_null())
        .select(devices::id)
        .first::<String>(conn)
        .optional()?;
    Ok(found.map(|_| device))
}

/// How long a renewed device's old token keeps working: the renewal's answer may be lost on a
/// bad connection, and the phone then renews again with the old token instead of being signed
/// out.
const RENEWAL_GRACE_DAYS: i64 = 7;

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    responses(
        (status = 200, description = "a new token for the same device, with a new expiry; the old \
            token keeps working for 7 more days at most", body = TokenResponse),
        (status = 401, body = Err),
        (status = 403, description = "`not_a_device`: only an enrolled device's token is renewed; \
            a browser or script signs in again", body = Err),
    ),
    security(("bearer" = [])))]
#[post("/auth/refresh")]
pub async fn refresh(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let Some(device) = principal.device_id else {
        return Err(ApiError::Refused {
            code: "not_a_device",
            field: None,
            message: "only an enrolled device's token is renewed; sign in again".into(),
        });
    };
    let config = state.config.auth.clone();
    let token = state
        .write(move |conn| {
            let grace = now() + chrono::Duration::days(RENEWAL_GRACE_DAYS);
            diesel::update(
                api_tokens::table
                    .find(&principal.token_id)
                    .filter(api_tokens::expires_at.gt(grace)),
            )
            .set(api_tokens::expires_at.eq(grace))
            .execute(conn)?;
            let token = issue_token(
                conn,
                principal.account_id,
                TokenKind::Renewal(device),
                &config,
            )?;
            audit::record(
                conn,
                Some(principal.account_id),
                "token_renewed",
                Some(Object::new("device", &device)),
            )?;
            Ok(token)
        })
        .await?;
    Ok(HttpResponse::Ok().json(token))
}

#[utoipa::path(post, path = "/api/v1/auth/enrol", tag = "auth", request_body = EnrolRequest,
    responses(
        (status = 200, body = EnrolResponse),
        (status = 400, description = "unknown, used or expired code; weak password", body = Err),
        (status = 409, body = Err),
        (status = 429, body = Err),
    ))]
#[post("/auth/enrol")]
pub async fn enrol(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<EnrolRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let device = device_name(&body.device_name)?;
    password::check_policy(&body.password)?;
    let email = body
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| EmailAddress::parse(e, "email"))
        .transpose()?;
    let config = state.config.auth.clone();
    let key = vec![ThrottleKey::address(
        "enrol-addr",
        &client_address(&req, &state),
        &config,
    )];
    let (reserve_key, reserve_config) = (key.clone(), config.clone());
    let attempts = state
        .write(move |conn| throttle::reserve(conn, &reserve_key, &reserve_config, now()))
        .await?
        .allowed()?;

    let Some(code) = tokens::normalise_enrolment_code(&body.code) else {
        return refuse_code(&state, key, attempts).await;
    };
    let password = body.password;
    let hash = web::block(move || password::hash(&password))
        .await?
        .map_err(ApiError::internal)?;
    let (redeem_config, settle_key) = (config.clone(), key.clone());
    let redeemed = state
        .write(move |conn| {
            let redeemed = redeem(conn, &code, hash, email, &device, &redeem_config)?;
            // A code that worked gives its attempt back to the address.
            throttle::settle(conn, &settle_key)?;
            Ok(redeemed)
        })
        .await;
    match redeemed {
        Err(ApiError::Invalid {
            code: "invalid_enrolment_code",
            ..
        }) => refuse_code(&state, key, attempts).await,
        other => Ok(HttpResponse::Ok().json(other?)),
    }
}

/// A wrong code: its attempt stays counted against the address (which it may lock); the answer
/// is held back.
async fn refuse_code(
    state: &AppState,
    key: Vec<ThrottleKey>,
    attempts: i32,
) -> ApiResult<HttpResponse> {
    let config = state.config.auth.clone();
    state
        .write(move |conn| throttle::failed(conn, &key, &config, now()))
        .await?;
    actix_web::rt::time::sleep(throttle::delay(attempts, &state.config.auth)).await;
    Err(invalid_code())
}

fn invalid_code() -> ApiError {
    ApiError::invalid(
        "invalid_enrolment_code",
        "code",
        "this code is unknown, already used or expired; ask your social worker for a new one",
    )
}

/// Redeems a code: sets the member's password (creating the account on first enrolment),
/// registers the device and returns its token. All or nothing.
fn redeem(
    conn: &mut DbConn,
    code: &str,
    password_hash: String,
    email: Option<EmailAddress>,
    device: &str,
    config: &crate::config::AuthConfig,
) -> ApiResult<EnrolResponse> {
    let now = now();
    let found: Option<(String, String)> = enrolment_codes::table
        .filter(enrolment_codes::code_hash.eq(tokens::digest(code)))
        .filter(enrolment_codes::used_at.is_null())
        .filter(enrolment_codes::expires_at.gt(now))
        .select((enrolment_codes::id, enrolment_codes::member_id))
        .first(conn)
        .optional()?;
    let Some((code_id, member_id)) = found else {
        return Err(invalid_code());
    };
    // Marking the code used first makes a concurrent second redemption find nothing.
    let marked = diesel::update(
        enrolment_codes::table
            .find(&code_id)
            .filter(enrolment_codes::used_at.is_null()),
    )
    .set(enrolment_codes::used_at.eq(now))
    .execute(conn)?;
    if marked == 0 {
        return Err(invalid_code());
    }
    let (family_id, account_id, display_name, language): (String, Option<String>, String, String) =
        family_members::table
            .find(&member_id)
            .select((
                family_members::family_id,
                family_members::account_id,
                family_members::display_name,
                family_members::preferred_language,
            ))
            .first(conn)?;
    let family: FamilyId = parse_id(&family_id)?;
    let member: MemberId = parse_id(&member_id)?;
    let account = match account_id {
        Some(existing) => {
            // A member who lost a phone or a password: the code resets the password and adds
            // a device. The old devices stay until someone revokes them.
            let account: AccountId = parse_id(&existing)?;
            diesel::update(accounts_t::table.find(&existing))
                .set(accounts_t::password_hash.eq(&password_hash))
                .execute(conn)?;
            if let Some(email) = &email {
                let taken: i64 = accounts_t::table
                    .filter(accounts_t::email.eq(email.as_str()))
                    .filter(accounts_t::id.ne(&existing))
                    .count()
                    .get_result(conn)?;
                if taken > 0 {
                    return Err(ApiError::conflict(
                        "email_taken",
                        "another account already uses this email address",
                    ));
                }
                diesel::update(accounts_t::table.find(&existing))
                    .set(accounts_t::email.eq(email.as_str()))
                    .execute(conn)?;
            }
            account
        }
        None => {
            let username = unused_username(conn)?;
            let account = accounts::insert_account(
                conn,
                NewAccountRow {
                    email,
                    username,
                    display_name,
                    language: Language::from_code(&language).unwrap_or(Language::En),
                    password_hash,
                },
            )?;
            diesel::update(family_members::table.find(&member_id))
                .set(family_members::account_id.eq(account.to_string()))
                .execute(conn)?;
            accounts::grant_role(conn, account, Role::FamilyMember, None, Some(family))?;
            account
        }
    };
    let session = issue_token(conn, account, TokenKind::NewDevice(device), config)?;
    audit::record(
        conn,
        Some(account),
        "enrolment_redeemed",
        Some(Object::new("member", &member)),
    )?;
    let username = accounts_t::table
        .find(account.to_string())
        .select(accounts_t::username)
        .first(conn)?;
    Ok(EnrolResponse {
        session,
        username,
        family_id: family,
        member_id: member,
    })
}

fn unused_username(conn: &mut DbConn) -> ApiResult<String> {
    for _ in 0..8 {
        let candidate = tokens::new_username();
        let taken: i64 = accounts_t::table
            .filter(accounts_t::username.eq(&candidate))
            .count()
            .get_result(conn)?;
        if taken == 0 {
            return Ok(candidate);
        }
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "no free username after 8 tries"
    )))
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = Err)),
    security(("bearer" = [])))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let me = state
        .db(move |conn| {
            let account = accounts::load_account(conn, principal.account_id)?;
            Ok(Me {
                account_id: account.id,
                email: account.email,
                username: account.username,
                display_name: account.display_name,
                preferred_language: account.preferred_language,
                roles: account.roles,
                member_of: principal
                    .memberships
                    .iter()
                    .filter(|(family, _)| principal.member_in(*family).is_some())
                    .map(|(family_id, member_id)| Membership {
                        family_id: *family_id,
                        member_id: *member_id,
                    })
                    .collect(),
                caseload: if principal.has_role(Role::SocialWorker) {
                    account.caseload
                } else {
                    Vec::new()
                },
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}

#[utoipa::path(get, path = "/api/v1/me/devices", tag = "auth",
    responses((status = 200, body = [Device]), (status = 401, body = Err)),
    security(("bearer" = [])))]
#[get("/me/devices")]
pub async fn my_devices(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<HttpResponse> {
    let list = state
        .db(move |conn| {
            devices::table
                .filter(devices::account_id.eq(principal.account_id.to_string()))
                .filter(devices::revoked_at.is_null())
                .order(devices::created_at.asc())
                .select(DEVICE_COLUMNS)
                .load::<DeviceRow>(conn)?
                .into_iter()
                .map(device_from_row)
                .collect::<ApiResult<Vec<_>>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(delete, path = "/api/v1/me/devices/{device_id}", tag = "auth",
    params(("device_id" = Uuid, Path)),
    responses((status = 204, description = "the device and its tokens are revoked"),
        (status = 401, body = Err), (status = 404, body = Err)),
    security(("bearer" = [])))]
#[delete("/me/devices/{device_id}")]
pub async fn revoke_device(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let device = DeviceId(path.into_inner());
    state
        .write(move |conn| {
            let now = now();
            let revoked = diesel::update(
                devices::table
                    .find(device.to_string())
                    .filter(devices::account_id.eq(principal.account_id.to_string()))
                    .filter(devices::revoked_at.is_null()),
            )
            .set(devices::revoked_at.eq(now))
            .execute(conn)?;
            if revoked == 0 {
                return Err(ApiError::not_found(
                    "device_not_found",
                    "you have no such device",
                ));
            }
            diesel::update(api_tokens::table.filter(api_tokens::device_id.eq(device.to_string())))
                .set(api_tokens::revoked_at.eq(now))
                .execute(conn)?;
            audit::record(
                conn,
                Some(principal.account_id),
                "device_revoked",
                Some(Object::new("device", &device)),
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
