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

/// What [`reserve`] decided for an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Go on and check the secret; this is the `n`-th attempt in the window.
    Allowed(i32),
    /// Refused: a key is locked (perhaps by this very attempt) for this long.
    Locked { retry_after_secs: u64 },
}

impl Attempt {
    /// The attempt count, or the refusal.
    pub fn allowed(self) -> ApiResult<i32> {
        match self {
            Self::Allowed(n) => Ok(n),
            Self::Locked { retry_after_secs } => {
                Err(ApiError::TooManyAttempts { retry_after_secs })
            }
        }
    }
}

/// Counts an attempt against each key *before* its secret is checked, in the caller's write
/// transaction. The count is one atomic increment per key, so however many attempts arrive at
/// once (on however many instances), no more than a key's limit are ever being checked or
/// failed in a window: an attempt that would pass the limit is not counted and is refused
/// ([`Attempt::Locked`], with the lock's time, or a second while others are still being
/// checked). Returned rather than raised so that the caller's transaction keeps the counts.
///
/// A failed attempt stays counted ([`failed`] locks the key when it reaches its limit); a
/// successful one gives its count back ([`settle`]).
pub fn reserve(
    conn: &mut DbConn,
    keys: &[ThrottleKey],
    config: &AuthConfig,
    now: NaiveDateTime,
) -> ApiResult<Attempt> {
    if let Err(ApiError::TooManyAttempts { retry_after_secs }) = check(conn, keys, now) {
        return Ok(Attempt::Locked { retry_after_secs });
    }
    let window_start = now - Duration::minutes(config.failure_window_minutes);
    let mut worst = 0;
    for (n, key) in keys.iter().enumerate() {
        let attempts = bump(conn, &key.key, now, window_start)?;
        if attempts > key.limit {
            for counted in &keys[..=n] {
                give_back(conn, counted)?;
            }
            return Ok(Attempt::Locked {
                retry_after_secs: 1,
            });
        }
        worst = worst.max(attempts);
    }
    Ok(Attempt::Allowed(worst))
}

/// After a failed attempt (already counted by [`reserve`]): locks each key whose failures
/// reached its limit.
pub fn failed(
    conn: &mut DbConn,
    keys: &[ThrottleKey],
    config: &AuthConfig,
    now: NaiveDateTime,
) -> ApiResult<()> {
    for key in keys {
        diesel::update(
            login_throttle::table
                .find(&key.key)
                .filter(login_throttle::failures.ge(key.limit)),
        )
        .set(login_throttle::locked_until.eq(now + Duration::minutes(config.lockout_minutes)))
        .execute(conn)?;
    }
    Ok(())
}

/// After a successful attempt: the login name's count is forgotten, and the attempt is given
/// back to the other keys (an address), so that people who sign in well never lock it.
pub fn settle(conn: &mut DbConn, keys: &[ThrottleKey]) -> ApiResult<()> {
    let Some((first, rest)) = keys.split_first() else {
        return Ok(());
    };
    if first.key.starts_with("login:") {
        clear(conn, first)?;
    } else {
        give_back(conn, first)?;
    }
    for key in rest {
        give_back(conn, key)?;
    }
    Ok(())
}

fn give_back(conn: &mut DbConn, key: &ThrottleKey) -> ApiResult<()> {
    diesel::update(
        login_throttle::table
            .find(&key.key)
            .filter(login_throttle::failures.gt(0)),
    )
    .set(login_throttle::failures.eq(login_throttle::failures - 1))
    .execute(conn)?;
    Ok(())
}

/// Adds one to a key's count in the current window and returns it. Another request may create
/// or delete (sign in well) the same row meanwhile; each such race is met by trying again.
fn bump(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    window_start: NaiveDateTime,
) -> ApiResult<i32> {
    for _ in 0..4 {
        let started: Option<NaiveDateTime> = login_throttle::table
            .find(key)
            .select(login_throttle::window_started_at)
            .first(conn)
            .optional()?;
        match started {
            Some(started) if started < window_start => {
                let restarted = diesel::update(
                    login_throttle::table
                        .find(key)
                        .filter(login_throttle::window_started_at.lt(window_start)),
                )
                .set((
                    login_throttle::failures.eq(1),
                    login_throttle::window_started_at.eq(now),
                    login_throttle::locked_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
                if restarted == 1 {
                    return Ok(1);
                }
            }
            Some(_) => {
                let counted: Option<i32> = diesel::update(login_throttle::table.find(key))
                    .set(login_throttle::failures.eq(login_throttle::failures + 1))
                    .returning(login_throttle::failures)
                    .get_result(conn)
                    .optional()?;
                if let Some(counted) = counted {
                    return Ok(counted);
                }
            }
            None => {
                // A savepoint keeps a lost insert race from aborting the caller's transaction
                // on PostgreSQL; the loser counts on the winner's row.
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
                    Ok(_) => return Ok(1),
                    Err(e) if is_unique_violation(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "a login throttle row kept changing under four attempts"
    )))
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
