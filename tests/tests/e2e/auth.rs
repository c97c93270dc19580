//! Signing in and out: demo accounts and their roles, devices, refusals, throttling, and the
//! audit trail of sign-ins.

use std::collections::BTreeSet;

use reguide_tests::protocol::api::{AuditPage, Device, TokenResponse};
use reguide_tests::protocol::{Language, Role};
use reguide_tests::{
    DEMO_PASSWORD, DemoUser, TestApp, assert_error, both_backends, expect_json, expect_status,
    member_named,
};
use serde_json::{Value, json};

const LOGIN: &str = "/api/v1/auth/login";

async fn login_with_device(app: &TestApp, user: DemoUser, device_name: &str) -> TokenResponse {
    let body = json!({
        "email": user.email(),
        "password": DEMO_PASSWORD,
        "device_name": device_name,
    });
    expect_json(app.post_json(LOGIN, None, &body).await, 200).await
}

/// A sign-in attempt with a wrong password (or unknown email): the raw response.
async fn attempt(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_json(
        LOGIN,
        None,
        &json!({ "email": email, "password": password }),
    )
    .await
}

fn assert_actor_id(device: &Device) {
    let actor = &device.actor_id;
    assert!(
        actor.len() == 32
            && actor
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "actor id {actor:?} is not 32 lower-case hex characters"
    );
}

