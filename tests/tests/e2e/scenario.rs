//! The whole system once, as the people it serves use it, across two server instances that
//! share nothing but the database (the second in a process of its own): a family enrols two
//! devices, asks for a visit offline, syncs; the coordinator confirms it in the browser; both
//! devices see it; the confirmation email with its calendar entry arrives; the social worker adds
//! steps and an appointment; the facilitator invites the family to a Living Lab; the family
//! answers offline on one phone while the other writes a note; everything converges, and every
//! email arrives once.

use chrono::{Duration, Utc, Weekday};
use reguide_client_core::Client;
use reguide_tests::browser::{Browser, browser_available};
use reguide_tests::mail::SmtpSink;
use reguide_tests::phones::blocking;
use reguide_tests::protocol::api::EnrolmentCode;
use reguide_tests::protocol::doc::Rsvp;
use reguide_tests::protocol::doc::write::NewDocVisitRequest;
use reguide_tests::protocol::visits::{SlotChoice, VisitStatus, VisitType};
use reguide_tests::visits::{next_weekday, table_rules};
use reguide_tests::{Backend, DemoUser, TestApp, both_backends, expect_json};
use serde_json::{Value, json};

const KARIM_PASSWORD: &str = "Karim's own long password";

both_backends! {
    async fn a_family_a_coordinator_a_social_worker_and_a_facilitator_across_two_instances(backend: Backend) {
        if !browser_available() {
            return;
        }
        let sink = SmtpSink::start();
        let url = sink.url();
        let a = TestApp::spawn_with(backend, move |c| c.mail.smtp_url = Some(url.into())).await;
        let b = a.spawn_process_instance().await;
        let v = a.visits_demo().await;
        let (fatima, karim) = (v.a.member("Fatima Benali"), v.a.member("Karim Benali"));
        let social = a.login_as(DemoUser::SocialWorker).await;
        let coordinator = b.login_as(DemoUser::Coordinator).await;
        let facilitator = b.login_as(DemoUser::Facilitator).await;
        // Haren: the coordinator decides every request.
        b.set_rules(&coordinator, v.demo.haren, &table_rules(false)).await;
        let session = b.table_session(&coordinator, v.demo.haren, Weekday::Thu, 4).await;
        let day = next_weekday(Weekday::Thu, 3);

        // Two devices: Fatima's phone signs in on instance A; Karim enrols his with a code
        // from the social worker, on instance B.
        let dirs = tempfile::tempdir().expect("phone folders");
        let fatimas = reguide_tests::phones::fatimas_phone(&a, dirs.path().join("fatima")).await;
        let path = format!("/api/v1/families/{}/members/{karim}/enrolment-codes", v.a.id);
        let code: EnrolmentCode = expect_json(a.post_empty(&path, Some(&social)).await, 201).await;
        let (b_url, karim_dir) = (b.address.clone(), dirs.path().join("karim"));
        let karims = blocking(move || {
            let mut phone = Client::open(&karim_dir, None, &b_url).expect("open");
            phone.enrol(&code.code, KARIM_PASSWORD, "Karim's phone", None).expect("enrol");
            phone.sync_now().expect("first sync");
            phone
        })
        .await;

        // Offline, Fatima asks for a visit with Karim; then she syncs.
        let (template, prison, detainee) = (session.id, v.demo.haren, v.a.detainee);
        let (request_id, fatimas) = blocking(move || {
            let mut phone = fatimas;
            let id = phone
                .request_visit(NewDocVisitRequest {
                    detainee_id: detainee,
                    prison_id: prison,
                    visit_type: VisitType::Table,
                    preferences: vec![SlotChoice { template_id: template, date: day }],
                    visitors: vec![fatima, karim],
                    support_needs: vec![],
                    support_note: None,
                })
                .expect("asked offline");
            phone.sync_now().expect("sync");
            (id, phone)
        })
        .await;
        let request: uuid::Uuid = request_id.parse().expect("a request id");
        assert_eq!(b.visit_request(&coordinator, request).await.status, VisitStatus::Pending);

        // The coordinator confirms it in the browser, on instance B.
        let browser = Browser::start(&b, "en").await;
        browser.sign_in(DemoUser::Coordinator).await;
        browser.open(&format!("/admin/visits/{request}")).await;
        browser.click("#rank").await;
        assert_eq!(browser.path().await, "/admin/visits?done=confirmed");
        browser.close().await;

        // Both devices see it confirmed, each through its own instance.
        let (fatimas, karims) = blocking(move || {
            let (mut f, mut k) = (fatimas, karims);
            for phone in [&mut f, &mut k] {
                phone.sync_now().expect("sync");
                let seen = phone.visit_request(&request_id).expect("the visit is on the phone");
                assert_eq!(seen.status, VisitStatus::Confirmed);
            }
            (f, k)
        })
        .await;

        // The confirmation reaches the family once, with its calendar entry.
        let uid = format!("visit-{request}@reguide");
        let entries = |sink: &SmtpSink| {
            sink.messages()
                .into_iter()
                .filter(|m| m.calendar.as_ref().is_some_and(|c| c.uid == uid))
                .collect::<Vec<_>>()
        };
        let started = std::time::Instant::now();
        while entries(&sink).is_empty() {
            assert!(started.elapsed().as_secs() < 30, "no confirmation arrived");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let confirmation = entries(&sink);
        assert_eq!(confirmation.len(), 1, "the confirmation, once");
        assert!(confirmation[0].to.contains(DemoUser::FamilyMember.email()));
        assert_eq!(confirmation[0].calendar.as_ref().map(|c| c.method.as_str()), Some("REQUEST"));

        // The social worker adds steps from a template and proposes an appointment (on A); the
        // facilitator invites Fatima to a Living Lab (on B).
        let applied = a
            .post_json(&format!("/api/v1/families/{}/steps/from-template", v.a.id), Some(&social), &json!({ "template": "brussels-first-month" }))
            .await;
        assert_eq!(applied.status(), 201);
        let appointment = a
            .post_json(&format!("/api/v1/families/{}/appointments", v.a.id), Some(&social), &json!({
                "starts_at": Utc::now() + Duration::days(5),
                "place": "CPAS Schaerbeek, office 2",
                "purpose": "Rent guarantee",
            }))
            .await;
        assert_eq!(appointment.status(), 201);
        let lab_date = Utc::now().date_naive() + Duration::days(21);
        let labs: Vec<Value> = expect_json(b.post_json("/api/v1/living-labs", Some(&facilitator), &json!({
            "title": "Living Lab: housing after release", "date": lab_date, "starts_at": "10:00",
            "ends_at": "12:00", "place": "Brussels", "capacity": 10,
        })).await, 201).await;
        let lab = labs[0]["id"].as_str().expect("a session id").to_owned();
        let invited = b.post_json(&format!("/api/v1/living-labs/{lab}/invitations"), Some(&facilitator), &json!({ "members": [fatima] })).await;
        assert_eq!(invited.status(), 201);

        // Offline, Fatima accepts the invitation while Karim writes a note on a step; they sync
        // in turns, through different instances, and end with the same document.
        let (fatima_doc, karim_doc) = blocking(move || {
            let (mut f, mut k) = (fatimas, karims);
            f.sync_now().expect("sync");
            k.sync_now().expect("sync");
            let invitation = f
                .invitations()
                .expect("invitations")
                .into_iter()
                .find(|i| i.invitation.session_id == lab)
                .expect("the invitation reached the phone");
            f.answer_invitation(&invitation.invitation.id, Rsvp::Accepted, Some("With Karim".into())).expect("answer offline");
            let step = k.steps().expect("steps")[0].step.id.clone();
            k.add_note(&step, "Asked the CPAS about the deposit").expect("note offline");
            k.sync_now().expect("sync");
            f.sync_now().expect("sync");
            k.sync_now().expect("sync");
            (f.family().expect("family"), k.family().expect("family"))
        })
        .await;
        assert_eq!(fatima_doc, karim_doc, "both phones hold the same family document");
        let text = format!("{fatima_doc:?}");
        assert!(text.contains("Asked the CPAS about the deposit") && text.contains("With Karim"), "{text}");

        // Every message was sent, and each arrived once.
        let admin = a.login_as(DemoUser::Admin).await;
        let started = std::time::Instant::now();
        let sent = loop {
            let pending: Vec<Value> = expect_json(a.get("/api/v1/admin/outbox?state=pending&limit=500", Some(&admin)).await, 200).await;
            let due = pending.iter().filter(|m| m["send_after"].as_str().and_then(|t| t.parse::<chrono::DateTime<Utc>>().ok()).is_some_and(|t| t < Utc::now() + Duration::minutes(1))).count();
            if due == 0 {
                let sent: Vec<Value> = expect_json(a.get("/api/v1/admin/outbox?state=sent&limit=500", Some(&admin)).await, 200).await;
                break sent.len();
            }
            assert!(started.elapsed().as_secs() < 30, "still due: {pending:?}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let mails = sink.wait_for(sent).await;
        let mut ids: Vec<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!((mails.len(), ids.len()), (sent, sent), "every email arrived once");
    }
}
