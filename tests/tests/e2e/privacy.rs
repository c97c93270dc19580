//! Erasure (GDPR art. 17) end to end: a member erased by an administrator is gone from every
//! table, from the family document and its history on the server, and from the family's phones
//! at their next sync, while what those phones did offline meanwhile still arrives.

use chrono::Weekday;
use reguide_tests::phones::{blocking, fatimas_phone};
use reguide_tests::protocol::api::Family;
use reguide_tests::visits::{next_weekday, request_body, table_rules};
use reguide_tests::{DemoUser, TestApp, assert_error, both_backends, expect_json};
use serde_json::json;

/// The family document as the server stores it: its JSON and the number of changes in its
/// history.
fn stored_document(app: &TestApp, family: reguide_tests::protocol::FamilyId) -> (String, usize) {
    app.with_server_db(move |conn| {
        let doc = reguide_server::sync::store::load(conn, family)?.expect("a document");
        let json = serde_json::to_string(&automerge::AutoSerde::from(&doc)).expect("json");
        Ok((json, doc.get_changes(&[]).len()))
    })
}

both_backends! {
    async fn an_erased_member_is_gone_from_the_server_and_from_the_familys_phones(app: TestApp) {
        let v = app.visits_demo().await;
        let (fatima, karim) = (v.a.member("Fatima Benali"), v.a.member("Karim Benali"));
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let family_token = app.login_as(DemoUser::FamilyMember).await;

        // Karim comes to a visit with Fatima, and is in the family's file everywhere.
        app.set_rules(&coordinator, v.demo.haren, &table_rules(false)).await;
        let session = app.table_session(&coordinator, v.demo.haren, Weekday::Thu, 4).await;
        let day = next_weekday(Weekday::Thu, 3);
        let visit = app.request_visit(&family_token, &request_body(v.a.id, v.a.detainee, "table", &[(session.id, day)], &[fatima, karim])).await;
        let dir = tempfile::tempdir().expect("phone folder");
        let mut phone = fatimas_phone(&app, dir.path().to_path_buf()).await;
        let (json, _) = stored_document(&app, v.a.id);
        assert!(json.contains("Karim Benali"), "Karim is in the family document");

        // Offline, Fatima adds a note; then Karim is erased.
        let (note, mut phone) = blocking(move || {
            let step = phone.steps().expect("steps")[0].step.id.clone();
            let note = phone.add_note(&step, "Called the CPAS about the deposit").expect("note");
            (note, phone)
        }).await;
        let asked: serde_json::Value = expect_json(app.post_json("/api/v1/privacy-requests", Some(&social), &json!({ "member_id": karim, "kind": "erasure" })).await, 201).await;
        let request = asked["id"].as_str().expect("id").to_owned();
        reguide_tests::assert_error(app.post_empty(&format!("/api/v1/admin/privacy-requests/{request}/erase"), Some(&social)).await, 403, "forbidden").await;
        let erased = app.post_empty(&format!("/api/v1/admin/privacy-requests/{request}/erase"), Some(&admin)).await;
        assert_eq!(erased.status(), 204);
        assert_error(app.post_empty(&format!("/api/v1/admin/privacy-requests/{request}/erase"), Some(&admin)).await, 409, "privacy_request_closed").await;

        // The tables: no Karim in the family, on the visit, in the audit log.
        let family: Family = expect_json(app.get(&format!("/api/v1/families/{}", v.a.id), Some(&admin)).await, 200).await;
        assert!(family.members.iter().all(|m| m.id != karim));
        let on_visit = app.visit_request(&admin, visit.id).await;
        assert_eq!(on_visit.visitors, vec![fatima]);
        assert_eq!(app.execute_sql(&format!("UPDATE audit_log SET action = action WHERE object_id = '{karim}'")), 0, "no audit entry about him");
        assert_eq!(app.execute_sql(&format!("UPDATE audit_log SET action = action WHERE action = 'member_erased' AND object_id = '{request}'")), 1, "only that the erasure happened");

        // The server's document: written anew, without him, its old history dropped.
        let (json, changes) = stored_document(&app, v.a.id);
        assert!(!json.contains("Karim"), "{json}");
        assert_eq!(changes, 1, "one change: the document written anew");

        // The phone: its next sync replaces its document; its offline note is done again on it.
        let (first, second, local) = blocking(move || {
            let first = phone.sync_now().expect("sync");
            let second = phone.sync_now().expect("sync again");
            let local = serde_json::to_string(&phone.family().expect("family").members.keys().collect::<Vec<_>>()).expect("json");
            (first, second, local)
        }).await;
        assert!(first.full_document, "the phone was told to replace its document");
        assert!(!second.full_document);
        assert!(!local.contains(&karim.to_string()), "the phone no longer has him");
        let notes: Vec<serde_json::Value> = expect_json(app.get(&format!("/api/v1/families/{}/steps", v.a.id), Some(&social)).await, 200).await;
        let texts: Vec<&str> = notes.iter().flat_map(|s| s["notes"].as_array().into_iter().flatten()).filter_map(|n| n["text"].as_str()).collect();
        assert!(texts.contains(&"Called the CPAS about the deposit"), "the offline note arrived: {texts:?} ({note})");
        let (json, _) = stored_document(&app, v.a.id);
        assert!(!json.contains("Karim"), "nothing brought him back");

        // His data cannot be asked for any more.
        assert_error(app.post_json("/api/v1/privacy-requests", Some(&admin), &json!({ "member_id": karim, "kind": "export" })).await, 404, "family_not_found").await;
    }

    async fn an_account_that_also_works_as_staff_is_not_erased_this_way(app: TestApp) {
        let v = app.visits_demo().await;
        let fatima = v.a.member("Fatima Benali");
        let admin = app.login_as(DemoUser::Admin).await;
        let fatima_account = app.demo_data().await.account(DemoUser::FamilyMember);
        let granted = app.post_json(&format!("/api/v1/admin/accounts/{fatima_account}/roles"), Some(&admin), &json!({ "role": "facilitator" })).await;
        assert_eq!(granted.status(), 201);
        let asked: serde_json::Value = expect_json(app.post_json("/api/v1/privacy-requests", Some(&admin), &json!({ "member_id": fatima, "kind": "erasure" })).await, 201).await;
        let request = asked["id"].as_str().expect("id");
        assert_error(app.post_empty(&format!("/api/v1/admin/privacy-requests/{request}/erase"), Some(&admin)).await, 409, "account_is_staff").await;
        let family: Family = expect_json(app.get(&format!("/api/v1/families/{}", v.a.id), Some(&admin)).await, 200).await;
        assert!(family.members.iter().any(|m| m.id == fatima), "nothing was erased");
    }
}
