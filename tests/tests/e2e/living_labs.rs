//! Living Labs: a facilitator plans sessions (one, or a series) and invites staff (one by one,
//! by role), family members and guests outside reguide by email; a family answers offline in
//! the app, a guest from the links in the email, staff through the API; the facilitator sees
//! answers, needs and the waiting list; concurrent acceptances never exceed the capacity.

use chrono::{Duration, Utc};
use reguide_tests::mail::{Mail, SmtpSink, read_folder, wait_for_files};
use reguide_tests::phones::{blocking, fatimas_phone};
use reguide_tests::protocol::doc::Rsvp;
use reguide_tests::protocol::living_labs::{LabOverview, LivingLab, Need, Place};
use reguide_tests::{Backend, DemoUser, TestApp, assert_error, both_backends, expect_json};
use serde_json::{Value, json};
use uuid::Uuid;

const LABS: &str = "/api/v1/living-labs";

fn session(days: i64, capacity: i32) -> Value {
    json!({
        "title": "Living Lab: hearing of a transfer",
        "theme": "Communication between prisons and families",
        "description": "How families hear of a transfer, and what would help.",
        "date": Utc::now().date_naive() + Duration::days(days),
        "starts_at": "14:00", "ends_at": "16:30",
        "place": "Maison de la Justice, Bruxelles",
        "capacity": capacity,
        "languages": ["fr", "nl"],
        "agenda": ["Welcome", "Two cases", "What we agree on"],
    })
}

async fn plan(app: &TestApp, token: &str, body: &Value) -> Vec<LivingLab> {
    expect_json(app.post_json(LABS, Some(token), body).await, 201).await
}

async fn invite(app: &TestApp, token: &str, lab: Uuid, body: &Value) -> LabOverview {
    expect_json(
        app.post_json(&format!("{LABS}/{lab}/invitations"), Some(token), body)
            .await,
        201,
    )
    .await
}

async fn overview(app: &TestApp, token: &str, lab: Uuid) -> LabOverview {
    expect_json(
        app.get(&format!("{LABS}/{lab}/invitations"), Some(token))
            .await,
        200,
    )
    .await
}

/// The `/lab-links/…` paths of the invitation email sent to `address`: accept, maybe, decline.
fn links_for(mails: &[Mail], address: &str) -> Vec<String> {
    let mail = mails
        .iter()
        .find(|m| m.to.contains(address) && m.text.contains("/lab-links/"))
        .unwrap_or_else(|| panic!("no invitation for {address}"));
    mail.text
        .split_whitespace()
        .filter_map(|w| w.find("/lab-links/").map(|i| w[i..].to_owned()))
        .collect()
}

