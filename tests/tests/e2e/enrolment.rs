//! Enrolment codes: how a social worker brings a family member in, with or without an email
//! address, and what a code refuses to do.

use reguide_tests::protocol::api::{Account, AuditPage, EnrolResponse, EnrolmentCode, Member};
use reguide_tests::protocol::{FamilyId, Language, MemberId, Role};
use reguide_tests::{DemoUser, TestApp, assert_error, both_backends, expect_json, member_named};
use serde_json::json;

const ENROL: &str = "/api/v1/auth/enrol";
const GOOD_PASSWORD: &str = "a long enough secret";

async fn create_code(
    app: &TestApp,
    token: &str,
    family: FamilyId,
    member: MemberId,
) -> EnrolmentCode {
    let path = format!("/api/v1/families/{family}/members/{member}/enrolment-codes");
    expect_json(app.post_empty(&path, Some(token)).await, 201).await
}

async fn enrol(app: &TestApp, code: &str, password: &str) -> reqwest::Response {
    let body = json!({ "code": code, "password": password, "device_name": "phone" });
    app.post_json(ENROL, None, &body).await
}

async fn member(app: &TestApp, token: &str, family: FamilyId, name: &str) -> Member {
    member_named(&app.family(token, family).await, name).clone()
}

both_backends! {
    async fn member_without_email_enrols_and_signs_in_with_a_username(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let karim = member(&app, &social, demo.family_a, "Karim Benali").await;
        assert!(!karim.has_account, "Karim starts without an account");

        let code = create_code(&app, &social, demo.family_a, karim.id).await;
        assert_eq!(code.member_id, karim.id);
        assert!(!code.code.is_empty());
        assert!(code.expires_at > chrono::Utc::now());

        let body = json!({
            "code": code.code,
            "password": GOOD_PASSWORD,
            "device_name": "Karim's phone",
        });
        let enrolled: EnrolResponse =
            expect_json(app.post_json(ENROL, None, &body).await, 200).await;
        assert_eq!(enrolled.family_id, demo.family_a);
        assert_eq!(enrolled.member_id, karim.id);
        assert!(!enrolled.username.is_empty());
        let device = enrolled
            .session
            .device
            .as_ref()
            .expect("enrolment enrols a device");
        assert_eq!(device.name, "Karim's phone");

        let me = app.me(&enrolled.session.token).await;
        assert_eq!(me.email, None);
        assert_eq!(me.username, enrolled.username);
        assert_eq!(me.preferred_language, Language::Ar, "taken from the member");
        assert_eq!(me.member_of.len(), 1, "{:?}", me.member_of);
        assert_eq!(me.member_of[0].family_id, demo.family_a);
        assert_eq!(me.member_of[0].member_id, karim.id);
        assert!(
            me.roles
                .iter()
                .any(|g| g.role == Role::FamilyMember && g.family_id == Some(demo.family_a)),
            "no family_member role for family A: {:?}",
            me.roles
        );

        // The username signs in where an email would.
        let session = app
            .login(&enrolled.username, GOOD_PASSWORD)
            .await
            .expect("login");
        assert_eq!(session.account_id, enrolled.session.account_id);
        app.family(&session.token, demo.family_a).await;
        let other = app
            .get(
                &format!("/api/v1/families/{}", demo.family_b),
                Some(&session.token),
            )
            .await;
        assert_error(other, 404, "family_not_found").await;

        let karim = member(&app, &social, demo.family_a, "Karim Benali").await;
        assert!(karim.has_account, "Karim has an account now");

        let admin = app.login_as(DemoUser::Admin).await;
        for action in ["enrolment_code_created", "enrolment_redeemed"] {
            let path = format!("/api/v1/admin/audit?action={action}");
            let page: AuditPage = expect_json(app.get(&path, Some(&admin)).await, 200).await;
            assert!(!page.entries.is_empty(), "no {action} in the audit log");
        }
    }

    async fn member_with_email_signs_in_with_it(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let new_member = json!({
            "display_name": "Yasmina Benali",
            "relation": "sibling",
            "preferred_language": "nl",
        });
        let path = format!("/api/v1/families/{}/members", demo.family_a);
        let yasmina: Member =
            expect_json(app.post_json(&path, Some(&social), &new_member).await, 201).await;
        assert!(!yasmina.has_account);
        let code = create_code(&app, &social, demo.family_a, yasmina.id).await;

        // An email that already has an account is refused, and the code stays good.
        let body = json!({
            "code": code.code,
            "password": GOOD_PASSWORD,
            "device_name": "phone",
            "email": "admin@example.org",
        });
        assert_error(app.post_json(ENROL, None, &body).await, 409, "email_taken").await;

        let body = json!({
            "code": code.code,
            "password": GOOD_PASSWORD,
            "device_name": "phone",
            "email": "yasmina@example.org",
        });
        let enrolled: EnrolResponse =
            expect_json(app.post_json(ENROL, None, &body).await, 200).await;
        let session = app
            .login("yasmina@example.org", GOOD_PASSWORD)
            .await
            .expect("login by email");
        assert_eq!(session.account_id, enrolled.session.account_id);
        let me = app.me(&session.token).await;
        assert_eq!(me.email.as_deref(), Some("yasmina@example.org"));
        assert_eq!(me.preferred_language, Language::Nl);
    }

    async fn a_code_works_once(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let els = member(&app, &social, demo.family_b, "Els Janssens").await;
        let code = create_code(&app, &social, demo.family_b, els.id).await;

        expect_json::<EnrolResponse>(enrol(&app, &code.code, GOOD_PASSWORD).await, 200).await;
        let again = enrol(&app, &code.code, "another long password").await;
        assert_error(again, 400, "invalid_enrolment_code").await;
    }

    async fn garbage_and_expired_codes_are_refused(app: TestApp) {
        let demo = app.demo_data().await;
        for garbage in ["not-a-code", "", "0000-0000-0000"] {
            let resp = enrol(&app, garbage, GOOD_PASSWORD).await;
            assert_error(resp, 400, "invalid_enrolment_code").await;
        }

        let admin = app.login_as(DemoUser::Admin).await;
        let nadia = member(&app, &admin, demo.family_c, "Nadia El Idrissi").await;
        let code = create_code(&app, &admin, demo.family_c, nadia.id).await;
        // No API call ages a code: move its expiry into the past directly.
        let changed = app.execute_sql(
            "UPDATE enrolment_codes SET expires_at = '2000-01-01 00:00:00' WHERE used_at IS NULL",
        );
        assert_eq!(changed, 1, "exactly the one code just made");
        let resp = enrol(&app, &code.code, GOOD_PASSWORD).await;
        assert_error(resp, 400, "invalid_enrolment_code").await;
        let nadia = member(&app, &admin, demo.family_c, "Nadia El Idrissi").await;
        assert!(!nadia.has_account);
    }

    async fn weak_password_stores_nothing(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let admin = app.login_as(DemoUser::Admin).await;
        let accounts_before: Vec<Account> =
            expect_json(app.get("/api/v1/admin/accounts", Some(&admin)).await, 200).await;
        let karim = member(&app, &social, demo.family_a, "Karim Benali").await;
        let code = create_code(&app, &social, demo.family_a, karim.id).await;

        let error =
            assert_error(enrol(&app, &code.code, "short").await, 400, "weak_password").await;
        assert_eq!(error.field.as_deref(), Some("password"));

        // Nothing was stored: no account, the member still without one, and the code still good.
        let accounts_after: Vec<Account> =
            expect_json(app.get("/api/v1/admin/accounts", Some(&admin)).await, 200).await;
        assert_eq!(
            accounts_before.len(),
            accounts_after.len(),
            "an account was created"
        );
        assert!(
            !member(&app, &social, demo.family_a, "Karim Benali")
                .await
                .has_account
        );
        expect_json::<EnrolResponse>(enrol(&app, &code.code, GOOD_PASSWORD).await, 200).await;
    }
}
