//! Failed sign-ins are counted per login name and per client address, in the database so that
//! every server instance sees the same counts. Each failure slows the next answer; past a limit
//! the key is locked for a while. Unknown login names are counted exactly like known ones, so
//! the answers never tell whether an account exists.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::auth::tokens::digest;
use crate::config::AuthConfig;
use crate::db::DbConn;
use crate::db::schema::login_throttle;
use crate::error::{ApiError, ApiResult, is_unique_violation};

/// A throttled key with its failure limit. Keys are hashed: the table holds no email or address.
#[derive(Clone, Debug)]
pub struct ThrottleKey {
    key: String,
    limit: i32,
}

impl ThrottleKey {
    pub fn login_name(login: &str, config: &AuthConfig) -> Self {
        Self {
            key: format!("login:{}", digest(&login.trim().to_lowercase())),
            limit: config.max_failures_per_account,
        }
    }

    pub fn address(scope: &str, addr: &str, config: &AuthConfig) -> Self {
        Self {
            key: format!("{scope}:{}", digest(addr)),
            limit: config.max_failures_per_address,
        }
    }
}

/// Refuses with `too_many_attempts` while any of the keys is locked.
pub fn check(conn: &mut DbConn, keys: &[ThrottleKey], now: NaiveDateTime) -> ApiResult<()> {
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    let locked: Option<NaiveDateTime> = login_throttle::table
        .filter(login_throttle::key.eq_any(names))
        .filter(login_throttle::locked_until.gt(now))
        .select(login_throttle::locked_until.assume_not_null())
        .order(login_throttle::locked_until.desc())
        .first(conn)
        .optional()?;
    match locked {
        Some(until) => Err(ApiError::TooManyAttempts {
            retry_after_secs: (until - now).num_seconds().max(1) as u64,
        }),
        None => Ok(()),
    }
}

/// Counts one failure against each key, locking those that reach their limit. Returns the
/// highest failure count in the window, which sets how long the answer is held back.
pub fn record_failure(
    conn: &mut DbConn,
    keys: &[ThrottleKey],
    config: &AuthConfig,
    now: NaiveDateTime,
) -> ApiResult<i32> {
    let window_start = now - Duration::minutes(config.failure_window_minutes);
    let mut worst = 0;
    for key in keys {
        let failures = bump(conn, &key.key, now, window_start)?;
        if failures >= key.limit {
            diesel::update(login_throttle::table.find(&key.key))
                .set(
                    login_throttle::locked_until
                        .eq(now + Duration::minutes(config.lockout_minutes)),
                )
                .execute(conn)?;
        }
        worst = worst.max(failures);
    }
    Ok(worst)
}

fn bump(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    window_start: NaiveDateTime,
) -> ApiResult<i32> {
    let current: Option<(i32, NaiveDateTime)> = login_throttle::table
        .find(key)
        .select((login_throttle::failures, login_throttle::window_started_at))
        .first(conn)
        .optional()?;
    match current {
        Some((_, started)) if started < window_start => {
            diesel::update(login_throttle::table.find(key))
                .set((
                    login_throttle::failures.eq(1),
                    login_throttle::window_started_at.eq(now),
                    login_throttle::locked_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            Ok(1)
        }
        Some(_) => increment(conn, key),
        None => {
            // A savepoint keeps a lost insert race from aborting the caller's transaction on
            // PostgreSQL; the loser counts on the winner's row.
            let inserted = conn.transaction(|c| {
                diesel::insert_into(login_throttle::table)
                    .values((
                        login_throttle::key.eq(key),
                        login_throttle::failures.eq(1),
                        login_throttle::window_started_at.eq(now),
                    ))
                    .execute(c)
            });
            match inserted {
                Ok(_) => Ok(1),
                Err(e) if is_unique_violation(&e) => increment(conn, key),
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn increment(conn: &mut DbConn, key: &str) -> ApiResult<i32> {
    Ok(diesel::update(login_throttle::table.find(key))
        .set(login_throttle::failures.eq(login_throttle::failures + 1))
        .returning(login_throttle::failures)
        .get_result(conn)?)
}

/// Forgets the failures of a key after a successful sign-in.
pub fn clear(conn: &mut DbConn, key: &ThrottleKey) -> ApiResult<()> {
    diesel::delete(login_throttle::table.find(&key.key)).execute(conn)?;
    Ok(())
}

/// How long to hold back the answer after the `failures`-th failure.
pub fn delay(failures: i32, config: &AuthConfig) -> std::time::Duration {
    std::time::Duration::from_millis(config.failure_delay_ms * failures.clamp(0, 8) as u64)
}
