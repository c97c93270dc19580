//! Floods: many requests at once against sign-in, one device, and one address. The throttle
//! holds exactly (no more password checks than the limit, however many arrive together), the
//! request limits answer 429 with `Retry-After` before any work, other clients go on unharmed,
//! and nothing answers 5xx.

use std::collections::BTreeMap;

use reguide_tests::{Backend, DEMO_PASSWORD, DemoUser, TestApp, assert_error, both_backends};
use serde_json::json;

const LOGIN: &str = "/api/v1/auth/login";

/// Sends all requests at once; returns how many got each status, and one body per status.
async fn at_once(requests: Vec<reqwest::RequestBuilder>) -> BTreeMap<u16, (usize, String)> {
    let mut set = tokio::task::JoinSet::new();
    for request in requests {
        set.spawn(async move {
            let resp = request.send().await.expect("a response");
            let status = resp.status().as_u16();
            let retry_after = resp.headers().contains_key(reqwest::header::RETRY_AFTER);
            let body = resp.text().await.unwrap_or_default();
            (status, retry_after, body)
        });
    }
    let mut counts: BTreeMap<u16, (usize, String)> = BTreeMap::new();
    while let Some(done) = set.join_next().await {
        let (status, retry_after, body) = done.expect("the request task ran");
        if status == 429 {
            assert!(retry_after, "a 429 without Retry-After: {body}");
        }
        let entry = counts.entry(status).or_insert((0, body));
        entry.0 += 1;
    }
    counts
}

fn count(counts: &BTreeMap<u16, (usize, String)>, status: u16) -> usize {
    counts.get(&status).map_or(0, |(n, _)| *n)
}

fn code_of(counts: &BTreeMap<u16, (usize, String)>, status: u16) -> String {
    let body = counts.get(&status).map(|(_, b)| b.as_str()).unwrap_or("{}");
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn login_request(app: &TestApp, email: &str, password: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url(LOGIN))
        .json(&json!({ "email": email, "password": password }))
}

