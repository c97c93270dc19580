//! Email through a real SMTP server on loopback (aiosmtpd), read back as a mail client would:
//! MIME with both parts in the recipient's language, the calendar entry parsed by the
//! icalendar package with its own VTIMEZONE; SMTP down for a while, two server instances, a
//! refused address and its dead letter, files when no SMTP server is configured, answer links
//! in a worker's email, and each person's preferences.

use chrono::{Duration, NaiveTime, Utc, Weekday};
use reguide_server::config::Config;
use reguide_tests::mail::{Mail, SmtpSink, read_folder, wait_for_files};
use reguide_tests::protocol::mail::{EmailPreferences, OutboxMessage};
use reguide_tests::protocol::visits::VisitStatus;
use reguide_tests::visits::{next_weekday, request_body};
use reguide_tests::{Backend, DemoUser, TestApp, assert_error, both_backends, expect_json};
use serde_json::json;

const FATIMA: &str = "family@example.org";

fn smtp(sink: &SmtpSink) -> impl FnOnce(&mut Config) {
    let url = sink.url();
    move |config| config.mail.smtp_url = Some(url.into())
}

async fn outbox(app: &TestApp, admin: &str, state: &str) -> Vec<OutboxMessage> {
    expect_json(
        app.get(
            &format!("/api/v1/admin/outbox?state={state}&limit=500"),
            Some(admin),
        )
        .await,
        200,
    )
    .await
}

/// Waits until the outbox holds no message due now (sent, dead or scheduled later).
async fn drained(app: &TestApp, admin: &str) {
    let started = std::time::Instant::now();
    loop {
        let pending = outbox(app, admin, "pending").await;
        if pending
            .iter()
            .all(|m| m.send_after > Utc::now() + Duration::minutes(1))
        {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "still pending: {pending:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits for what the demo data sent at start to go out; returns how many messages the sink
/// holds, so that a test reads only what it caused (`messages()[before..]`).
async fn settle(app: &TestApp, admin: &str, sink: &SmtpSink) -> usize {
    drained(app, admin).await;
    let sent = outbox(app, admin, "sent").await.len();
    sink.wait_for(sent).await.len()
}

fn to(mails: &[Mail], address: &str) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.to.contains(address))
        .cloned()
        .collect()
}

/// Each Message-ID once: nothing was sent twice.
fn assert_once(mails: &[Mail]) {
    let mut ids: Vec<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "a message arrived twice");
}

async fn decide(
    app: &TestApp,
    token: &str,
    id: uuid::Uuid,
    body: serde_json::Value,
) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/visit-requests/{id}/decision"),
        Some(token),
        &body,
    )
    .await
}

async fn put_prefs(app: &TestApp, token: &str, body: serde_json::Value) -> reqwest::Response {
    app.request(
        reqwest::Method::PUT,
        "/api/v1/me/email",
        Some(token),
        Some(&body),
    )
    .await
}

async fn email_code(
    app: &TestApp,
    staff: &str,
    family: reguide_tests::protocol::FamilyId,
    member: reguide_tests::protocol::MemberId,
) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/families/{family}/members/{member}/enrolment-codes?email=true"),
        Some(staff),
        &json!({}),
    )
    .await
}