both_backends! {
    async fn every_demo_account_signs_in_with_its_roles(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let fatima = member_named(&app.family(&admin, demo.family_a).await, "Fatima Benali").id;

        for user in DemoUser::ALL {
            let session = app
                .login(user.email(), DEMO_PASSWORD)
                .await
                .expect("demo login");
            assert!(!session.token.is_empty());
            assert!(
                session.device.is_none(),
                "{user:?}: no device was asked for"
            );
            assert!(
                session.expires_at > chrono::Utc::now(),
                "{user:?}: token already expired"
            );

            let me = app.me(&session.token).await;
            assert_eq!(me.account_id, session.account_id, "{user:?}");
            assert_eq!(me.account_id, demo.account(user), "{user:?}");
            assert_eq!(me.email.as_deref(), Some(user.email()), "{user:?}");
            let roles: BTreeSet<Role> = me.roles.iter().map(|g| g.role).collect();
            assert_eq!(
                roles,
                BTreeSet::from([user.role()]),
                "{user:?}: {:?}",
                me.roles
            );

            match user {
                DemoUser::Coordinator => {
                    let prisons: BTreeSet<_> = me.roles.iter().map(|g| g.prison_id).collect();
                    assert_eq!(
                        prisons,
                        BTreeSet::from([Some(demo.haren), Some(demo.brugge)]),
                        "the coordinator is scoped to Haren and Brugge"
                    );
                }
                DemoUser::SocialWorker => {
                    let caseload: BTreeSet<_> = me.caseload.iter().copied().collect();
                    assert_eq!(caseload, BTreeSet::from([demo.family_a, demo.family_b]));
                }
                DemoUser::FamilyMember => {
                    assert_eq!(me.roles[0].family_id, Some(demo.family_a));
                    assert_eq!(me.member_of.len(), 1, "{:?}", me.member_of);
                    assert_eq!(me.member_of[0].family_id, demo.family_a);
                    assert_eq!(me.member_of[0].member_id, fatima);
                    assert_eq!(me.preferred_language, Language::Fr);
                }
                DemoUser::Admin | DemoUser::Facilitator => {}
            }
            if user != DemoUser::FamilyMember {
                assert!(me.member_of.is_empty(), "{user:?} is no family member");
            }
            if user != DemoUser::SocialWorker {
                assert!(me.caseload.is_empty(), "{user:?} has no caseload");
            }
        }
    }

    async fn email_is_case_insensitive(app: TestApp) {
        let session = app
            .login("Social@Example.ORG", DEMO_PASSWORD)
            .await
            .expect("login");
        let demo = app.demo_data().await;
        assert_eq!(session.account_id, demo.account(DemoUser::SocialWorker));
    }

    async fn logout_revokes_the_token(app: TestApp) {
        let token = app.login_as(DemoUser::Facilitator).await;
        let other = app.login_as(DemoUser::Facilitator).await;
        app.me(&token).await;

        expect_status(
            app.post_empty("/api/v1/auth/logout", Some(&token)).await,
            204,
        )
        .await;
        assert_error(
            app.get("/api/v1/me", Some(&token)).await,
            401,
            "unauthenticated",
        )
        .await;
        // Logging out twice is like any request with a dead token.
        let again = app.post_empty("/api/v1/auth/logout", Some(&token)).await;
        assert_error(again, 401, "unauthenticated").await;
        // Only that one token: another session of the same account lives on.
        app.me(&other).await;

        // A device signing out is gone from the account's devices, with every token it had.
        let phone = login_with_device(&app, DemoUser::Facilitator, "Tablet").await;
        let device = phone.device.expect("a device").id;
        let listed: Vec<Device> = expect_json(app.get("/api/v1/me/devices", Some(&other)).await, 200).await;
        assert!(listed.iter().any(|d| d.id == device));
        expect_status(app.post_empty("/api/v1/auth/logout", Some(&phone.token)).await, 204).await;
        let listed: Vec<Device> = expect_json(app.get("/api/v1/me/devices", Some(&other)).await, 200).await;
        assert!(listed.iter().all(|d| d.id != device), "{listed:?}");
    }

    async fn requests_without_a_valid_token_are_refused(app: TestApp) {
        assert_error(app.get("/api/v1/me", None).await, 401, "unauthenticated").await;
        let garbage = app.get("/api/v1/me", Some("not-a-real-token")).await;
        assert_error(garbage, 401, "unauthenticated").await;
        // A valid token sent with another scheme is no bearer token.
        let token = app.login_as(DemoUser::Admin).await;
        let basic = app
            .client
            .get(app.url("/api/v1/me"))
            .header("Authorization", format!("Basic {token}"))
            .send()
            .await
            .expect("response");
        assert_error(basic, 401, "unauthenticated").await;
        assert_error(
            app.post_empty("/api/v1/auth/logout", None).await,
            401,
            "unauthenticated",
        )
        .await;
    }

    async fn device_login_returns_a_device(app: TestApp) {
        let session = login_with_device(&app, DemoUser::FamilyMember, "Fatima's phone").await;
        let device = session.device.expect("a device was asked for");
        assert_eq!(device.name, "Fatima's phone");
        assert_actor_id(&device);

        let devices: Vec<Device> = expect_json(
            app.get("/api/v1/me/devices", Some(&session.token)).await,
            200,
        )
        .await;
        assert!(
            devices
                .iter()
                .any(|d| d.id == device.id && d.actor_id == device.actor_id),
            "the new device is not listed: {devices:?}"
        );
    }

    async fn two_devices_are_distinct_and_revoked_one_by_one(app: TestApp) {
        let phone = login_with_device(&app, DemoUser::FamilyMember, "phone").await;
        let tablet = login_with_device(&app, DemoUser::FamilyMember, "tablet").await;
        let phone_device = phone.device.clone().expect("device");
        let tablet_device = tablet.device.clone().expect("device");
        assert_ne!(phone_device.id, tablet_device.id);
        assert_ne!(phone_device.actor_id, tablet_device.actor_id);
        assert_actor_id(&tablet_device);

        let path = format!("/api/v1/me/devices/{}", phone_device.id);
        expect_status(app.delete(&path, Some(&tablet.token)).await, 204).await;
        assert_error(
            app.get("/api/v1/me", Some(&phone.token)).await,
            401,
            "unauthenticated",
        )
        .await;
        let devices: Vec<Device> = expect_json(
            app.get("/api/v1/me/devices", Some(&tablet.token)).await,
            200,
        )
        .await;
        assert!(
            devices.iter().all(|d| d.id != phone_device.id),
            "revoked device still listed"
        );
        assert!(devices.iter().any(|d| d.id == tablet_device.id));
    }

    async fn nobody_revokes_another_accounts_device(app: TestApp) {
        let admin = login_with_device(&app, DemoUser::Admin, "admin laptop").await;
        let admin_device = admin.device.expect("device");
        let family = app.login_as(DemoUser::FamilyMember).await;
        let path = format!("/api/v1/me/devices/{}", admin_device.id);
        // Someone else's device is, for this caller, a device that does not exist.
        expect_status(app.delete(&path, Some(&family)).await, 404).await;
        app.me(&admin.token).await;
    }

    async fn wrong_password_and_unknown_email_look_the_same(app: TestApp) {
        let wrong_password = attempt(&app, "coordinator@example.org", "not-the-password").await;
        let wrong_password = assert_error(wrong_password, 401, "invalid_credentials").await;
        let unknown = attempt(&app, "nobody@example.org", "not-the-password").await;
        let unknown = assert_error(unknown, 401, "invalid_credentials").await;
        // Any difference would tell an attacker which emails have accounts.
        assert_eq!(wrong_password, unknown);
    }

    async fn five_failures_lock_the_account(app: TestApp) {
        let email = DemoUser::Coordinator.email();
        for n in 1..=5 {
            let resp = attempt(&app, email, &format!("wrong password {n}")).await;
            assert_error(resp, 401, "invalid_credentials").await;
        }
        // Locked now: even the right password is refused.
        let resp = attempt(&app, email, DEMO_PASSWORD).await;
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        assert_error(resp, 429, "too_many_attempts").await;
        let retry_after = retry_after.expect("a 429 carries Retry-After in seconds");
        assert!(retry_after > 0, "Retry-After {retry_after}");
        // The lock is on that login name only, not on everybody signing in from this address.
        app.login_as(DemoUser::SocialWorker).await;
    }

    async fn unknown_emails_are_throttled_like_real_ones(app: TestApp) {
        for _ in 0..5 {
            let resp = attempt(&app, "nobody@example.org", "guess").await;
            assert_error(resp, 401, "invalid_credentials").await;
        }
        let resp = attempt(&app, "nobody@example.org", "guess").await;
        assert_error(resp, 429, "too_many_attempts").await;
    }

    async fn audit_log_records_sign_ins(app: TestApp) {
        let demo = app.demo_data().await;
        let family_id = demo.account(DemoUser::FamilyMember);
        let resp = attempt(&app, DemoUser::FamilyMember.email(), "wrong").await;
        assert_error(resp, 401, "invalid_credentials").await;
        let resp = attempt(&app, "stranger@example.org", "wrong").await;
        assert_error(resp, 401, "invalid_credentials").await;
        app.login_as(DemoUser::FamilyMember).await;
        let admin = app.login_as(DemoUser::Admin).await;

        let failed: AuditPage = expect_json(
            app.get("/api/v1/admin/audit?action=login_failed", Some(&admin))
                .await,
            200,
        )
        .await;
        assert!(failed.entries.len() >= 2, "{failed:?}");
        assert!(
            failed.entries.iter().all(|e| e.action == "login_failed"),
            "{failed:?}"
        );

        let succeeded: AuditPage = expect_json(
            app.get("/api/v1/admin/audit?action=login_succeeded", Some(&admin))
                .await,
            200,
        )
        .await;
        assert!(
            succeeded
                .entries
                .iter()
                .all(|e| e.action == "login_succeeded")
        );
        assert!(
            succeeded
                .entries
                .iter()
                .any(|e| e.actor_account_id == Some(family_id)),
            "no login_succeeded by the family member: {succeeded:?}"
        );

        // The log names accounts by id only: the email tried must not be in it.
        let all: Value = expect_json(app.get("/api/v1/admin/audit", Some(&admin)).await, 200).await;
        let all = all.to_string();
        assert!(
            !all.contains("stranger@example.org"),
            "the audit log holds an email: {all}"
        );
        assert!(
            !all.contains("family@example.org"),
            "the audit log holds an email: {all}"
        );
    }

    async fn audit_log_pages_newest_first(app: TestApp) {
        // Enough sign-ins that the log has several pages of two.
        for user in DemoUser::ALL {
            app.login_as(user).await;
        }
        let admin = app.login_as(DemoUser::Admin).await;
        let first: AuditPage = expect_json(
            app.get("/api/v1/admin/audit?limit=2", Some(&admin)).await,
            200,
        )
        .await;
        assert_eq!(first.entries.len(), 2, "{first:?}");
        assert!(
            first.entries[0].id > first.entries[1].id,
            "not newest first: {first:?}"
        );
        assert!(
            first.entries[0].at >= first.entries[1].at,
            "not newest first: {first:?}"
        );
        let before = first.next_before.expect("more entries remain");

        let path = format!("/api/v1/admin/audit?limit=2&before={before}");
        let second: AuditPage = expect_json(app.get(&path, Some(&admin)).await, 200).await;
        assert_eq!(second.entries.len(), 2, "{second:?}");
        assert!(
            second.entries.iter().all(|e| e.id < first.entries[1].id),
            "pages overlap: {first:?} then {second:?}"
        );

        let actor = admin_account(&app, &admin).await;
        let path = format!("/api/v1/admin/audit?actor={actor}");
        let mine: AuditPage = expect_json(app.get(&path, Some(&admin)).await, 200).await;
        assert!(!mine.entries.is_empty());
        assert!(
            mine.entries
                .iter()
                .all(|e| e.actor_account_id == Some(actor)),
            "{mine:?}"
        );
    }

    async fn expired_tokens_are_refused(app: TestApp) {
        let token = app.login_as(DemoUser::SocialWorker).await;
        app.me(&token).await;
        // No API call ages a token: move every expiry into the past directly.
        let changed = app.execute_sql("UPDATE api_tokens SET expires_at = '2000-01-01 00:00:00'");
        assert!(changed >= 1);
        assert_error(
            app.get("/api/v1/me", Some(&token)).await,
            401,
            "unauthenticated",
        )
        .await;
        // Signing in again gives a fresh token.
        app.me(&app.login_as(DemoUser::SocialWorker).await).await;
    }

    async fn concurrent_sign_ins_all_succeed(app: TestApp) {
        // Every sign-in writes (token, device, throttle, audit): on SQLite these writers queue
        // for one lock and must wait, not fail.
        let mut sign_ins = tokio::task::JoinSet::new();
        for n in 0..24 {
            let user = DemoUser::ALL[n % DemoUser::ALL.len()];
            let request = app.client.post(app.url(LOGIN)).json(&json!({
                "email": user.email(),
                "password": DEMO_PASSWORD,
                "device_name": format!("device {n}"),
            }));
            sign_ins.spawn(async move {
                let resp = request.send().await.expect("response");
                (
                    resp.status().as_u16(),
                    resp.text().await.unwrap_or_default(),
                )
            });
        }
        let mut actor_ids = BTreeSet::new();
        while let Some(result) = sign_ins.join_next().await {
            let (status, body) = result.expect("the task ran");
            assert_eq!(status, 200, "{body}");
            let session: TokenResponse = serde_json::from_str(&body).expect("a token response");
            actor_ids.insert(session.device.expect("device").actor_id);
        }
        assert_eq!(actor_ids.len(), 24, "every device has its own actor id");
    }
}

async fn admin_account(app: &TestApp, token: &str) -> reguide_tests::protocol::AccountId {
    app.me(token).await.account_id
}
