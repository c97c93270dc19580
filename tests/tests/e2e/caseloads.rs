//! A social worker asks to follow a family and an administrator decides; workers of several
//! services share a family, each seeing it; who may ask, list and decide.

use reguide_tests::protocol::caseloads::{
    CaseloadFamily, CaseloadRequest, CaseloadRequestStatus, WorkerService,
};
use reguide_tests::protocol::steps::StepDetail;
use reguide_tests::{DemoUser, TestApp, assert_error, both_backends, expect_json};
use reqwest::Method;
use serde_json::{Value, json};

const REQUESTS: &str = "/api/v1/caseload-requests";

fn decision(id: uuid::Uuid) -> String {
    format!("/api/v1/admin/caseload-requests/{id}/decision")
}

both_backends! {
    async fn a_worker_asks_for_a_family_and_an_admin_decides(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let admin = app.login_as(DemoUser::Admin).await;
        let steps_c = format!("/api/v1/families/{}/steps", demo.family_c);
        assert_error(app.get(&steps_c, Some(&social)).await, 404, "family_not_found").await;

        let body = json!({ "family_id": demo.family_c, "service": "cpas", "reason": "Referred by the justice house" });
        let asked: CaseloadRequest = expect_json(app.post_json(REQUESTS, Some(&social), &body).await, 201).await;
        assert_eq!((asked.status, asked.account_id), (CaseloadRequestStatus::Pending, demo.account(DemoUser::SocialWorker)));
        assert_error(app.post_json(REQUESTS, Some(&social), &body).await, 409, "request_pending").await;
        let mine = json!({ "family_id": demo.family_a, "service": "cpas" });
        assert_error(app.post_json(REQUESTS, Some(&social), &mine).await, 409, "already_in_caseload").await;
        let nobody = json!({ "family_id": uuid::Uuid::new_v4(), "service": "cpas" });
        assert_error(app.post_json(REQUESTS, Some(&social), &nobody).await, 404, "family_not_found").await;
        let bad = json!({ "family_id": demo.family_c, "service": "police" });
        assert_error(app.post_json(REQUESTS, Some(&social), &bad).await, 400, "invalid_value").await;
        assert_error(app.get(&steps_c, Some(&social)).await, 404, "family_not_found").await;

        let pending: Vec<CaseloadRequest> =
            expect_json(app.get(&format!("{REQUESTS}?status=pending"), Some(&admin)).await, 200).await;
        assert_eq!(pending.iter().map(|r| r.id).collect::<Vec<_>>(), vec![asked.id]);
        let approved: CaseloadRequest = expect_json(
            app.post_json(&decision(asked.id), Some(&admin), &json!({ "approve": true })).await, 200).await;
        assert_eq!((approved.status, approved.decided_by), (CaseloadRequestStatus::Approved, Some(demo.account(DemoUser::Admin))));
        assert_error(app.post_json(&decision(asked.id), Some(&admin), &json!({ "approve": false })).await, 409, "already_decided").await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let steps: Vec<StepDetail> = expect_json(app.get(&steps_c, Some(&social)).await, 200).await;
        assert!(steps.is_empty());
        let family = app.get(&format!("/api/v1/families/{}", demo.family_c), Some(&social)).await;
        assert_eq!(family.status(), 200, "the family is in the caseload now");
        let own: Vec<CaseloadRequest> = expect_json(app.get(REQUESTS, Some(&social)).await, 200).await;
        // The caseload at a glance: families with overdue steps first, with the service.
        let late = json!({ "title": "Renew the identity card", "category": "identity_documents", "due_date": "2020-01-31" });
        let resp = app.post_json(&format!("/api/v1/families/{}/steps", demo.family_b), Some(&social), &late).await;
        assert_eq!(resp.status(), 201);
        let lines: Vec<CaseloadFamily> = expect_json(app.get("/api/v1/caseload", Some(&social)).await, 200).await;
        let families: Vec<_> = lines.iter().map(|l| l.family_id).collect();
        // "Family of M. El Idrissi" before "Family of Y. Benali".
        assert_eq!(families, vec![demo.family_b, demo.family_c, demo.family_a], "overdue first, then by name");
        assert_eq!((lines[0].overdue_steps, lines[0].open_steps), (1, 1));
        assert_eq!(lines[1].service, Some(WorkerService::Cpas));
        assert!(lines[2].open_steps >= 6, "the demo family's Brussels steps");
        assert_eq!(own.len(), 1);
        let audit: Value = expect_json(app.get("/api/v1/admin/audit?action=caseload_request_approved", Some(&admin)).await, 200).await;
        assert_eq!(audit["entries"].as_array().map(Vec::len), Some(1), "{audit}");

        // A justice assistant shares family A with the CPAS worker; both see it. A refusal
        // changes nothing.
        let created: Value = expect_json(app.post_json("/api/v1/admin/accounts", Some(&admin), &json!({
            "email": "assistant@example.org", "display_name": "Justice assistant",
            "password": "a long enough secret", "roles": [{ "role": "social_worker" }],
        })).await, 201).await;
        assert!(created["id"].is_string());
        let assistant = app.login("assistant@example.org", "a long enough secret").await.expect("login").token;
        let for_a: CaseloadRequest = expect_json(app.post_json(REQUESTS, Some(&assistant),
            &json!({ "family_id": demo.family_a, "service": "justice_house" })).await, 201).await;
        let for_b: CaseloadRequest = expect_json(app.post_json(REQUESTS, Some(&assistant),
            &json!({ "family_id": demo.family_b, "service": "justice_house" })).await, 201).await;
        app.post_json(&decision(for_a.id), Some(&admin), &json!({ "approve": true })).await;
        let refused: CaseloadRequest = expect_json(
            app.post_json(&decision(for_b.id), Some(&admin), &json!({ "approve": false })).await, 200).await;
        assert_eq!(refused.status, CaseloadRequestStatus::Refused);
        let assistant = app.login("assistant@example.org", "a long enough secret").await.expect("login").token;
        for (token, family, status) in [
            (&assistant, demo.family_a, 200),
            (&social, demo.family_a, 200),
            (&assistant, demo.family_b, 404),
        ] {
            let resp = app.get(&format!("/api/v1/families/{family}/steps"), Some(token)).await;
            assert_eq!(resp.status(), status, "{family}");
        }
    }

    async fn who_may_ask_list_and_decide(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let asked: CaseloadRequest = expect_json(app.post_json(REQUESTS, Some(&social),
            &json!({ "family_id": demo.family_c, "service": "ngo" })).await, 201).await;
        let callers = [
            None,
            Some(DemoUser::FamilyMember),
            Some(DemoUser::Facilitator),
            Some(DemoUser::SocialWorker),
            Some(DemoUser::Coordinator),
            Some(DemoUser::Admin),
        ];
        #[rustfmt::skip]
        let expected: [(&str, [u16; 6]); 4] = [
            //         anon  family facil. social coord. admin
            ("caseload", [401, 403,  403,   200,   403,   403]),
            ("ask",    [401,  403,   403,   409,   403,   403]),
            ("list",   [401,  403,   403,   200,   403,   200]),
            ("decide", [401,  403,   403,   403,   403,   200]),
        ];
        let mut wrong = Vec::new();
        for (call, statuses) in expected {
            for (column, caller) in callers.iter().enumerate() {
                let token = match caller {
                    Some(user) => Some(app.login_as(*user).await),
                    None => None,
                };
                let (method, path, body) = match call {
                    "ask" => (Method::POST, REQUESTS.to_owned(),
                        Some(json!({ "family_id": demo.family_c, "service": "ngo" }))),
                    "list" => (Method::GET, REQUESTS.to_owned(), None),
                    "caseload" => (Method::GET, "/api/v1/caseload".to_owned(), None),
                    _ => (Method::POST, decision(asked.id), Some(json!({ "approve": false }))),
                };
                let status = app.request(method, &path, token.as_deref(), body.as_ref()).await.status().as_u16();
                if status != statuses[column] {
                    wrong.push(format!("{call} as {caller:?}: {status}, wanted {}", statuses[column]));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