both_backends! {
    async fn a_confirmed_visit_reaches_the_family_with_a_calendar_entry_and_its_cancellation_removes_it(backend: Backend) {
        let sink = SmtpSink::start();
        let app = TestApp::spawn_with(backend, smtp(&sink)).await;
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        // The demo's own confirmed visits were announced at start.
        let before = settle(&app, &admin, &sink).await;
        assert!(before >= 1, "the demo's confirmed visit was announced");
        let t = app.table_session(&coordinator, v.demo.haren, Weekday::Fri, 3).await;
        let day = next_weekday(Weekday::Fri, 3);
        let body = request_body(v.a.id, v.a.detainee, "table", &[(t.id, day)], &[v.a.member("Fatima Benali")]);
        let visit = app.request_visit(&fatima, &body).await;
        assert_eq!(visit.status, VisitStatus::Confirmed);
        let slot = visit.slot.clone().expect("a slot");

        let mails = sink.wait_for(before + 1).await[before..].to_vec();
        let confirmed = to(&mails, FATIMA);
        assert_eq!(confirmed.len(), 1, "{mails:?}");
        let mail = &confirmed[0];
        // In Fatima's language (French), both parts, discreet subject.
        assert!(mail.subject.starts_with("Votre visite du ") && mail.subject.ends_with(" est confirmée"), "{}", mail.subject);
        assert!(!mail.subject.to_lowercase().contains("prison"));
        assert_eq!(mail.content_type, "multipart/mixed");
        assert!(mail.text.contains("Bonjour Fatima Benali") && mail.text.contains(&visit.reference), "{}", mail.text);
        assert!(mail.text.contains("14:00") && mail.html.contains(&visit.reference));
        assert_eq!((mail.html_lang.as_str(), mail.html_dir.as_str()), ("fr", "ltr"));
        assert!(mail.from.contains("no-reply@reguide.localhost"));
        let sent = outbox(&app, &admin, "sent").await;
        let row = sent.iter().find(|m| mail.message_id.contains(&m.id)).expect("listed as sent");
        assert_eq!(row.kind, "visit_confirmed");
        assert_eq!(mail.message_id, format!("<{}@reguide.localhost>", row.id), "the Message-ID is the outbox row's");

        // The calendar entry: REQUEST, stable UID, the prison's zone, the slot's instant.
        let calendar = mail.calendar.clone().expect("a calendar entry");
        assert_eq!((calendar.method.as_str(), calendar.status.as_str(), calendar.events), ("REQUEST", "CONFIRMED", 1));
        assert_eq!(calendar.uid, format!("visit-{}@reguide", visit.id));
        assert_eq!((calendar.sequence, calendar.tzid.as_str()), (0, "Europe/Brussels"));
        let content_type = calendar.content_type.replace('"', "");
        assert!(content_type.starts_with("text/calendar") && content_type.contains("method=REQUEST"), "{content_type}");
        assert_eq!(calendar.filename.as_deref(), Some("invite.ics"));
        assert_eq!(calendar.start_local, slot.starts_at.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string());
        assert_eq!(calendar.end_local, slot.ends_at.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string());
        let utc = slot.starts_at.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
        assert_eq!(calendar.start_utc, utc, "the attached VTIMEZONE gives the slot's instant");
        assert!(calendar.attendee.contains(FATIMA));

        // The reminder is scheduled for 18:00 the evening before, Brussels time.
        let pending = outbox(&app, &admin, "pending").await;
        let evening = reguide_tests::protocol::time::local_instant(
            chrono_tz::Europe::Brussels, day - Duration::days(1), NaiveTime::from_hms_opt(18, 0, 0).expect("18:00"));
        let reminder = pending
            .iter()
            .find(|m| m.kind == "visit_reminder" && m.send_after == evening.with_timezone(&Utc))
            .expect("a reminder is scheduled for the evening before");

        // Cancelled: the entry is removed (same UID, next SEQUENCE), the reminder called off.
        app.visit_action(&fatima, visit.id, "cancel", &json!({})).await;
        let mails = sink.wait_for(before + 2).await[before..].to_vec();
        let cancelled = to(&mails, FATIMA).into_iter().find(|m| m.calendar.as_ref().is_some_and(|c| c.method == "CANCEL")).expect("a cancellation");
        let calendar = cancelled.calendar.expect("calendar");
        assert_eq!((calendar.uid, calendar.sequence, calendar.status.as_str()), (format!("visit-{}@reguide", visit.id), 1, "CANCELLED"));
        assert!(cancelled.subject.contains("annulée"), "{}", cancelled.subject);
        let states = outbox(&app, &admin, "cancelled").await;
        assert!(states.iter().any(|m| m.id == reminder.id), "the reminder was called off");
        drained(&app, &admin).await;
        let all = sink.messages();
        assert_eq!(all.len(), before + 2, "{all:?}");
        assert_once(&all);
    }

    async fn with_smtp_down_for_a_while_nothing_is_lost_and_nothing_is_sent_twice(backend: Backend) {
        let mut sink = SmtpSink::not_started();
        let app = TestApp::spawn_with(backend, smtp(&sink)).await;
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let fatima = v.a.member("Fatima Benali");
        for _ in 0..5 {
            assert_eq!(email_code(&app, &social, v.a.id, fatima).await.status(), 201);
        }
        // The worker tries, fails, backs off, and keeps every message.
        let started = std::time::Instant::now();
        loop {
            let pending: Vec<OutboxMessage> = outbox(&app, &admin, "pending").await.into_iter().filter(|m| m.kind == "enrolment_code").collect();
            if pending.len() == 5 && pending.iter().all(|m| m.attempts >= 2 && m.last_error.is_some()) {
                break;
            }
            assert!(started.elapsed().as_secs() < 30, "{pending:?}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(outbox(&app, &admin, "sent").await.is_empty());

        sink.resume();
        drained(&app, &admin).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let sent = outbox(&app, &admin, "sent").await;
        let mails = sink.wait_for(sent.len()).await;
        assert_eq!(mails.len(), sent.len(), "each message once: {} sent", sent.len());
        assert_once(&mails);
        let codes: Vec<&Mail> = mails.iter().filter(|m| m.subject == "Votre code pour l'application reguide").collect();
        assert_eq!(codes.len(), 5, "{mails:?}");
        assert_eq!(sent.iter().filter(|m| m.kind == "enrolment_code").count(), 5);
    }

    async fn two_server_instances_deliver_every_message_once(backend: Backend) {
        let sink = SmtpSink::start();
        let app = TestApp::spawn_with(backend, smtp(&sink)).await;
        let second = app.spawn_second_instance().await;
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let before = settle(&app, &admin, &sink).await;
        // Requests to both instances at once: each writes its messages; both workers deliver.
        let mut calls = Vec::new();
        for i in 0..30 {
            let target = if i % 2 == 0 { &app } else { &second };
            calls.push(email_code(target, &social, v.a.id, v.a.member("Fatima Benali")));
        }
        for response in futures_util::future::join_all(calls).await {
            assert_eq!(response.status(), 201);
        }
        sink.wait_for(before + 30).await;
        drained(&app, &admin).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let mails = sink.messages();
        assert_eq!(mails.len(), before + 30, "each message once");
        assert_once(&mails);
        assert_eq!(outbox(&app, &admin, "sent").await.len(), before + 30);
    }

    async fn a_delivering_instance_killed_again_and_again_loses_no_email(backend: Backend) {
        const ROUNDS: usize = 3;
        const PER_ROUND: usize = 15;
        let sink = SmtpSink::start();
        // Short leases: what a killed worker held is taken by another after two seconds.
        let app = TestApp::spawn_with(backend, |config| {
            smtp(&sink)(config);
            config.mail.lease_seconds = 2;
        })
        .await;
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let before = settle(&app, &admin, &sink).await;
        let mut node = app.spawn_process_instance().await;
        for round in 0..ROUNDS {
            // Messages written through the process instance, which delivers too, and is killed
            // while the workers are at it.
            let calls: Vec<_> = (0..PER_ROUND)
                .map(|_| email_code(&node, &social, v.a.id, v.a.member("Fatima Benali")))
                .collect();
            for response in futures_util::future::join_all(calls).await {
                assert_eq!(response.status(), 201);
            }
            let delay = std::time::Duration::from_millis(20 + 60 * round as u64);
            tokio::time::sleep(delay).await;
            node.kill();
            eprintln!("{backend:?} round {round}: killed {delay:?} after {PER_ROUND} messages were written");
            node.restart().await;
        }
        let total = before + ROUNDS * PER_ROUND;
        drained(&app, &admin).await;
        let sent = outbox(&app, &admin, "sent").await;
        assert_eq!(sent.len(), total, "every message is sent");
        let mails = sink.wait_for(total).await;
        // None lost: every message's Message-ID arrived.
        let mut arrived: Vec<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
        arrived.sort();
        arrived.dedup();
        assert_eq!(arrived.len(), total, "each message arrived");
        // A message whose delivery was cut between the SMTP server's acceptance and its row
        // being marked sent is sent again after the lease, with the same Message-ID (so a mail
        // program shows it once). Outcomes are written as they come: per kill, at most those
        // in flight and those finished while the last outcomes were being written.
        let again = mails.len() - arrived.len();
        eprintln!("{backend:?}: {total} messages, {again} delivered again after a kill");
        assert!(again <= ROUNDS * 2 * app.config.mail.concurrency, "{again} sent again");
    }

    async fn a_refused_address_is_a_dead_letter_an_administrator_sends_again(backend: Backend) {
        let mut sink = SmtpSink::start_rejecting(&[FATIMA]);
        let app = TestApp::spawn_with(backend, smtp(&sink)).await;
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        assert_eq!(email_code(&app, &social, v.a.id, v.a.member("Fatima Benali")).await.status(), 201);
        let started = std::time::Instant::now();
        let dead = loop {
            let dead = outbox(&app, &admin, "dead").await;
            if let Some(message) = dead.iter().find(|m| m.kind == "enrolment_code") {
                break message.clone();
            }
            assert!(started.elapsed().as_secs() < 30);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        // Refused for good (550): dead at the first attempt, with the reason.
        assert_eq!((dead.kind.as_str(), dead.attempts), ("enrolment_code", 1));
        assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("550")), "{dead:?}");
        assert!(to(&sink.messages(), FATIMA).is_empty());
        let before = sink.messages().len();

        // Only administrators see the outbox and send again.
        let retry = format!("/api/v1/admin/outbox/{}/retry", dead.id);
        assert_error(app.get("/api/v1/admin/outbox", Some(&coordinator)).await, 403, "forbidden").await;
        assert_error(app.post_json(&retry, Some(&social), &json!({})).await, 403, "forbidden").await;
        assert_error(app.post_json("/api/v1/admin/outbox/nope/retry", Some(&admin), &json!({})).await, 404, "message_not_found").await;
        assert_error(app.get("/api/v1/admin/outbox?state=lost", Some(&admin)).await, 400, "invalid_value").await;

        // The mailbox works again; the administrator sends it again; it arrives once.
        sink.kill();
        sink.clear_rejections();
        sink.resume();
        assert_eq!(app.post_json(&retry, Some(&admin), &json!({})).await.status(), 204);
        assert_error(app.post_json(&retry, Some(&admin), &json!({})).await, 409, "not_dead").await;
        let mails = sink.wait_for(before + 1).await;
        assert_eq!(to(&mails, FATIMA).len(), 1);
        drained(&app, &admin).await;
        assert_eq!(sink.messages().len(), before + 1);
    }

    async fn without_smtp_messages_are_eml_files_in_the_data_folder(app: TestApp) {
        let v = app.visits_demo().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let admin = app.login_as(DemoUser::Admin).await;
        let folder = app.config.data_dir.join("mail");
        drained(&app, &admin).await;
        let before = outbox(&app, &admin, "sent").await.len();
        assert_eq!(email_code(&app, &social, v.a.id, v.a.member("Fatima Benali")).await.status(), 201);
        wait_for_files(&folder, before + 1).await;
        let mails = read_folder(&folder);
        assert_eq!(mails.len(), before + 1);
        let code = mails.iter().find(|m| m.subject == "Votre code pour l'application reguide").expect("the code's message");
        assert!(code.to.contains(FATIMA));
        assert!(code.text.contains("Bonjour Fatima Benali"));
        // A member without an address: the code is for paper, and nothing is written.
        let karim = v.a.member("Karim Benali");
        assert_error(email_code(&app, &social, v.a.id, karim).await, 400, "no_email_address").await;
    }

    async fn people_turn_reminders_off_but_not_decisions(app: TestApp) {
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let prefs: EmailPreferences = expect_json(app.get("/api/v1/me/email", Some(&fatima)).await, 200).await;
        assert_eq!(prefs.address.as_deref(), Some(FATIMA));
        assert!(prefs.kinds.iter().all(|k| k.enabled));
        let essential: Vec<&str> = prefs.kinds.iter().filter(|k| k.essential).map(|k| k.kind.as_str()).collect();
        assert!(essential.contains(&"visit_confirmed") && !essential.contains(&"visit_reminder"));

        let e = assert_error(put_prefs(&app, &fatima, json!({ "turned_off": ["visit_confirmed"] })).await, 400, "essential_kind").await;
        assert_eq!(e.field.as_deref(), Some("turned_off"));
        assert_error(put_prefs(&app, &fatima, json!({ "turned_off": ["spam"] })).await, 400, "unknown_kind").await;
        let prefs: EmailPreferences = expect_json(put_prefs(&app, &fatima, json!({ "turned_off": ["visit_reminder"], "language": "nl" })).await, 200).await;
        assert_eq!(prefs.language.code(), "nl");
        let reminder = prefs.kinds.iter().find(|k| k.kind == "visit_reminder").expect("listed");
        assert!(!reminder.enabled);

        // A visit confirmed now: the confirmation (in Dutch now), no reminder.
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let t = app.table_session(&coordinator, v.demo.haren, Weekday::Sat, 3).await;
        let body = request_body(v.a.id, v.a.detainee, "table", &[(t.id, next_weekday(Weekday::Sat, 3))], &[v.a.member("Fatima Benali")]);
        app.request_visit(&fatima, &body).await;
        let pending = outbox(&app, &admin, "pending").await;
        assert!(!pending.iter().any(|m| m.kind == "visit_reminder"), "{pending:?}");
        let all: Vec<OutboxMessage> = [outbox(&app, &admin, "pending").await, outbox(&app, &admin, "sent").await].concat();
        let confirmation = all.iter().find(|m| m.kind == "visit_confirmed").expect("the confirmation");
        assert_eq!(confirmation.language.code(), "nl");
        assert!(confirmation.subject.starts_with("Uw bezoek"), "{}", confirmation.subject);
        assert_error(app.get("/api/v1/me/email", None).await, 401, "unauthenticated").await;
    }

    async fn a_family_day_registration_and_its_cancellation_reach_the_family_calendar(backend: Backend) {
        let sink = SmtpSink::start();
        let app = TestApp::spawn_with(backend, smtp(&sink)).await;
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let before = settle(&app, &admin, &sink).await;
        let date = Utc::now().date_naive() + Duration::days(20);
        let day: reguide_tests::protocol::family_days::FamilyDay = expect_json(app.post_json(
            &format!("/api/v1/prisons/{}/family-days", v.demo.haren), Some(&admin),
            &json!({
                "title": "Winter family day", "date": date, "starts_at": "10:00", "ends_at": "16:00",
                "programme": "Games, lunch", "capacity_families": 5, "capacity_people": 30,
                "registration_deadline": (date - Duration::days(2)).and_hms_opt(12, 0, 0).expect("noon").and_utc(),
            })).await, 201).await;
        let registered = app.post_json(&format!("/api/v1/family-days/{}/registrations", day.id), Some(&fatima),
            &json!({ "family_id": v.a.id, "adults": 2, "children": 1, "wait_if_full": false })).await;
        assert_eq!(registered.status(), 201);
        let mails = sink.wait_for(before + 1).await[before..].to_vec();
        let mail = &to(&mails, FATIMA)[0];
        assert!(mail.subject.contains("Winter family day"), "{}", mail.subject);
        assert!(mail.text.contains("3"), "the number of people: {}", mail.text);
        let calendar = mail.calendar.clone().expect("a calendar entry");
        assert_eq!((calendar.method.as_str(), calendar.sequence), ("REQUEST", 0));
        assert_eq!(calendar.start_local, format!("{date}T10:00:00"));
        assert_eq!(calendar.summary, "Winter family day");

        // The prison calls the day off: the entry is removed, the reminder called off.
        assert_eq!(app.post_empty(&format!("/api/v1/family-days/{}/cancel", day.id), Some(&admin)).await.status(), 200);
        let mails = sink.wait_for(before + 2).await[before..].to_vec();
        let cancelled = mails.iter().find(|m| m.calendar.as_ref().is_some_and(|c| c.method == "CANCEL")).expect("a cancellation");
        let entry = cancelled.calendar.clone().expect("calendar");
        assert_eq!((entry.uid, entry.sequence), (calendar.uid, 1));
        assert!(!outbox(&app, &admin, "pending").await.iter().any(|m| m.kind == "family_day_reminder"));
    }

    async fn a_worker_answers_the_familys_appointment_request_from_the_email(backend: Backend) {
        let sink = SmtpSink::start();
        let url = sink.url();
        let app = TestApp::spawn_with(backend, move |config| {
            config.mail.smtp_url = Some(url.into());
            config.public_url = "https://reguide.example".into();
        })
        .await;
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let worker = demo.account(DemoUser::SocialWorker);
        let before = settle(&app, &admin, &sink).await;
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");
        let at = (Utc::now() + Duration::days(4)).date_naive().and_hms_opt(9, 0, 0).expect("9:00").and_utc();
        let address = app.address.clone();
        let id = reguide_tests::phones::blocking(move || {
            let mut phone = reguide_client_core::Client::open(&dir, None, &address).expect("open");
            phone.login(DemoUser::FamilyMember.email(), reguide_tests::DEMO_PASSWORD, "Fatima's phone").expect("login");
            phone.sync_now().expect("the first sync");
            let id = phone.propose_appointment(reguide_tests::protocol::doc::write::NewDocAppointment {
                with_account: worker,
                starts_at: at.timestamp_millis(),
                place: "CPAS".into(),
                purpose: "Housing".into(),
                step_id: None,
            }).expect("propose offline");
            phone.sync_now().expect("sync");
            id
        }).await;

        // The worker's email, in Dutch, with the family's name and two links.
        let mails = sink.wait_for(before + 1).await[before..].to_vec();
        let request = to(&mails, "social@example.org");
        assert_eq!(request.len(), 1, "{mails:?}");
        let request = &request[0];
        assert!(request.subject.starts_with("Vraag voor een afspraak"), "{}", request.subject);
        assert!(!request.subject.contains("Benali"), "no family name in the subject");
        let links: Vec<&str> = request.text.split_whitespace().filter(|w| w.starts_with("https://reguide.example/links/")).collect();
        assert_eq!(links.len(), 2, "{}", request.text);
        assert!(request.html.contains(links[0]));
        let accept = links[0].trim_start_matches("https://reguide.example");

        // Opening the link changes nothing; pressing its button accepts, once.
        assert_eq!(app.get(accept, None).await.status(), 200);
        let listed: Vec<reguide_tests::protocol::appointments::AppointmentDetail> = expect_json(
            app.get(&format!("/api/v1/families/{}/appointments", demo.family_a), Some(&social)).await, 200).await;
        assert_eq!(listed.iter().find(|a| a.id == id).expect("there").status.as_str(), "proposed");
        assert_eq!(app.post_empty(accept, None).await.status(), 200);
        assert_eq!(app.post_empty(accept, None).await.status(), 410);

        // Both sides get the calendar entry of the agreed appointment; the family a reminder.
        let mails = sink.wait_for(before + 3).await[before..].to_vec();
        let confirmed: Vec<&Mail> = mails.iter().filter(|m| m.calendar.as_ref().is_some_and(|c| c.method == "REQUEST")).collect();
        assert_eq!(confirmed.len(), 2, "{mails:?}");
        assert!(confirmed.iter().any(|m| m.to.contains(FATIMA) && m.text.contains("Hanne De Smet")));
        assert!(confirmed.iter().any(|m| m.to.contains("social@example.org")));
        let calendar = confirmed[0].calendar.clone().expect("calendar");
        assert_eq!(calendar.start_utc, at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string());
        let pending = outbox(&app, &admin, "pending").await;
        assert!(pending.iter().any(|m| m.kind == "appointment_reminder"));
    }

    async fn decisions_and_offers_reach_the_family_in_its_language(app: TestApp) {
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let haren = v.demo.haren;
        app.set_rules(&coordinator, haren, &reguide_tests::visits::table_rules(false)).await;
        let t = app.table_session(&coordinator, haren, Weekday::Wed, 1).await;
        let day = next_weekday(Weekday::Wed, 3);
        let ask = |date| request_body(v.a.id, v.a.detainee, "table", &[(t.id, date)], &[v.a.member("Fatima Benali")]);
        let folder = app.config.data_dir.join("mail");
        drained(&app, &admin).await;
        let before = outbox(&app, &admin, "sent").await.len();

        // Declined, with the reason in words and the coordinator's note.
        let first = app.request_visit(&fatima, &ask(day)).await;
        assert_eq!(decide(&app, &coordinator, first.id, json!({ "action": "decline", "reason": "no_capacity", "note": "Essayez le mercredi suivant." })).await.status(), 200);
        // Another slot proposed.
        let second = app.request_visit(&fatima, &ask(day)).await;
        let other = day + Duration::weeks(1);
        assert_eq!(decide(&app, &coordinator, second.id, json!({ "action": "propose", "slot": { "template_id": t.id, "date": other } })).await.status(), 200);
        wait_for_files(&folder, before + 2).await;
        let mails = read_folder(&folder);
        let declined = mails.iter().find(|m| m.subject.contains(&first.reference)).expect("the decline");
        assert!(declined.text.contains("La raison : il n'y avait plus de place"), "{}", declined.text);
        assert!(declined.text.contains("Essayez le mercredi suivant."), "{}", declined.text);
        assert!(declined.calendar.is_none());
        let proposed = mails.iter().find(|m| m.text.contains(&second.reference) && m.subject != declined.subject).expect("the proposal");
        assert!(proposed.calendar.is_none(), "no calendar entry before the family accepts");

        // A place offered from the waiting list, held until a time given in words.
        let full = app.table_session(&coordinator, haren, Weekday::Thu, 1).await;
        let thursday = next_weekday(Weekday::Thu, 3);
        let other_family = app.new_visiting_family(&admin, haren, "Family of Haren W").await;
        let taken = app.request_visit(&admin, &other_family.table_request(full.id, thursday)).await;
        assert_eq!(decide(&app, &coordinator, taken.id, json!({ "action": "confirm", "rank": 1 })).await.status(), 200);
        let body = reguide_tests::visits::waitlist_body(v.a.id, v.a.detainee, full.id, thursday, &[v.a.member("Fatima Benali")]);
        assert_eq!(app.post_json(reguide_tests::visits::WAITLIST, Some(&fatima), &body).await.status(), 201);
        app.visit_action(&admin, taken.id, "cancel", &json!({ "reason": "Ill" })).await;
        let sent_now = outbox(&app, &admin, "sent").await.len() + outbox(&app, &admin, "pending").await.len();
        assert!(sent_now > before + 2);
        let started = std::time::Instant::now();
        let offer = loop {
            let mails = read_folder(&folder);
            if let Some(offer) = mails.into_iter().find(|m| m.to.contains(FATIMA) && m.subject.starts_with("Une place")) {
                break offer;
            }
            assert!(started.elapsed().as_secs() < 30, "no offer arrived");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert!(offer.text.contains("jusqu'au"), "held until a time given in words: {}", offer.text);
    }

    async fn a_family_step_with_a_due_date_has_one_reminder_that_follows_it(app: TestApp) {
        let demo = app.demo_data().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let steps = format!("/api/v1/families/{}/steps", demo.family_a);
        let due = Utc::now().date_naive() + Duration::days(41);
        let step: reguide_tests::protocol::steps::StepDetail = expect_json(app.post_json(&steps, Some(&social), &json!({
            "title": "Renouveler la carte d'identité", "category": "identity_documents",
            "owner": "worker", "next_actor": "family", "due_date": due,
        })).await, 201).await;
        let nine = |day: chrono::NaiveDate| reguide_tests::protocol::time::local_instant(
            chrono_tz::Europe::Brussels, day, NaiveTime::from_hms_opt(9, 0, 0).expect("9:00")).with_timezone(&Utc);
        let reminders = |list: Vec<OutboxMessage>| -> Vec<OutboxMessage> {
            list.into_iter().filter(|m| m.kind == "step_reminder").collect()
        };
        // The demo's own steps have theirs too (the first change brings them all in line); this
        // step's is the one at its time.
        let at = |list: &[OutboxMessage], when| list.iter().filter(|m| m.send_after == when).count();
        let first = nine(due - Duration::days(3));
        let pending = reminders(outbox(&app, &admin, "pending").await);
        assert_eq!(at(&pending, first), 1, "09:00 three days before: {pending:?}");
        assert!(pending.iter().all(|m| !m.subject.contains("carte")), "the step stays out of the subject");

        // Moved: the reminder moves with it; a note changes nothing.
        let later = due + Duration::days(7);
        let path = format!("{steps}/{}", step.id);
        let moved = json!({ "due_date": later });
        assert_eq!(app.request(reqwest::Method::PATCH, &path, Some(&social), Some(&moved)).await.status(), 200);
        assert_eq!(app.post_json(&format!("{path}/notes"), Some(&social), &json!({ "text": "Rendez-vous pris" })).await.status(), 201);
        let second = nine(later - Duration::days(3));
        let pending = reminders(outbox(&app, &admin, "pending").await);
        assert_eq!((at(&pending, first), at(&pending, second)), (0, 1), "{pending:?}");
        let cancelled = reminders(outbox(&app, &admin, "cancelled").await);
        assert_eq!((at(&cancelled, first), cancelled.len()), (1, 1));

        // Done: no reminder.
        let done = json!({ "status": "done" });
        assert_eq!(app.request(reqwest::Method::PATCH, &path, Some(&social), Some(&done)).await.status(), 200);
        let pending = reminders(outbox(&app, &admin, "pending").await);
        assert_eq!(at(&pending, second), 0, "{pending:?}");
    }
}