both_backends! {
    async fn a_flood_of_guesses_checks_no_more_passwords_than_the_limit(app: TestApp) {
        let email = DemoUser::Coordinator.email();
        let limit = app.config.auth.max_failures_per_account as usize;
        let guesses = (0..100)
            .map(|n| login_request(&app, email, &format!("guess {n}")))
            .collect();
        let counts = at_once(guesses).await;
        // Each attempt is counted before its password is checked: exactly `limit` were checked,
        // all others were refused unchecked.
        assert_eq!(count(&counts, 401), limit, "{counts:?}");
        assert_eq!(count(&counts, 429), 100 - limit, "{counts:?}");
        assert_eq!(code_of(&counts, 429), "too_many_attempts");
        // Locked: the right password is refused too, until the lock ends.
        assert_error(
            login_request(&app, email, DEMO_PASSWORD).send().await.expect("response"),
            429,
            "too_many_attempts",
        )
        .await;
        // Only that name is locked: the address made no more than `limit` failed checks.
        app.login_as(DemoUser::SocialWorker).await;
    }

    async fn a_flood_across_many_names_locks_the_address(app: TestApp) {
        let limit = app.config.auth.max_failures_per_address as usize;
        let guesses = (0..limit + 30)
            .map(|n| login_request(&app, &format!("nobody{n}@example.org"), "guess"))
            .collect();
        let counts = at_once(guesses).await;
        assert_eq!(count(&counts, 401), limit, "{counts:?}");
        assert_eq!(count(&counts, 429), 30, "{counts:?}");
        // The address is locked for everyone signing in from it.
        let resp = login_request(&app, DemoUser::SocialWorker.email(), DEMO_PASSWORD)
            .send()
            .await
            .expect("response");
        assert_error(resp, 429, "too_many_attempts").await;
    }

    async fn people_who_sign_in_well_never_lock_their_address(backend: Backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.auth.max_failures_per_address = 10;
        })
        .await;
        // Thirty good sign-ins, five at a time, and one wrong password, from one address (a
        // visitor centre): good sign-ins give their count back.
        for wave in DemoUser::ALL.iter().cycle().take(30).collect::<Vec<_>>().chunks(5) {
            let requests = wave
                .iter()
                .map(|user| login_request(&app, user.email(), DEMO_PASSWORD))
                .collect();
            let counts = at_once(requests).await;
            assert_eq!(count(&counts, 200), wave.len(), "{counts:?}");
        }
        let wrong = login_request(&app, DemoUser::Admin.email(), "wrong").send().await;
        assert_error(wrong.expect("response"), 401, "invalid_credentials").await;
        app.login_as(DemoUser::Facilitator).await;
        // More at once than the limit: those past it are asked to come back in a second, and
        // nothing is locked.
        let burst = DemoUser::ALL
            .iter()
            .cycle()
            .take(25)
            .map(|user| login_request(&app, user.email(), DEMO_PASSWORD))
            .collect();
        let counts = at_once(burst).await;
        assert_eq!(count(&counts, 200) + count(&counts, 429), 25, "{counts:?}");
        assert!(count(&counts, 200) >= 9, "{counts:?}");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        for user in DemoUser::ALL {
            app.login_as(user).await;
        }
    }

    async fn a_device_over_its_limit_is_held_back_and_no_one_else(backend: Backend) {
        let app = TestApp::spawn_with(backend, |config| {
            // One request every five seconds after a burst of twenty.
            config.limits.device_per_minute = 12;
            config.limits.device_burst = 20;
        })
        .await;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let started = std::time::Instant::now();
        let flood = (0..100)
            .map(|_| app.client.get(app.url("/api/v1/me")).bearer_auth(&family))
            .collect();
        let counts = at_once(flood).await;
        // The burst, plus what refilled while the flood ran.
        let refilled = started.elapsed().as_secs() as usize / 5 + 1;
        let ok = count(&counts, 200);
        assert!((20..=20 + refilled).contains(&ok), "{counts:?}");
        assert_eq!(count(&counts, 429), 100 - ok, "{counts:?}");
        assert_eq!(code_of(&counts, 429), "too_many_requests");
        // Still held back, told how long to wait; the coordinator is served meanwhile, and
        // load balancers are never limited.
        let resp = app.get("/api/v1/me", Some(&family)).await;
        let wait: u64 = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in seconds");
        assert!((1..=5).contains(&wait), "Retry-After {wait}");
        assert_error(resp, 429, "too_many_requests").await;
        app.me(&coordinator).await;
        let health = app.client.get(app.url("/health")).send().await.expect("health");
        assert_eq!(health.status().as_u16(), 200);
        // After Retry-After, the device is served again.
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        app.me(&family).await;
    }

    async fn the_default_limits_hold_a_runaway_device(backend: Backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.limits = reguide_server::config::LimitsConfig::default();
        })
        .await;
        let burst = app.config.limits.device_burst as usize;
        let family = app.login_as(DemoUser::FamilyMember).await;
        let flood = (0..burst + 60)
            .map(|_| app.client.get(app.url("/api/v1/me")).bearer_auth(&family))
            .collect();
        let counts = at_once(flood).await;
        assert!(count(&counts, 200) >= burst, "{counts:?}");
        assert!(count(&counts, 429) > 0, "{counts:?}");
        assert_eq!(count(&counts, 200) + count(&counts, 429), burst + 60, "{counts:?}");
    }

    async fn a_flood_with_made_up_tokens_is_held_by_its_address(backend: Backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.limits.address_per_minute = 60;
            config.limits.address_burst = 30;
        })
        .await;
        let started = std::time::Instant::now();
        let flood = (0..100)
            .map(|n| {
                app.client
                    .get(app.url("/api/v1/me"))
                    .bearer_auth(format!("made-up-token-{n}"))
            })
            .collect();
        let counts = at_once(flood).await;
        let refilled = started.elapsed().as_secs() as usize + 1;
        let unauthenticated = count(&counts, 401);
        assert!((30..=30 + refilled).contains(&unauthenticated), "{counts:?}");
        assert_eq!(count(&counts, 429), 100 - unauthenticated, "{counts:?}");
        assert_eq!(code_of(&counts, 429), "too_many_requests");
    }
}
