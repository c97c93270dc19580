//! Administration: accounts, roles, caseloads, prisons, and the rules that keep an instance
//! administrable.

use reguide_tests::protocol::api::{Account, AuditPage, FamilySummary, Prison, RoleGrant};
use reguide_tests::protocol::{AccountId, Language, Role};
use reguide_tests::{
    DEMO_PASSWORD, DemoUser, TestApp, assert_error, both_backends, expect_json, expect_status,
};
use serde_json::{Value, json};

const ACCOUNTS: &str = "/api/v1/admin/accounts";

async fn account(app: &TestApp, admin: &str, id: AccountId) -> Account {
    expect_json(app.get(&format!("{ACCOUNTS}/{id}"), Some(admin)).await, 200).await
}

async fn audit_has(app: &TestApp, admin: &str, action: &str, object_id: &str) -> bool {
    let path = format!("/api/v1/admin/audit?action={action}");
    let page: AuditPage = expect_json(app.get(&path, Some(admin)).await, 200).await;
    page.entries
        .iter()
        .any(|e| e.action == action && e.object_id.as_deref() == Some(object_id))
}

fn new_account(email: &str, roles: Value) -> Value {
    json!({
        "email": email,
        "display_name": "Test Account",
        "password": "a long enough secret",
        "preferred_language": "nl",
        "roles": roles,
    })
}

