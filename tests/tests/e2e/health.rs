//! Liveness, readiness, the OpenAPI document, and what unknown routes answer.

use reguide_tests::protocol::api::{Family, FamilySummary, Health, Prison};
use reguide_tests::{Backend, DemoUser, TestApp, assert_error, both_backends, expect_json};
use serde_json::Value;
use serde_json::json;

both_backends! {
    async fn health_and_ready(app: TestApp) {
        let health: Health = expect_json(app.get("/health", None).await, 200).await;
        assert_eq!(health.status, "ok");
        // /ready asks the database, so it also proves the server reached its backend.
        let ready: Health = expect_json(app.get("/ready", None).await, 200).await;
        assert_eq!(ready.status, "ready");
    }

    async fn empty_database_starts_and_is_ready(backend: Backend) {
        // Without demo data the server must still migrate and serve.
        let app = TestApp::spawn_empty(backend).await;
        let ready: Health = expect_json(app.get("/ready", None).await, 200).await;
        assert_eq!(ready.status, "ready");
        let login = app.login("admin@example.org", "reguide-demo").await;
        assert!(
            login.is_err(),
            "no demo account may exist without demo = true"
        );
    }

    async fn openapi_document_describes_the_api(app: TestApp) {
        let doc: Value = expect_json(app.get("/api/openapi.json", None).await, 200).await;
        let version = doc["openapi"].as_str().unwrap_or_default();
        assert!(version.starts_with("3."), "openapi version {version:?}");
        let paths = doc["paths"].as_object().expect("paths is an object");
        for path in ["/api/v1/auth/login", "/api/v1/me", "/api/v1/families"] {
            assert!(
                paths.contains_key(path),
                "{path} missing from the OpenAPI paths"
            );
        }
    }

    async fn unknown_routes_answer_json_404(app: TestApp) {
        for path in ["/api/v1/no-such-thing", "/nowhere", "/api/v2/families"] {
            assert_error(app.get(path, None).await, 404, "not_found").await;
        }
    }

    async fn wrong_method_answers_json_405(app: TestApp) {
        // Login exists, but only as POST.
        let resp = app.get("/api/v1/auth/login", None).await;
        assert_error(resp, 405, "method_not_allowed").await;
    }

    async fn data_survives_a_restart(app: TestApp) {
        let mut app = app;
        let admin = app.login_as(DemoUser::Admin).await;
        let body = json!({ "label": "Family of R. Peeters" });
        let created: Family = expect_json(
            app.post_json("/api/v1/families", Some(&admin), &body).await,
            201,
        )
        .await;
        let old_address = app.address.clone();

        app.restart().await;

        // Tokens live in the database, so a restart signs nobody out.
        app.me(&admin).await;
        let ready: Health = expect_json(app.get("/ready", None).await, 200).await;
        assert_eq!(ready.status, "ready");
        // Migrations and demo seeding ran again and changed nothing.
        let families: Vec<FamilySummary> =
            expect_json(app.get("/api/v1/families", Some(&admin)).await, 200).await;
        assert_eq!(
            families.len(),
            4,
            "three demo families and the new one: {families:?}"
        );
        assert!(families.iter().any(|f| f.id == created.id));
        let prisons: Vec<Prison> =
            expect_json(app.get("/api/v1/prisons", Some(&admin)).await, 200).await;
        assert_eq!(prisons.len(), 3, "{prisons:?}");
        // A real restart: the old server is gone (it may take a moment to let go).
        assert_ne!(app.address, old_address);
        let mut old_server_stopped = false;
        for _ in 0..20 {
            if app
                .client
                .get(format!("{old_address}/health"))
                .send()
                .await
                .is_err()
            {
                old_server_stopped = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            old_server_stopped,
            "the first server still answers at {old_address}"
        );
    }
}
