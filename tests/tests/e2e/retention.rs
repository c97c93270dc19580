//! Retention: a closed case is deleted after its period (and kept when reopened), visits leave
//! the tables and the family's document (and its phones) after theirs, sent email and expired
//! sign-ins go. The sweep runs as a second instance would, at a date in the future.

use chrono::Weekday;
use diesel::prelude::*;
use reguide_server::db::schema::{visit_requests, visit_slots};
use reguide_tests::phones::{blocking, fatimas_phone};
use reguide_tests::protocol::api::Family;
use reguide_tests::visits::{next_weekday, request_body, table_rules};
use reguide_tests::{
    Backend, DEMO_PASSWORD, DemoUser, TestApp, assert_error, both_backends, expect_json,
};

/// Rows of `table` matching `filter` (an SQL condition), counted by touching them.
fn rows(app: &TestApp, table: &str, key: &str, filter: &str) -> usize {
    app.execute_sql(&format!("UPDATE {table} SET {key} = {key} WHERE {filter}"))
}

/// The slot a visit holds.
fn slot_of(app: &TestApp, visit: uuid::Uuid) -> String {
    app.with_server_db(move |conn| {
        Ok(visit_requests::table
            .find(visit.to_string())
            .select(visit_requests::slot_id.assume_not_null())
            .first(conn)?)
    })
}

fn booked(app: &TestApp, slot: String) -> i32 {
    app.with_server_db(move |conn| {
        Ok(visit_slots::table
            .find(slot)
            .select(visit_slots::booked)
            .first(conn)?)
    })
}