both_backends! {
    async fn admin_creates_an_account_with_roles(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let body = new_account(
            "lantin.coordinator@example.org",
            json!([{ "role": "coordinator", "prison_id": demo.lantin }, { "role": "facilitator" }]),
        );
        let created: Account =
            expect_json(app.post_json(ACCOUNTS, Some(&admin), &body).await, 201).await;
        assert_eq!(
            created.email.as_deref(),
            Some("lantin.coordinator@example.org")
        );
        assert_eq!(created.display_name, "Test Account");
        assert_eq!(created.preferred_language, Language::Nl);
        assert!(!created.disabled);
        let mut roles: Vec<_> = created
            .roles
            .iter()
            .map(|g| (g.role, g.prison_id))
            .collect();
        roles.sort();
        assert_eq!(
            roles,
            vec![
                (Role::Coordinator, Some(demo.lantin)),
                (Role::Facilitator, None)
            ]
        );

        let fetched = account(&app, &admin, created.id).await;
        assert_eq!(fetched.roles.len(), 2);
        let all: Vec<Account> = expect_json(app.get(ACCOUNTS, Some(&admin)).await, 200).await;
        assert!(all.iter().any(|a| a.id == created.id));
        // Hashes never leave the server, not even to an admin.
        let raw = expect_status(app.get(ACCOUNTS, Some(&admin)).await, 200).await;
        assert!(
            !raw.contains("argon2"),
            "password hashes in the account list"
        );

        let session = app
            .login("lantin.coordinator@example.org", "a long enough secret")
            .await
            .expect("the new account signs in");
        let me = app.me(&session.token).await;
        assert_eq!(me.roles.len(), 2);
        // A coordinator of Lantin sees family C, whose detainee is there.
        let families: Vec<FamilySummary> =
            expect_json(app.get("/api/v1/families", Some(&session.token)).await, 200).await;
        let ids: Vec<_> = families.iter().map(|f| f.id).collect();
        assert_eq!(ids, vec![demo.family_c]);

        assert!(audit_has(&app, &admin, "account_created", &created.id.to_string()).await);
    }

    async fn account_creation_refuses_bad_input(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let taken = new_account("coordinator@example.org", json!([]));
        assert_error(
            app.post_json(ACCOUNTS, Some(&admin), &taken).await,
            409,
            "email_taken",
        )
        .await;
        // Emails are compared without regard to case.
        let taken = new_account("Coordinator@EXAMPLE.org", json!([]));
        assert_error(
            app.post_json(ACCOUNTS, Some(&admin), &taken).await,
            409,
            "email_taken",
        )
        .await;

        let mut weak = new_account("weak@example.org", json!([]));
        weak["password"] = json!("123456789");
        let error = assert_error(
            app.post_json(ACCOUNTS, Some(&admin), &weak).await,
            400,
            "weak_password",
        )
        .await;
        assert_eq!(error.field.as_deref(), Some("password"));

        let unscoped = new_account("unscoped@example.org", json!([{ "role": "coordinator" }]));
        assert_error(
            app.post_json(ACCOUNTS, Some(&admin), &unscoped).await,
            400,
            "missing_scope",
        )
        .await;

        // None of the refused accounts exists.
        let all: Vec<Account> = expect_json(app.get(ACCOUNTS, Some(&admin)).await, 200).await;
        assert_eq!(all.len(), DemoUser::ALL.len(), "{all:?}");
    }

    async fn roles_are_granted_and_revoked(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social_id = demo.account(DemoUser::SocialWorker);
        let roles_path = format!("{ACCOUNTS}/{social_id}/roles");

        let missing = app
            .post_json(&roles_path, Some(&admin), &json!({ "role": "coordinator" }))
            .await;
        assert_error(missing, 400, "missing_scope").await;

        let grant: RoleGrant = expect_json(
            app.post_json(
                &roles_path,
                Some(&admin),
                &json!({ "role": "coordinator", "prison_id": demo.lantin }),
            )
            .await,
            201,
        )
        .await;
        assert_eq!(grant.role, Role::Coordinator);
        assert_eq!(grant.prison_id, Some(demo.lantin));
        assert!(
            account(&app, &admin, social_id)
                .await
                .roles
                .contains(&grant)
        );

        // The grant takes effect on the next request: the social worker now sees family C too.
        let social = app.login_as(DemoUser::SocialWorker).await;
        app.family(&social, demo.family_c).await;

        expect_status(
            app.delete(&format!("{roles_path}/{}", grant.id), Some(&admin))
                .await,
            204,
        )
        .await;
        assert!(
            !account(&app, &admin, social_id)
                .await
                .roles
                .contains(&grant)
        );
        let hidden = app
            .get(
                &format!("/api/v1/families/{}", demo.family_c),
                Some(&social),
            )
            .await;
        assert_error(hidden, 404, "family_not_found").await;

        assert!(
            audit_has(&app, &admin, "role_granted", &grant.id.to_string()).await
                || audit_has(&app, &admin, "role_granted", &social_id.to_string()).await
        );
        assert!(
            audit_has(&app, &admin, "role_revoked", &grant.id.to_string()).await
                || audit_has(&app, &admin, "role_revoked", &social_id.to_string()).await
        );
    }

    async fn caseload_decides_what_a_social_worker_sees(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let family_c_path = format!("/api/v1/families/{}", demo.family_c);
        let caseload_path = format!(
            "{ACCOUNTS}/{}/caseload/{}",
            demo.account(DemoUser::SocialWorker),
            demo.family_c
        );

        assert_error(
            app.get(&family_c_path, Some(&social)).await,
            404,
            "family_not_found",
        )
        .await;

        expect_status(app.put(&caseload_path, Some(&admin)).await, 204).await;
        // Assigning twice is harmless.
        expect_status(app.put(&caseload_path, Some(&admin)).await, 204).await;
        app.family(&social, demo.family_c).await;
        let listed: Vec<FamilySummary> =
            expect_json(app.get("/api/v1/families", Some(&social)).await, 200).await;
        assert_eq!(listed.len(), 3, "{listed:?}");
        assert!(app.me(&social).await.caseload.contains(&demo.family_c));
        assert!(
            audit_has(
                &app,
                &admin,
                "caseload_assigned",
                &demo.family_c.to_string()
            )
            .await
                || audit_has(
                    &app,
                    &admin,
                    "caseload_assigned",
                    &demo.account(DemoUser::SocialWorker).to_string()
                )
                .await
        );

        expect_status(app.delete(&caseload_path, Some(&admin)).await, 204).await;
        assert_error(
            app.get(&family_c_path, Some(&social)).await,
            404,
            "family_not_found",
        )
        .await;
        assert!(!app.me(&social).await.caseload.contains(&demo.family_c));
    }

    async fn disabling_an_account_signs_it_out(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let facilitator = app.login_as(DemoUser::Facilitator).await;
        let path = format!("{ACCOUNTS}/{}", demo.account(DemoUser::Facilitator));

        let updated: Account = expect_json(
            app.patch_json(&path, Some(&admin), &json!({ "disabled": true }))
                .await,
            200,
        )
        .await;
        assert!(updated.disabled);
        assert_error(
            app.get("/api/v1/me", Some(&facilitator)).await,
            401,
            "unauthenticated",
        )
        .await;

        // A disabled account gets the very answer a wrong password gets.
        let body = json!({ "email": DemoUser::Facilitator.email(), "password": DEMO_PASSWORD });
        let disabled = app.post_json("/api/v1/auth/login", None, &body).await;
        let disabled = assert_error(disabled, 401, "invalid_credentials").await;
        let body = json!({ "email": DemoUser::Coordinator.email(), "password": "wrong password" });
        let wrong = app.post_json("/api/v1/auth/login", None, &body).await;
        assert_eq!(
            disabled,
            assert_error(wrong, 401, "invalid_credentials").await
        );

        let enabled: Account = expect_json(
            app.patch_json(&path, Some(&admin), &json!({ "disabled": false }))
                .await,
            200,
        )
        .await;
        assert!(!enabled.disabled);
        app.login_as(DemoUser::Facilitator).await;
        let facilitator_id = demo.account(DemoUser::Facilitator).to_string();
        assert!(audit_has(&app, &admin, "account_disabled", &facilitator_id).await);
        assert!(audit_has(&app, &admin, "account_enabled", &facilitator_id).await);
    }

    async fn display_name_is_updated(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let path = format!("{ACCOUNTS}/{}", demo.account(DemoUser::Coordinator));
        let updated: Account = expect_json(
            app.patch_json(
                &path,
                Some(&admin),
                &json!({ "display_name": "Renamed Coordinator" }),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(updated.display_name, "Renamed Coordinator");
        assert!(
            !updated.disabled,
            "an update of the name leaves the rest alone"
        );
        assert_eq!(updated.roles.len(), 2);
        let me = app.me(&app.login_as(DemoUser::Coordinator).await).await;
        assert_eq!(me.display_name, "Renamed Coordinator");
        let coordinator_id = demo.account(DemoUser::Coordinator).to_string();
        assert!(audit_has(&app, &admin, "account_updated", &coordinator_id).await);
    }

    async fn the_last_admin_stays(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let admin_id = demo.account(DemoUser::Admin);
        let grant = account(&app, &admin, admin_id).await.roles[0].clone();
        assert_eq!(grant.role, Role::Admin);
        let revoke_path = format!("{ACCOUNTS}/{admin_id}/roles/{}", grant.id);

        assert_error(
            app.delete(&revoke_path, Some(&admin)).await,
            409,
            "last_admin",
        )
        .await;
        // Still an admin.
        expect_status(app.get(ACCOUNTS, Some(&admin)).await, 200).await;

        // With a second admin the first one may step down, and loses admin rights at once.
        let body = new_account("second.admin@example.org", json!([{ "role": "admin" }]));
        expect_json::<Account>(app.post_json(ACCOUNTS, Some(&admin), &body).await, 201).await;
        expect_status(app.delete(&revoke_path, Some(&admin)).await, 204).await;
        assert_error(app.get(ACCOUNTS, Some(&admin)).await, 403, "forbidden").await;
    }

    async fn unknown_ids_are_not_found(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let nobody = uuid::Uuid::new_v4();
        let cases = [
            (format!("{ACCOUNTS}/{nobody}"), "account_not_found"),
            (format!("/api/v1/families/{nobody}"), "family_not_found"),
            (format!("/api/v1/prisons/{nobody}"), "prison_not_found"),
        ];
        for (path, code) in cases {
            assert_error(app.get(&path, Some(&admin)).await, 404, code).await;
        }
    }

    async fn admin_adds_a_prison(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let body = json!({ "name": "Prison de Mons", "city": "Mons" });
        let created: Prison = expect_json(
            app.post_json("/api/v1/admin/prisons", Some(&admin), &body)
                .await,
            201,
        )
        .await;
        assert_eq!(created.name, "Prison de Mons");
        assert_eq!(
            created.time_zone, "Europe/Brussels",
            "the default time zone"
        );

        // Everybody signed in sees it.
        let family = app.login_as(DemoUser::FamilyMember).await;
        let prisons: Vec<Prison> =
            expect_json(app.get("/api/v1/prisons", Some(&family)).await, 200).await;
        assert_eq!(prisons.len(), 4);
        let fetched: Prison = expect_json(
            app.get(&format!("/api/v1/prisons/{}", created.id), Some(&family))
                .await,
            200,
        )
        .await;
        assert_eq!(fetched, created);
    }
}
