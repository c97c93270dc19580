//! Signing in: passwords, bearer tokens, devices, enrolment codes, login throttling, and the
//! [`principal::Principal`] every protected handler receives.

pub mod api;
pub mod password;
pub mod principal;
pub mod throttle;
pub mod tokens;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use reguide_protocol::api::{Device, TokenResponse};
use reguide_protocol::{AccountId, DeviceId};

use crate::db::schema::{api_tokens, devices};
use crate::db::{DbConn, now, to_utc};
use crate::error::ApiResult;

/// The columns of a device, as [`device_from_row`] reads them.
pub const DEVICE_COLUMNS: (
    devices::id,
    devices::name,
    devices::actor_id,
    devices::created_at,
    devices::last_seen_at,
) = (
    devices::id,
    devices::name,
    devices::actor_id,
    devices::created_at,
    devices::last_seen_at,
);

pub type DeviceRow = (String, String, String, NaiveDateTime, Option<NaiveDateTime>);

pub fn device_from_row(
    (id, name, actor_id, created_at, last_seen_at): DeviceRow,
) -> ApiResult<Device> {
    Ok(Device {
        id: principal::parse_id(&id)?,
        name,
        actor_id,
        created_at: to_utc(created_at),
        last_seen_at: last_seen_at.map(to_utc),
    })
}

/// What a new token is for.
#[derive(Debug)]
pub enum TokenKind<'a> {
    /// A plain sign-in (scripts, the API without a device): short-lived.
    Session,
    /// A web admin session, held in a cookie: ends after `web.absolute_hours` at the latest,
    /// or after `web.idle_minutes` without use.
    Web,
    /// A newly enrolled device with this name: long-lived, with its own actor id.
    NewDevice(&'a str),
    /// A new token for a device that has one: as long-lived, same device and actor id.
    Renewal(DeviceId),
}

/// Issues a token (and registers a device) for an account. Call inside the transaction that
/// decided the account may have it.
pub fn issue_token(
    conn: &mut DbConn,
    account: AccountId,
    kind: TokenKind<'_>,
    config: &crate::config::AuthConfig,
) -> ApiResult<TokenResponse> {
    let now = now();
    let web = matches!(kind, TokenKind::Web);
    let (device, expires_at): (Option<Device>, NaiveDateTime) = match kind {
        TokenKind::Session => (None, now + Duration::hours(config.session_ttl_hours)),
        TokenKind::Web => (None, now + Duration::hours(config.web_absolute_hours)),
        TokenKind::NewDevice(name) => {
            let device = Device {
                id: DeviceId::new(),
                name: name.to_owned(),
                actor_id: tokens::new_actor_id(),
                created_at: to_utc(now),
                last_seen_at: Some(to_utc(now)),
            };
            diesel::insert_into(devices::table)
                .values((
                    devices::id.eq(device.id.to_string()),
                    devices::account_id.eq(account.to_string()),
                    devices::name.eq(&device.name),
                    devices::actor_id.eq(&device.actor_id),
                    devices::created_at.eq(now),
                    devices::last_seen_at.eq(now),
                ))
                .execute(conn)?;
            (
                Some(device),
                now + Duration::days(config.device_token_ttl_days),
            )
        }
        TokenKind::Renewal(id) => {
            diesel::update(devices::table.find(id.to_string()))
                .set(devices::last_seen_at.eq(now))
                .execute(conn)?;
            let row = devices::table
                .find(id.to_string())
                .select(DEVICE_COLUMNS)
                .first::<DeviceRow>(conn)?;
            (
                Some(device_from_row(row)?),
                now + Duration::days(config.device_token_ttl_days),
            )
        }
    };
    let token = tokens::new_token();
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(uuid::Uuid::new_v4().to_string()),
            api_tokens::token_hash.eq(tokens::digest(&token)),
            api_tokens::account_id.eq(account.to_string()),
            api_tokens::device_id.eq(device.as_ref().map(|d| d.id.to_string())),
            api_tokens::created_at.eq(now),
            api_tokens::expires_at.eq(expires_at),
            api_tokens::last_used_at.eq(now),
            api_tokens::web.eq(web),
        ))
        .execute(conn)?;
    Ok(TokenResponse {
        token,
        expires_at: to_utc(expires_at),
        account_id: account,
        device,
    })
}

/// Checks a device name: trimmed, 1 to 100 characters.
pub fn device_name(raw: &str) -> ApiResult<String> {
    crate::accounts::display_name(raw, "device_name")
}