both_backends! {
    async fn a_closed_case_is_deleted_after_its_period_and_a_reopened_one_kept(backend: Backend) {
        // A day, so that the family's visit (three days ahead at least) is still ahead when its
        // case goes.
        let app = TestApp::spawn_with(backend, |config| config.retention.closed_case_days = 1).await;
        let v = app.visits_demo().await;
        let (family, other) = (v.a.id, v.b.id);
        let fatima = v.a.member("Fatima Benali");
        let social = app.login_as(DemoUser::SocialWorker).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let facilitator = app.login_as(DemoUser::Facilitator).await;
        let family_token = app.login_as(DemoUser::FamilyMember).await;

        // The family holds a place at a visit next week.
        app.set_rules(&coordinator, v.demo.haren, &table_rules(true)).await;
        let session = app.table_session(&coordinator, v.demo.haren, Weekday::Thu, 4).await;
        let day = next_weekday(Weekday::Thu, 3);
        let visit = app.request_visit(&family_token, &request_body(family, v.a.detainee, "table", &[(session.id, day)], &[fatima])).await;
        assert!(visit.slot.is_some(), "confirmed at once");
        let slot = slot_of(&app, visit.id);
        assert_eq!(booked(&app, slot.clone()), 1);

        // Only those who manage the family close its case.
        let close = format!("/api/v1/families/{family}/close");
        assert_error(app.post_empty(&close, Some(&coordinator)).await, 403, "forbidden").await;
        assert_error(app.post_empty(&close, Some(&family_token)).await, 403, "forbidden").await;
        assert_error(app.post_empty(&close, Some(&facilitator)).await, 404, "family_not_found").await;
        let closed: Family = expect_json(app.post_empty(&close, Some(&social)).await, 200).await;
        assert!(closed.closed_at.is_some());
        assert_error(app.post_empty(&close, Some(&social)).await, 409, "case_closed").await;

        // Another case is closed and reopened: it is kept.
        let closed_other: Family = expect_json(app.post_empty(&format!("/api/v1/families/{other}/close"), Some(&social)).await, 200).await;
        assert!(closed_other.closed_at.is_some());
        let reopened: Family = expect_json(app.post_empty(&format!("/api/v1/families/{other}/reopen"), Some(&social)).await, 200).await;
        assert!(reopened.closed_at.is_none());
        assert_error(app.post_empty(&format!("/api/v1/families/{other}/reopen"), Some(&social)).await, 409, "case_not_closed").await;

        // Within the period nothing goes.
        let swept = app.sweep_retention_in(0).await;
        assert_eq!(swept.cases, 0);
        let admin = app.login_as(DemoUser::Admin).await;
        let still: Family = expect_json(app.get(&format!("/api/v1/families/{family}"), Some(&admin)).await, 200).await;
        assert!(still.closed_at.is_some());

        // After it, the case is gone: family, members, account, document, visits, audit
        // entries; the place it held is free again; the audit log keeps that it was deleted.
        let swept = app.sweep_retention_in(2).await;
        assert_eq!(swept.cases, 1, "{swept:?}");
        let admin = app.login_as(DemoUser::Admin).await;
        assert_error(app.get(&format!("/api/v1/families/{family}"), Some(&admin)).await, 404, "family_not_found").await;
        assert!(app.login(DemoUser::FamilyMember.email(), DEMO_PASSWORD).await.is_err(), "Fatima's account went with the case");
        assert_eq!(booked(&app, slot), 0, "the place went back");
        assert_eq!(rows(&app, "family_members", "id", &format!("family_id = '{family}'")), 0);
        assert_eq!(rows(&app, "family_documents", "family_id", &format!("family_id = '{family}'")), 0);
        assert_eq!(rows(&app, "visit_requests", "id", &format!("family_id = '{family}'")), 0);
        assert_eq!(rows(&app, "audit_log", "id", &format!("object_id = '{family}'")), 1);
        assert_eq!(rows(&app, "audit_log", "id", &format!("object_id = '{family}' AND action = 'case_deleted'")), 1);
        assert_eq!(rows(&app, "audit_log", "id", &format!("object_id = '{fatima}'")), 0);
        // The reopened case, and everyone else, stay.
        let kept: Family = expect_json(app.get(&format!("/api/v1/families/{other}"), Some(&admin)).await, 200).await;
        assert!(kept.closed_at.is_none());
        app.login_as(DemoUser::SocialWorker).await;
        // A second sweep finds nothing more.
        assert_eq!(app.sweep_retention_in(2).await.cases, 0);
    }

    async fn old_visits_leave_the_tables_the_document_and_the_phones(backend: Backend) {
        // A day after their day (two years by default), so that the phone's sign-in still
        // holds when the sweep runs.
        let app = TestApp::spawn_with(backend, |config| config.retention.visit_days = 1).await;
        let v = app.visits_demo().await;
        let family = v.a.id;
        let fatima = v.a.member("Fatima Benali");
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family_token = app.login_as(DemoUser::FamilyMember).await;
        app.set_rules(&coordinator, v.demo.haren, &table_rules(true)).await;
        let session = app.table_session(&coordinator, v.demo.haren, Weekday::Thu, 4).await;
        let day = next_weekday(Weekday::Thu, 3);
        let visit = app.request_visit(&family_token, &request_body(family, v.a.detainee, "table", &[(session.id, day)], &[fatima])).await;
        let dir = tempfile::tempdir().expect("phone folder");
        let phone = fatimas_phone(&app, dir.path().to_path_buf()).await;
        let id = visit.id.to_string();
        let on_phone = {
            let id = id.clone();
            blocking(move || {
                let seen = phone.visit_requests().expect("visits").iter().any(|r| r.request.id == id);
                (seen, phone)
            })
            .await
        };
        let (seen, mut phone) = on_phone;
        assert!(seen, "the phone has the visit");

        // Until a day after its day, the visit stays.
        let swept = app.sweep_retention_in(0).await;
        assert_eq!(swept.visits, 0, "{swept:?}");
        // After, it goes: from the tables, and from the family's document and its history.
        let swept = app.sweep_retention_in(40).await;
        assert!(swept.visits >= 1, "{swept:?}");
        assert_eq!(rows(&app, "visit_requests", "id", &format!("id = '{id}'")), 0);
        assert_eq!(rows(&app, "visit_events", "id", &format!("request_id = '{id}'")), 0);
        let (json, changes) = app.with_server_db(move |conn| {
            let doc = reguide_server::sync::store::load(conn, family)?.expect("a document");
            let json = serde_json::to_string(&automerge::AutoSerde::from(&doc)).expect("json");
            Ok((json, doc.get_changes(&[]).len()))
        });
        assert!(!json.contains(&id), "the document still has the visit");
        assert_eq!(changes, 1, "the old history was dropped");
        // The phone replaces its document at its next sync, and no longer has the visit.
        let (replaced, seen) = blocking(move || {
            let report = phone.sync_now().expect("sync");
            let seen = phone.visit_requests().expect("visits").iter().any(|r| r.request.id == id);
            (report.full_document, seen)
        })
        .await;
        assert!(replaced, "the phone was told to replace its document");
        assert!(!seen, "the phone no longer has the visit");
        // Steps and the rest of the family's file stay.
        let social = app.login_as(DemoUser::SocialWorker).await;
        let steps: Vec<serde_json::Value> = expect_json(app.get(&format!("/api/v1/families/{family}/steps"), Some(&social)).await, 200).await;
        assert!(!steps.is_empty());
    }

    async fn sent_email_and_expired_sign_ins_go(app: TestApp) {
        // The demo's confirmations are sent at start.
        let mut sent = 0;
        for _ in 0..100 {
            sent = rows(&app, "outbox", "id", "state = 'sent'");
            if sent > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(sent > 0, "the demo's email was sent");
        app.login_as(DemoUser::Coordinator).await;
        let wrong = app.login(DemoUser::Admin.email(), "wrong").await;
        assert!(wrong.is_err());
        assert!(rows(&app, "login_throttle", "key", "1 = 1") > 0);

        let swept = app.sweep_retention_in(30).await;
        assert_eq!(swept.emails, 0, "{swept:?}");
        assert_eq!(rows(&app, "outbox", "id", "state = 'sent'"), sent);
        // Ninety days on (mail), past every token's life (devices: ninety days).
        let swept = app.sweep_retention_in(92).await;
        assert_eq!(swept.emails, sent, "{swept:?}");
        assert_eq!(rows(&app, "outbox", "id", "state IN ('sent', 'dead')"), 0);
        assert_eq!(rows(&app, "api_tokens", "id", "1 = 1"), 0);
        assert_eq!(rows(&app, "login_throttle", "key", "1 = 1"), 0);
        // Signing in works as before.
        app.login_as(DemoUser::Admin).await;
    }
}
