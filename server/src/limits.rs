//! Request limits per client: every request spends a token from the bucket of its device (its
//! bearer token) or web session, and from the bucket of its address. A bucket holds `burst`
//! tokens and refills at `per_minute`; an empty one answers 429 `too_many_requests` with
//! `Retry-After`, before any database work. A phone that syncs and reads its agenda stays far
//! below the device limit; a runaway or hostile client is held to it without slowing anyone
//! else. The address bucket catches floods that change credentials on every request (random
//! tokens); it is generous because families may share an address (a visitor centre's network).
//!
//! Buckets live in each instance's memory: with N instances behind a balancer a client may make
//! up to N times the limit. Keys are hashed with a per-process random key and never logged.
//! `/health` and `/ready` are not limited (load balancers poll them).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use crate::config::Config;
use crate::error::ApiError;
use crate::web::session::SESSION_COOKIE;

/// Above this many buckets, full (idle) ones are dropped; should a flood of new keys still
/// leave more, all are dropped rather than let memory grow.
const MAX_BUCKETS: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one kind of key, with its limit.
/// A token bucket's settings.
#[derive(Clone, Copy, Debug)]
struct Limit {
    per_minute: u32,
    burst: u32,
}

#[derive(Debug)]
struct Buckets {
    limit: Limit,
    map: Mutex<HashMap<u64, Bucket>>,
}

impl Buckets {
    fn new(limit: Limit) -> Self {
        Self {
            limit,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn rate_per_sec(&self) -> f64 {
        f64::from(self.limit.per_minute) / 60.0
    }

    /// Takes a token for `key` at `now`; `Err(wait)` when the bucket is empty.
    fn take(&self, key: u64, now: Instant) -> Result<(), Duration> {
        if self.limit.per_minute == 0 {
            return Ok(());
        }
        let burst = f64::from(self.limit.burst.max(1));
        let rate = self.rate_per_sec();
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= MAX_BUCKETS && !map.contains_key(&key) {
            let refill = Duration::from_secs_f64(burst / rate);
            map.retain(|_, b| now.saturating_duration_since(b.at) < refill);
            if map.len() >= MAX_BUCKETS {
                tracing::warn!("request limit buckets full: starting afresh");
                map.clear();
            }
        }
        let bucket = map.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }

    /// Gives back a token taken by [`Buckets::take`] for a request another bucket refused.
    fn give_back(&self, key: u64) {
        if self.limit.per_minute == 0 {
            return;
        }
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bucket) = map.get_mut(&key) {
            bucket.tokens = (bucket.tokens + 1.0).min(f64::from(self.limit.burst.max(1)));
        }
    }
}

/// The limits of one instance, shared by its HTTP workers.
#[derive(Debug)]
pub struct RequestLimiter {
    hasher: RandomState,
    trust_forwarded_for: bool,
    clients: Buckets,
    addresses: Buckets,
}

/// Who a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// A device or script by its bearer token, or a web session by its cookie.
    Credential(u64),
    /// Nothing but an address.
    Anonymous,
}

impl RequestLimiter {
    pub fn new(config: &Config) -> Self {
        Self {
            hasher: RandomState::new(),
            trust_forwarded_for: config.trust_forwarded_for,
            clients: Buckets::new(Limit {
                per_minute: config.limits.device_per_minute,
                burst: config.limits.device_burst,
            }),
            addresses: Buckets::new(Limit {
                per_minute: config.limits.address_per_minute,
                burst: config.limits.address_burst,
            }),
        }
    }

    fn client_of(&self, req: &ServiceRequest) -> Client {
        if let Some(token) = crate::auth::principal::bearer_token(req.request()) {
            return Client::Credential(self.hasher.hash_one(("bearer", token)));
        }
        if let Some(cookie) = req.cookie(SESSION_COOKIE) {
            return Client::Credential(self.hasher.hash_one(("session", cookie.value())));
        }
        Client::Anonymous
    }

    fn address_of(&self, req: &ServiceRequest) -> u64 {
        let address = if self.trust_forwarded_for {
            req.connection_info()
                .realip_remote_addr()
                .map(str::to_owned)
        } else {
            req.peer_addr().map(|a| a.ip().to_string())
        };
        self.hasher
            .hash_one(("address", address.as_deref().unwrap_or("unknown")))
    }

    /// Takes a token from each of the request's buckets, or says how long to wait.
    fn admit(&self, req: &ServiceRequest, now: Instant) -> Result<(), Duration> {
        let address = self.address_of(req);
        self.addresses.take(address, now)?;
        if let Client::Credential(key) = self.client_of(req)
            && let Err(wait) = self.clients.take(key, now)
        {
            self.addresses.give_back(address);
            return Err(wait);
        }
        Ok(())
    }
}

/// The middleware: refuses a request over its limits with 429 before it reaches a handler.
pub async fn limit_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let path = req.path();
    let exempt = path == "/health" || path == "/ready";
    if !exempt
        && let Some(limiter) = req.app_data::<web::Data<RequestLimiter>>()
        && let Err(wait) = limiter.admit(&req, Instant::now())
    {
        let error = ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        };
        let response = error.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(per_minute: u32, burst: u32) -> Buckets {
        Buckets::new(Limit { per_minute, burst })
    }

    #[test]
    fn a_burst_passes_then_the_pace_holds() {
        let b = buckets(60, 5);
        let start = Instant::now();
        for _ in 0..5 {
            assert!(b.take(1, start).is_ok());
        }
        let wait = b.take(1, start).expect_err("the sixth at once is refused");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        // One a second comes back.
        assert!(b.take(1, start + Duration::from_millis(1_001)).is_ok());
        assert!(b.take(1, start + Duration::from_millis(1_002)).is_err());
        // Another key has its own bucket.
        assert!(b.take(2, start).is_ok());
    }

    #[test]
    fn an_idle_bucket_refills_to_its_burst_and_no_more() {
        let b = buckets(600, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(b.take(7, start).is_ok());
        }
        let later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take(7, later).is_ok());
        }
        assert!(b.take(7, later).is_err());
    }

    #[test]
    fn zero_per_minute_means_no_limit() {
        let b = buckets(0, 0);
        let now = Instant::now();
        assert!((0..10_000).all(|_| b.take(1, now).is_ok()));
    }

    #[test]
    fn a_flood_of_new_keys_keeps_memory_bounded() {
        let b = buckets(60, 2);
        let now = Instant::now();
        for key in 0..(MAX_BUCKETS as u64 + 10) {
            let _ = b.take(key, now);
        }
        let len = b.map.lock().map(|m| m.len()).unwrap_or(0);
        assert!(len <= MAX_BUCKETS, "{len} buckets");
        // Keys seen before the reset are limited afresh, not let through forever.
        assert!(b.take(u64::MAX, now).is_ok());
        assert!(b.take(u64::MAX, now).is_ok());
        assert!(b.take(u64::MAX, now).is_err());
    }

    #[test]
    fn a_refused_credential_gives_its_address_token_back() {
        let b = buckets(60, 1);
        let now = Instant::now();
        assert!(b.take(9, now).is_ok());
        assert!(b.take(9, now).is_err());
        b.give_back(9);
        assert!(b.take(9, now).is_ok());
    }
}
