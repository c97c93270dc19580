//! Appointments between a family and its social worker: proposed by either side, answered by
//! the other (the family offline in the app, the worker through the API), another time
//! proposed, called off; bad input; only the worker the appointment is with answers it.

use std::path::PathBuf;

use chrono::{Duration, Utc};
use reguide_client_core::Client;
use reguide_tests::phones::blocking;
use reguide_tests::protocol::FamilyId;
use reguide_tests::protocol::appointments::AppointmentDetail;
use reguide_tests::protocol::doc::status::{AppointmentEventKind, AppointmentStatus};
use reguide_tests::protocol::doc::write::NewDocAppointment;
use reguide_tests::{DEMO_PASSWORD, DemoUser, TestApp, assert_error, both_backends, expect_json};
use serde_json::{Value, json};

fn path(family: FamilyId) -> String {
    format!("/api/v1/families/{family}/appointments")
}

async fn list(app: &TestApp, token: &str, family: FamilyId) -> Vec<AppointmentDetail> {
    expect_json(app.get(&path(family), Some(token)).await, 200).await
}

async fn answer(
    app: &TestApp,
    token: &str,
    family: FamilyId,
    id: &str,
    body: Value,
) -> reqwest::Response {
    app.post_json(&format!("{}/{id}/answer", path(family)), Some(token), &body)
        .await
}

/// Runs `f` on Fatima's phone (signed in on first use), synced before and after.
async fn on_phone<T: Send + 'static>(
    app: &TestApp,
    dir: PathBuf,
    f: impl FnOnce(&mut Client) -> T + Send + 'static,
) -> T {
    let url = app.address.clone();
    blocking(move || {
        let mut phone = Client::open(&dir, None, &url).expect("open");
        if phone.session().is_none() {
            phone
                .login(
                    DemoUser::FamilyMember.email(),
                    DEMO_PASSWORD,
                    "Fatima's phone",
                )
                .expect("login");
        }
        phone.sync_now().expect("sync");
        let out = f(&mut phone);
        phone.sync_now().expect("sync");
        out
    })
    .await
}