both_backends! {
    async fn a_facilitator_plans_a_series_and_only_those_concerned_see_it(app: TestApp) {
        let facilitator = app.login_as(DemoUser::Facilitator).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;

        let mut series = session(10, 12);
        series["repeat"] = json!({ "every": "monthly", "count": 3 });
        let made = plan(&app, &facilitator, &series).await;
        assert_eq!(made.len(), 3);
        assert!(made.iter().all(|l| l.series_id.is_some() && l.series_id == made[0].series_id));
        assert_eq!(made[1].date, made[0].date.checked_add_months(chrono::Months::new(1)).expect("a month on"));
        assert_eq!(made[0].starts_at.format("%H:%M").to_string(), "14:00");
        assert_eq!((made[0].capacity, made[0].taken, made[0].agenda.len()), (12, 0, 3));

        // Only facilitators and administrators plan; nobody else sees a session they are not in.
        assert_error(app.post_json(LABS, Some(&coordinator), &session(10, 5)).await, 403, "forbidden").await;
        assert_error(app.post_json(LABS, Some(&fatima), &session(10, 5)).await, 403, "forbidden").await;
        let lab = made[0].id;
        assert_error(app.get(&format!("{LABS}/{lab}"), Some(&social)).await, 404, "living_lab_not_found").await;
        let theirs: Vec<LivingLab> = expect_json(app.get(LABS, Some(&social)).await, 200).await;
        assert!(!theirs.iter().any(|l| l.id == lab), "not invited yet");

        // Invited by role, the social worker sees it; the invitations are the facilitator's.
        let seen = invite(&app, &facilitator, lab, &json!({ "roles": ["social_worker"], "role": "social_worker" })).await;
        assert!(seen.invitations.iter().any(|i| i.kind == "account" && i.role.as_str() == "social_worker"));
        let theirs: Vec<LivingLab> = expect_json(app.get(LABS, Some(&social)).await, 200).await;
        assert!(theirs.iter().any(|l| l.id == lab));
        assert!(!theirs.iter().any(|l| made[1..].iter().any(|m| m.id == l.id)), "only the session invited to");
        assert_eq!(app.get(&format!("{LABS}/{lab}"), Some(&social)).await.status(), 200);
        assert_error(app.get(&format!("{LABS}/{lab}/invitations"), Some(&social)).await, 404, "living_lab_not_found").await;
        assert_error(app.get(&format!("{LABS}/{lab}/invitations"), Some(&coordinator)).await, 404, "living_lab_not_found").await;
        // Inviting again invites nobody twice.
        let again = invite(&app, &facilitator, lab, &json!({ "roles": ["social_worker"] })).await;
        assert_eq!(again.invitations.len(), seen.invitations.len());

        // Bad input names its field and writes nothing.
        let cases = [
            (json!({ "capacity": 0 }), "invalid_value", "capacity"),
            (json!({ "ends_at": "13:00" }), "invalid_value", "ends_at"),
            (json!({ "time_zone": "Mars/Olympus" }), "invalid_time_zone", "time_zone"),
            (json!({ "date": "2020-01-01" }), "date_in_past", "date"),
            (json!({ "title": "  " }), "invalid_value", "title"),
            (json!({ "online_link": "javascript:alert(1)" }), "invalid_value", "online_link"),
            (json!({ "repeat": { "every": "weekly", "count": 99 } }), "invalid_value", "repeat.count"),
        ];
        for (change, code, field) in cases {
            let mut body = session(10, 5);
            for (k, v) in change.as_object().expect("object") {
                body[k] = v.clone();
            }
            let error = assert_error(app.post_json(LABS, Some(&facilitator), &body).await, 400, code).await;
            assert_eq!(error.field.as_deref(), Some(field), "{body}");
        }
        let bad_guest = json!({ "guests": [{ "email": "not an address", "name": "X", "role": "judge" }] });
        assert_error(app.post_json(&format!("{LABS}/{lab}/invitations"), Some(&facilitator), &bad_guest).await, 400, "invalid_email").await;
        let all: Vec<LivingLab> = expect_json(app.get(LABS, Some(&facilitator)).await, 200).await;
        let ours = all.iter().filter(|l| l.title == "Living Lab: hearing of a transfer").count();
        assert_eq!(ours, 3, "nothing half-written");
    }

    async fn a_family_answers_offline_a_guest_from_a_real_email_and_staff_through_the_api(backend: Backend) {
        let sink = SmtpSink::start();
        let url = sink.url();
        let app = TestApp::spawn_with(backend, move |c| c.mail.smtp_url = Some(url.into())).await;
        let v = app.visits_demo().await;
        let facilitator = app.login_as(DemoUser::Facilitator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let lab = plan(&app, &facilitator, &session(12, 10)).await[0].id;
        // The social worker's caseload: of its families, the members who can be reached.
        let seen = invite(&app, &facilitator, lab, &json!({
            "caseload_of": v.demo.account(DemoUser::SocialWorker),
            "accounts": [v.demo.account(DemoUser::SocialWorker)],
            "role": "social_worker",
            "guests": [{ "email": "judge.peeters@just.example", "name": "Judge Peeters", "role": "judge", "language": "nl" }],
        })).await;
        let members: Vec<_> = seen.invitations.iter().filter(|i| i.kind == "member").collect();
        assert_eq!(members.len(), 1, "Fatima: the caseload's only member with an account or address");
        assert_eq!((members[0].family_id, members[0].role.as_str()), (Some(v.a.id), "family"));

        // The family's phone gets the invitation on its next sync and answers offline.
        let folders = tempfile::tempdir().expect("dir");
        let phone = fatimas_phone(&app, folders.path().join("fatima")).await;
        let session_id = lab.to_string();
        let answered = blocking(move || {
            let mut phone = phone;
            let mine = phone.invitations().expect("invitations");
            let invitation = mine.iter().find(|i| i.invitation.session_id == session_id).expect("the invitation reached the phone");
            let id = invitation.invitation.id.clone();
            phone.answer_invitation(&id, Rsvp::Accepted, Some("I will need an interpreter".into())).expect("answer offline");
            phone.sync_now().expect("sync");
            let after = phone.invitations().expect("invitations");
            let place = after.iter().find(|i| i.invitation.id == id).and_then(|i| i.invitation.place.clone());
            (id, place)
        }).await;
        assert_eq!(answered.1.as_deref(), Some("held"), "the server's word came back in the same sync");

        // The guest's email, in Dutch, through a real SMTP server, with three links; Fatima's
        // in French; opening a link changes nothing.
        let started = std::time::Instant::now();
        let links = loop {
            let mails = sink.messages();
            if mails.iter().any(|m| m.to.contains("judge.peeters@just.example")) {
                let hers = mails.iter().find(|m| m.to.contains("family@example.org") && m.subject.starts_with("Invitation")).expect("Fatima's invitation");
                assert!(hers.text.contains("Living Lab"), "{}", hers.text);
                let invitation = mails.iter().find(|m| m.to.contains("judge.peeters@just.example")).expect("found");
                assert!(invitation.subject.starts_with("Uitnodiging"), "{}", invitation.subject);
                break links_for(&mails, "judge.peeters@just.example");
            }
            assert!(started.elapsed().as_secs() < 30, "no invitation email");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(links.len(), 3, "{links:?}");
        let shown = app.get(&links[0], None).await;
        assert_eq!(shown.status(), 200);
        assert!(shown.text().await.expect("html").contains("<form method=\"post\">"));
        assert_eq!(overview(&app, &facilitator, lab).await.accepted, 1, "only Fatima so far");

        // The guest accepts with a need; the link works once; a forged one does nothing.
        let client = reqwest::Client::new();
        let accepted = client.post(app.url(&links[0]))
            .form(&[("note", "Arriving by train"), ("need", "accessibility")])
            .send().await.expect("post");
        assert_eq!(accepted.status(), 200);
        assert!(accepted.text().await.expect("html").contains("You have a place"));
        let before = overview(&app, &facilitator, lab).await;
        assert_eq!(client.post(app.url(&links[0])).send().await.expect("post").status(), 410);
        assert_eq!(client.post(app.url("/lab-links/rgd_forged")).send().await.expect("post").status(), 404);
        assert_eq!(overview(&app, &facilitator, lab).await, before, "a reused or forged link changes nothing");

        // Staff answer through the API; a family member may not (they answer in the app).
        let mine: reguide_tests::protocol::living_labs::LabInvitation = expect_json(app.post_json(
            &format!("{LABS}/{lab}/answer"), Some(&social),
            &json!({ "answer": "tentative", "needs": ["childcare"] })).await, 200).await;
        assert_eq!((mine.answer, mine.place), (Some(Rsvp::Tentative), Place::None));
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        assert_error(app.post_json(&format!("{LABS}/{lab}/answer"), Some(&fatima), &json!({ "answer": "declined" })).await, 403, "forbidden").await;

        // The facilitator sees it all at a glance.
        let seen = overview(&app, &facilitator, lab).await;
        assert_eq!((seen.accepted, seen.tentative, seen.declined, seen.not_answered), (2, 1, 0, 0));
        assert_eq!(seen.living_lab.taken, 2);
        let family = seen.invitations.iter().find(|i| i.kind == "member").expect("Fatima");
        assert_eq!(family.note.as_deref(), Some("I will need an interpreter"));
        let guest = seen.invitations.iter().find(|i| i.kind == "guest").expect("the judge");
        assert_eq!((guest.answer, guest.place, guest.needs.clone()), (Some(Rsvp::Accepted), Place::Held, vec![Need::Accessibility]));
        assert!(seen.needs.contains(&(Need::Accessibility, 1)) && seen.needs.contains(&(Need::Childcare, 1)));

        // Those with a place get a reminder the evening before, 18:00 Brussels time.
        let admin = app.login_as(DemoUser::Admin).await;
        let pending: Vec<reguide_tests::protocol::mail::OutboxMessage> = expect_json(
            app.get("/api/v1/admin/outbox?state=pending&limit=500", Some(&admin)).await, 200).await;
        let evening = reguide_tests::protocol::time::local_instant(
            chrono_tz::Europe::Brussels,
            seen.living_lab.date - Duration::days(1),
            chrono::NaiveTime::from_hms_opt(18, 0, 0).expect("18:00"),
        ).with_timezone(&Utc);
        let reminders: Vec<_> = pending.iter().filter(|m| m.kind == "living_lab_reminder" && m.send_after == evening).collect();
        assert_eq!(reminders.len(), 2, "Fatima and the judge: {pending:?}");

        // Those with a place get the calendar entry.
        let started = std::time::Instant::now();
        loop {
            let mails = sink.messages();
            let confirmed = mails.iter().filter(|m| m.calendar.as_ref().is_some_and(|c| c.uid.starts_with("living-lab-"))).count();
            if confirmed >= 2 {
                break;
            }
            assert!(started.elapsed().as_secs() < 30, "no confirmations");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn concurrent_acceptances_never_exceed_the_capacity_and_a_freed_place_goes_to_the_first_waiting(app: TestApp) {
        let facilitator = app.login_as(DemoUser::Facilitator).await;
        let lab = plan(&app, &facilitator, &session(15, 3)).await[0].id;
        let guests: Vec<Value> = (0..8)
            .map(|i| json!({ "email": format!("guest{i}@example.org"), "name": format!("Guest {i}"), "role": "academic" }))
            .collect();
        invite(&app, &facilitator, lab, &json!({ "guests": guests })).await;
        let folder = app.config.data_dir.join("mail");
        wait_for_files(&folder, 8).await;
        let mails = read_folder(&folder);
        let links: Vec<Vec<String>> = (0..8).map(|i| links_for(&mails, &format!("guest{i}@example.org"))).collect();

        // All eight accept at once.
        let client = reqwest::Client::new();
        let posts = links.iter().map(|l| client.post(app.url(&l[0])).send());
        for response in futures_util::future::join_all(posts).await {
            assert_eq!(response.expect("post").status(), 200);
        }
        let seen = overview(&app, &facilitator, lab).await;
        let held = seen.invitations.iter().filter(|i| i.place == Place::Held).count();
        let waiting: Vec<_> = seen.invitations.iter().filter(|i| i.place == Place::Waiting).collect();
        assert_eq!((held, waiting.len(), seen.living_lab.taken), (3, 5, 3), "never above capacity");
        let mut positions: Vec<i64> = waiting.iter().filter_map(|i| i.position).collect();
        positions.sort_unstable();
        assert_eq!(positions, vec![1, 2, 3, 4, 5]);
        let first_waiting = waiting.iter().find(|i| i.position == Some(1)).expect("first").id;

        // One with a place declines (its decline link): the first waiting gets it.
        let holder = seen.invitations.iter().find(|i| i.place == Place::Held).expect("a holder");
        let n = holder.email.as_deref().and_then(|e| e.strip_prefix("guest")).and_then(|e| e.split('@').next()).and_then(|n| n.parse::<usize>().ok()).expect("guest number");
        assert_eq!(client.post(app.url(&links[n][2])).send().await.expect("post").status(), 200);
        let seen = overview(&app, &facilitator, lab).await;
        let promoted = seen.invitations.iter().find(|i| i.id == first_waiting).expect("there");
        assert_eq!(promoted.place, Place::Held);
        // Told by email, with the calendar entry.
        let address = promoted.email.clone().expect("a guest");
        let started = std::time::Instant::now();
        while !read_folder(&folder).iter().any(|m| m.to.contains(&address) && m.calendar.as_ref().is_some_and(|c| c.uid.contains(&first_waiting.to_string()))) {
            assert!(started.elapsed().as_secs() < 30, "the promoted guest was not told");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(seen.living_lab.taken, 3);
        assert_eq!(seen.invitations.iter().filter(|i| i.place == Place::Waiting).count(), 4);
    }

    async fn a_cancelled_session_removes_the_calendar_entries_it_gave(app: TestApp) {
        let v = app.visits_demo().await;
        let facilitator = app.login_as(DemoUser::Facilitator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let lab = plan(&app, &facilitator, &session(9, 5)).await[0].id;
        invite(&app, &facilitator, lab, &json!({ "accounts": [v.demo.account(DemoUser::SocialWorker)] })).await;
        let accepted = app.post_json(&format!("{LABS}/{lab}/answer"), Some(&social), &json!({ "answer": "accepted" })).await;
        assert_eq!(accepted.status(), 200);
        let folder = app.config.data_dir.join("mail");
        let calendars = |mails: &[Mail], method: &str| -> Vec<reguide_tests::mail::Calendar> {
            mails.iter().filter_map(|m| m.calendar.clone()).filter(|c| c.uid.starts_with("living-lab-") && c.method == method).collect()
        };
        let started = std::time::Instant::now();
        while calendars(&read_folder(&folder), "REQUEST").is_empty() {
            assert!(started.elapsed().as_secs() < 30, "no confirmation");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let cancelled: LivingLab = expect_json(app.post_empty(&format!("{LABS}/{lab}/cancel"), Some(&facilitator)).await, 200).await;
        assert!(cancelled.cancelled && cancelled.taken == 0);
        let started = std::time::Instant::now();
        let entry = loop {
            let mails = read_folder(&folder);
            if let Some(c) = calendars(&mails, "CANCEL").into_iter().next() {
                break c;
            }
            assert!(started.elapsed().as_secs() < 30, "no cancellation");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let request = calendars(&read_folder(&folder), "REQUEST").remove(0);
        assert_eq!((entry.uid, entry.sequence), (request.uid, request.sequence + 1));
        assert_error(app.post_json(&format!("{LABS}/{lab}/answer"), Some(&social), &json!({ "answer": "accepted" })).await, 409, "living_lab_cancelled").await;
        assert_error(app.post_empty(&format!("{LABS}/{lab}/cancel"), Some(&facilitator)).await, 409, "living_lab_cancelled").await;
        assert_error(app.post_empty(&format!("{LABS}/{lab}/cancel"), Some(&social)).await, 404, "living_lab_not_found").await;
    }

    async fn after_the_session_attendance_and_a_summary_for_those_who_came(app: TestApp) {
        let v = app.visits_demo().await;
        let facilitator = app.login_as(DemoUser::Facilitator).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let lab = plan(&app, &facilitator, &session(5, 5)).await[0].id;
        let seen = invite(&app, &facilitator, lab, &json!({
            "members": [v.a.member("Fatima Benali")],
            "accounts": [v.demo.account(DemoUser::SocialWorker)],
            "guests": [{ "email": "=cmd@example.org", "name": "=HYPERLINK(\"x\")", "role": "civil_society" }],
        })).await;
        let fatima = seen.invitations.iter().find(|i| i.kind == "member").expect("Fatima").id;
        let summary = json!({ "summary": "Families hear of a transfer the same day.", "next_steps": "A leaflet by March." });

        // Before it starts: no attendance; no summary before attendance.
        let attendance = json!({ "attended": [fatima] });
        assert_error(app.request(reqwest::Method::PUT, &format!("{LABS}/{lab}/attendance"), Some(&facilitator), Some(&attendance)).await, 409, "living_lab_not_started").await;
        assert_error(app.request(reqwest::Method::PUT, &format!("{LABS}/{lab}/summary"), Some(&facilitator), Some(&summary)).await, 409, "attendance_not_recorded").await;
        assert_eq!(app.execute_sql(&format!("UPDATE living_labs SET date = '2026-01-05' WHERE id = '{lab}'")), 1);

        assert_error(app.post_json(&format!("{LABS}/{lab}/answer"), Some(&social), &json!({ "answer": "declined" })).await, 409, "living_lab_started").await;
        let stranger = json!({ "attended": [Uuid::new_v4()] });
        assert_error(app.request(reqwest::Method::PUT, &format!("{LABS}/{lab}/attendance"), Some(&facilitator), Some(&stranger)).await, 400, "invitation_not_found").await;
        assert_error(app.request(reqwest::Method::PUT, &format!("{LABS}/{lab}/attendance"), Some(&social), Some(&attendance)).await, 404, "living_lab_not_found").await;
        let marked: LabOverview = expect_json(app.request(reqwest::Method::PUT, &format!("{LABS}/{lab}/attendance"), Some(&facilitator), Some(&attendance)).await, 200).await;
        assert_eq!(marked.invitations.iter().filter(|i| i.attended == Some(true)).count(), 1);
        assert_eq!(marked.invitations.iter().filter(|i| i.attended == Some(false)).count(), 2);
        assert_eq!(app.request(reqwest::Method::PUT, &format!("{LABS}/{lab}/summary"), Some(&facilitator), Some(&summary)).await.status(), 200);

        // The family who came reads it in the app; staff who did not may not; strangers see nothing.
        let folders = tempfile::tempdir().expect("dir");
        let phone = fatimas_phone(&app, folders.path().join("fatima")).await;
        let session_id = lab.to_string();
        let read = blocking(move || {
            let phone = phone;
            let all = phone.invitations().expect("invitations");
            all.into_iter().find(|i| i.invitation.session_id == session_id).and_then(|i| i.invitation.summary)
        }).await;
        assert_eq!(read.as_deref(), Some("Families hear of a transfer the same day.\n\nA leaflet by March."));
        assert_error(app.get(&format!("{LABS}/{lab}/summary"), Some(&social)).await, 403, "forbidden").await;
        assert_error(app.get(&format!("{LABS}/{lab}/summary"), Some(&coordinator)).await, 404, "living_lab_not_found").await;

        // The export, with typed text defused for spreadsheets.
        let csv = app.get(&format!("{LABS}/{lab}/invitations.csv"), Some(&facilitator)).await;
        assert_eq!(csv.status(), 200);
        assert!(csv.headers()["content-type"].to_str().expect("type").starts_with("text/csv"));
        let text = csv.text().await.expect("csv");
        assert!(text.starts_with("name,kind,role,email,language,answer,place,position,needs,note,attended\r\n"));
        assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{text}");
        assert!(text.contains("Fatima Benali,member,family,"), "{text}");
        assert_error(app.get(&format!("{LABS}/{lab}/invitations.csv"), Some(&social)).await, 404, "living_lab_not_found").await;
    }
}
