//! Hostile and broken input: every refusal is a clear JSON error, and the server keeps serving.

use reguide_tests::{DemoUser, TestApp, assert_error, both_backends};
use serde_json::json;

const LOGIN: &str = "/api/v1/auth/login";
const JSON: &str = "application/json";

both_backends! {
    async fn malformed_json_is_refused(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let cases: [(&str, Option<&str>, &str); 4] = [
            (
                LOGIN,
                None,
                r#"{"email": "admin@example.org", "password": "#,
            ),
            (LOGIN, None, "not json at all"),
            (LOGIN, None, ""),
            ("/api/v1/families", Some(&admin), r#"{"label": "x",}"#),
        ];
        for (path, token, body) in cases {
            let resp = app.post_raw(path, token, JSON, body.to_owned()).await;
            assert_error(resp, 400, "malformed_json").await;
            app.assert_healthy().await;
        }
    }

    async fn unknown_fields_are_named(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let demo = app.demo_data().await;
        let members = format!("/api/v1/families/{}/members", demo.family_a);
        let cases = [
            (
                LOGIN,
                None,
                json!({ "email": "admin@example.org", "password": "x", "remember_me": true }),
                "remember_me",
            ),
            (
                "/api/v1/families",
                Some(&admin),
                json!({ "label": "x", "colour": "red" }),
                "colour",
            ),
            (
                members.as_str(),
                Some(&admin),
                json!({
                    "display_name": "Sara",
                    "relation": "child",
                    "preferred_language": "fr",
                    "birthdate": "2015-01-01",
                }),
                "birthdate",
            ),
        ];
        // All cases run before the verdict, so a failure shows which endpoints are affected.
        let mut wrong = Vec::new();
        for (path, token, body, field) in cases {
            let resp = app.post_json(path, token.map(String::as_str), &body).await;
            let error = assert_error(resp, 400, "unknown_field").await;
            if error.field.as_deref() != Some(field) {
                wrong.push(format!(
                    "{path}: expected field {field:?}, got {:?}",
                    error.field
                ));
            }
            app.assert_healthy().await;
        }
        assert!(wrong.is_empty(), "unknown fields misnamed: {wrong:#?}");
    }

    async fn missing_fields_are_refused(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let cases = [
            (
                LOGIN,
                None,
                json!({ "email": "admin@example.org" }),
                "password",
            ),
            ("/api/v1/families", Some(&admin), json!({}), "label"),
            (
                "/api/v1/auth/enrol",
                None,
                json!({ "code": "x", "password": "a long enough secret" }),
                "device_name",
            ),
        ];
        for (path, token, body, field) in cases {
            let resp = app.post_json(path, token.map(String::as_str), &body).await;
            let error = assert_error(resp, 400, "missing_field").await;
            // Naming the field is a courtesy the server may extend; it must not name another.
            if let Some(named) = &error.field {
                assert_eq!(named, field, "{path}");
            }
            app.assert_healthy().await;
        }
    }

    async fn wrong_types_and_enum_values_are_refused(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let demo = app.demo_data().await;
        let members = format!("/api/v1/families/{}/members", demo.family_a);
        let cases = [
            (
                members.as_str(),
                json!({ "display_name": "Sara", "relation": "cousin", "preferred_language": "fr" }),
            ),
            (
                members.as_str(),
                json!({
                    "display_name": "Sara",
                    "relation": "child",
                    "preferred_language": "klingon",
                }),
            ),
            (
                "/api/v1/admin/accounts",
                json!({
                    "email": "x@example.org",
                    "display_name": "X",
                    "password": "a long enough secret",
                    "roles": [{ "role": "root" }],
                }),
            ),
            ("/api/v1/families", json!({ "label": 42 })),
        ];
        for (path, body) in cases {
            let resp = app.post_json(path, Some(&admin), &body).await;
            assert_error(resp, 400, "invalid_value").await;
            app.assert_healthy().await;
        }
    }

    async fn only_json_bodies_are_accepted(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let login = json!({ "email": "admin@example.org", "password": "reguide-demo" }).to_string();
        let resp = app.post_raw(LOGIN, None, "text/plain", login.clone()).await;
        assert_error(resp, 415, "unsupported_media_type").await;
        let resp = app
            .post_raw(
                LOGIN,
                None,
                "application/x-www-form-urlencoded",
                "email=a&password=b",
            )
            .await;
        assert_error(resp, 415, "unsupported_media_type").await;
        let resp = app
            .post_raw(
                "/api/v1/families",
                Some(&admin),
                "text/plain",
                r#"{"label":"x"}"#,
            )
            .await;
        assert_error(resp, 415, "unsupported_media_type").await;
        app.assert_healthy().await;
    }

    async fn huge_bodies_are_refused(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let label = "x".repeat(2 * 1024 * 1024);
        let body = json!({ "label": label }).to_string();
        let resp = app
            .post_raw("/api/v1/families", Some(&admin), JSON, body.clone())
            .await;
        assert_error(resp, 413, "payload_too_large").await;
        // Also before authentication: nobody may make the server buffer megabytes.
        let resp = app.post_raw(LOGIN, None, JSON, body).await;
        assert_error(resp, 413, "payload_too_large").await;
        app.assert_healthy().await;
        app.login_as(DemoUser::Admin).await;
    }

    async fn malformed_ids_in_paths_are_refused(app: TestApp) {
        let admin = app.login_as(DemoUser::Admin).await;
        let demo = app.demo_data().await;
        let gets = [
            "/api/v1/families/not-a-uuid".to_owned(),
            "/api/v1/families/123".to_owned(),
            "/api/v1/prisons/haren".to_owned(),
            "/api/v1/admin/accounts/%27%20OR%201=1".to_owned(),
            format!(
                "/api/v1/families/{}/members/nope/enrolment-codes",
                demo.family_a
            ),
        ];
        for path in &gets[..4] {
            assert_error(app.get(path, Some(&admin)).await, 400, "invalid_id").await;
        }
        assert_error(
            app.post_empty(&gets[4], Some(&admin)).await,
            400,
            "invalid_id",
        )
        .await;
        let resp = app.delete("/api/v1/me/devices/xyz", Some(&admin)).await;
        assert_error(resp, 400, "invalid_id").await;
        app.assert_healthy().await;
    }
}