both_backends! {
    async fn an_appointment_goes_back_and_forth_until_both_agree(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let worker = demo.account(DemoUser::SocialWorker);
        let family = demo.family_a;
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");

        // The worker proposes; the family accepts in the app.
        let at = (Utc::now() + Duration::days(3)).date_naive().and_hms_opt(9, 30, 0).expect("t").and_utc();
        let made: AppointmentDetail = expect_json(app.post_json(&path(family), Some(&social), &json!({
            "starts_at": at, "place": "CPAS, Rue Haute 298", "purpose": "Integration income",
        })).await, 201).await;
        assert_eq!((made.status, made.proposed_by.as_str(), made.with_account), (AppointmentStatus::Proposed, "worker", worker));
        let id = made.id.clone();
        on_phone(&app, dir.clone(), move |phone| {
            let overview = phone.overview().expect("overview");
            assert_eq!(overview.appointments_to_answer, 1);
            phone.answer_appointment(&id, AppointmentEventKind::Accepted).expect("accept offline");
        }).await;
        let seen = list(&app, &social, family).await;
        let first = seen.iter().find(|a| a.id == made.id).expect("listed");
        assert_eq!(first.status, AppointmentStatus::Accepted);
        assert!(first.history.iter().any(|h| h.kind == "accepted" && h.by != "server"));

        // The family proposes; the worker proposes another time; the family accepts that.
        let wanted = at + Duration::days(1);
        let proposed = on_phone(&app, dir.clone(), move |phone| {
            phone.propose_appointment(NewDocAppointment {
                with_account: worker,
                starts_at: wanted.timestamp_millis(),
                place: "Phone call".into(),
                purpose: "The children's school".into(),
                step_id: None,
            }).expect("propose")
        }).await;
        let theirs = list(&app, &social, family).await.into_iter().find(|a| a.id == proposed).expect("synced");
        assert_eq!((theirs.proposed_by.as_str(), theirs.starts_at), ("family", wanted));
        let later = wanted + Duration::hours(2);
        let moved: AppointmentDetail = expect_json(answer(&app, &social, family, &proposed,
            json!({ "answer": "other_time", "starts_at": later, "place": "Justice house" })).await, 200).await;
        assert_eq!((moved.status, moved.proposed_by.as_str(), moved.starts_at, moved.place.as_str()),
            (AppointmentStatus::Proposed, "worker", later, "Justice house"));
        let again = proposed.clone();
        on_phone(&app, dir.clone(), move |phone| {
            let seen = phone.appointments().expect("list");
            let mine = seen.iter().find(|a| a.appointment.id == again).expect("there");
            assert_eq!(mine.appointment.starts_at, later.timestamp_millis(), "the new time reached the phone");
            phone.answer_appointment(&again, AppointmentEventKind::Tentative).expect("tentative");
        }).await;
        let agreed = list(&app, &social, family).await.into_iter().find(|a| a.id == proposed).expect("there");
        assert_eq!(agreed.status, AppointmentStatus::Tentative);

        // The worker calls the first one off; it stays off.
        let off: AppointmentDetail = expect_json(answer(&app, &social, family, &made.id,
            json!({ "answer": "cancelled", "note": "I am ill" })).await, 200).await;
        assert_eq!(off.status, AppointmentStatus::Cancelled);
        assert_eq!(off.history.last().and_then(|h| h.detail.as_deref()), Some("I am ill"));
        assert_error(answer(&app, &social, family, &made.id, json!({ "answer": "accepted" })).await,
            409, "appointment_cancelled").await;
        let made_id = made.id.clone();
        on_phone(&app, dir, move |phone| {
            let seen = phone.appointments().expect("list");
            let off = seen.iter().find(|a| a.appointment.id == made_id).expect("there");
            assert_eq!(off.status, AppointmentStatus::Cancelled);
        }).await;
    }

    async fn bad_appointment_input_and_other_workers_change_nothing(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let family = demo.family_b;
        let at = Utc::now() + Duration::days(2);
        for (body, code, field) in [
            (json!({ "starts_at": Utc::now() - Duration::days(2), "place": "CPAS", "purpose": "x" }), "invalid_time", "starts_at"),
            (json!({ "starts_at": Utc::now() + Duration::days(400), "place": "CPAS", "purpose": "x" }), "invalid_time", "starts_at"),
            (json!({ "starts_at": at, "place": " ", "purpose": "x" }), "invalid_value", "place"),
            (json!({ "starts_at": at, "place": "CPAS", "purpose": "x", "step_id": "nope" }), "step_not_found", "step_id"),
            (json!({ "starts_at": "tomorrow", "place": "CPAS", "purpose": "x" }), "invalid_value", "starts_at"),
        ] {
            let resp = app.post_json(&path(family), Some(&social), &body).await;
            assert_eq!(resp.status(), 400, "{body}");
            let error: Value = resp.json().await.expect("json");
            assert_eq!((error["error"].as_str(), error["field"].as_str()), (Some(code), Some(field)), "{body}");
        }
        assert!(list(&app, &social, family).await.is_empty(), "nothing was written");

        let made: AppointmentDetail = expect_json(app.post_json(&path(family), Some(&social),
            &json!({ "starts_at": at, "place": "CPAS", "purpose": "Income" })).await, 201).await;
        assert_error(answer(&app, &social, family, &made.id, json!({ "answer": "accepted" })).await,
            409, "nothing_to_answer").await;
        assert_error(answer(&app, &social, family, &made.id, json!({ "answer": "other_time" })).await,
            400, "invalid_value").await;
        assert_error(answer(&app, &social, family, "nope", json!({ "answer": "cancelled" })).await,
            404, "appointment_not_found").await;

        // Another social worker of the same family may not answer for the first.
        let admin = app.login_as(DemoUser::Admin).await;
        let other: Value = expect_json(app.post_json("/api/v1/admin/accounts", Some(&admin), &json!({
            "email": "second.worker@example.org", "display_name": "Second worker",
            "password": "a long enough secret", "roles": [{ "role": "social_worker" }],
        })).await, 201).await;
        let other_id = other["id"].as_str().expect("id");
        let resp = app.put(&format!("/api/v1/admin/accounts/{other_id}/caseload/{family}"), Some(&admin)).await;
        assert_eq!(resp.status(), 204);
        let second = app.login("second.worker@example.org", "a long enough secret").await.expect("login").token;
        assert_error(answer(&app, &second, family, &made.id, json!({ "answer": "cancelled" })).await,
            403, "forbidden").await;
        let still = list(&app, &second, family).await;
        assert_eq!(still[0].status, AppointmentStatus::Proposed, "they see it, unchanged");
    }

    async fn a_worker_answers_from_the_link_in_the_email_once(app: TestApp) {
        let demo = app.demo_data().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let worker = demo.account(DemoUser::SocialWorker);
        let family = demo.family_a;
        let folders = tempfile::tempdir().expect("dir");
        let at = Utc::now() + Duration::days(4);
        let proposed = on_phone(&app, folders.path().join("fatima"), move |phone| {
            phone.propose_appointment(NewDocAppointment {
                with_account: worker,
                starts_at: at.timestamp_millis(),
                place: "Phone call".into(),
                purpose: "A call about the rent".into(),
                step_id: None,
            }).expect("propose")
        }).await;
        // The links the email to the worker carries.
        let (accept, decline) = {
            let id = proposed.clone();
            app.with_server_db(move |conn| {
                use reguide_tests::protocol::appointments::AppointmentReply;
                let mint = reguide_server::links::mint_appointment_answer;
                Ok((mint(conn, family, &id, worker, AppointmentReply::Accepted)?,
                    mint(conn, family, &id, worker, AppointmentReply::Declined)?))
            })
        };
        let client = reqwest::Client::new();
        let link = |token: &str| app.url(&format!("/links/{token}"));

        // Opening the link (a mail scanner does too) shows what it does and changes nothing.
        let shown = client.get(link(&accept)).send().await.expect("get");
        assert_eq!(shown.status(), 200);
        assert!(shown.headers()["content-type"].to_str().expect("type").starts_with("text/html"));
        let html = shown.text().await.expect("html");
        assert!(html.contains("A call about the rent") && html.contains("<form method=\"post\">"), "{html}");
        let still = list(&app, &social, family).await.into_iter().find(|a| a.id == proposed).expect("there");
        assert_eq!(still.status, AppointmentStatus::Proposed);

        // Pressing the button answers, as the worker, once.
        let done = client.post(link(&accept)).send().await.expect("post");
        assert_eq!(done.status(), 200);
        assert!(done.text().await.expect("html").contains("You accepted the appointment"));
        let answered = list(&app, &social, family).await.into_iter().find(|a| a.id == proposed).expect("there");
        assert_eq!(answered.status, AppointmentStatus::Accepted);
        let by_link = answered.history.last().expect("history");
        assert_eq!((by_link.kind.as_str(), by_link.staff_account), ("accepted", Some(worker)));

        // Used again, its twin, a forged one, an expired one: a clear page, nothing changes.
        let again = client.post(link(&accept)).send().await.expect("post");
        assert_eq!(again.status(), 410);
        assert!(again.text().await.expect("html").contains("already used"));
        let forged = client.post(link("rgd_forged0000000000000000000000000000000000000")).send().await.expect("post");
        assert_eq!(forged.status(), 404);
        assert!(forged.text().await.expect("html").contains("not valid"));
        let changed = app.execute_sql("UPDATE action_links SET expires_at = '2000-01-01 00:00:00' WHERE used_at IS NULL");
        // Left unused: this decline link, and the two links of the email the request sent.
        assert_eq!(changed, 3);
        let expired = client.post(link(&decline)).send().await.expect("post");
        assert_eq!(expired.status(), 410);
        assert!(expired.text().await.expect("html").contains("expired"));
        let after = list(&app, &social, family).await.into_iter().find(|a| a.id == proposed).expect("there");
        assert_eq!((after.status, after.history.len()), (AppointmentStatus::Accepted, answered.history.len()));
    }
}
