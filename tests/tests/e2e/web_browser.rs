//! The web admin in a real browser: headless Chromium over WebDriver, as staff use it. Each
//! page visited is checked with axe-core (no serious or critical problem) and saved as a
//! screenshot in `tests/browser/screenshots/`.

use std::time::Duration;

use chrono::Utc;
use reguide_client_core::Client;
use reguide_tests::browser::{Browser, browser_available};
use reguide_tests::phones::blocking;
use reguide_tests::protocol::doc::status::AppointmentStatus;
use reguide_tests::protocol::doc::write::NewDocAppointment;
use reguide_tests::protocol::visits::VisitStatus;
use reguide_tests::{DEMO_PASSWORD, DemoUser, TestApp, both_backends};

/// Fatima's phone, signed in and synced, with its data in `dir`.
async fn phone(app: &TestApp, dir: std::path::PathBuf) -> Client {
    reguide_tests::phones::fatimas_phone(app, dir).await
}

/// The page count of a PDF, from its page tree's `/Count`.
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let at = text.find("/Count").expect("a page tree") + "/Count".len();
    text[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a count")
}

both_backends! {
    async fn a_coordinator_confirms_a_request_the_phone_sees_it_and_prints_the_day(app: TestApp) {
        if !browser_available() {
            return;
        }
        let request = app.pending_visit().await;
        let folder = tempfile::tempdir().expect("phone folder");
        let mut fatima = phone(&app, folder.path().to_path_buf()).await;

        let browser = Browser::start(&app, "en").await;
        browser.visit_and_check("/admin/sign-in", "sign-in").await;
        browser.sign_in(DemoUser::Coordinator).await;
        browser.assert_accessible().await;
        browser.screenshot("coordinator-home").await;
        browser.visit_and_check("/admin/visits", "queue").await;
        assert!(browser.main_text().await.contains(&request.reference));

        // The request: the family's choice is confirmed with one button.
        browser.click(&format!("a[href='/admin/visits/{}']", request.id)).await;
        browser.assert_accessible().await;
        browser.screenshot("request").await;
        // Declining without a reason: the problem is named at the top and linked to the field.
        browser.click("form[action$='/decision'] button.warning").await;
        let summary = browser.find(".error-summary a[href='#reason']").await;
        assert!(summary.text().await.expect("text").contains("why"));
        browser.assert_accessible().await;
        browser.screenshot("request-error").await;
        browser.click("#rank").await;
        assert_eq!(browser.path().await, "/admin/visits?done=confirmed");
        assert!(browser.find("[role=status]").await.text().await.expect("notice").contains("confirmed"));

        // The family's phone has it after its next sync.
        let seen = blocking(move || {
            fatima.sync_now().expect("sync");
            fatima.visit_requests().expect("requests")
        }).await;
        let mine = seen.iter().find(|r| r.request.id == request.id.to_string()).expect("the request is on the phone");
        assert_eq!(mine.status, VisitStatus::Confirmed);

        // The week shows the slot taken, in numbers and words; the day list prints.
        browser.visit_and_check("/admin/prisons", "prisons").await;
        browser.visit_and_check(&format!("/admin/prisons/{}", request.prison_id), "prison").await;
        browser.visit_and_check(&format!("/admin/prisons/{}/visitors", request.prison_id), "visitor-lists").await;
        browser.visit_and_check(&format!("/admin/prisons/{}/family-days", request.prison_id), "family-days").await;
        let monday = request.preferences[0].date;
        browser.visit_and_check(&format!("/admin/prisons/{}/week?from={monday}", request.prison_id), "week").await;
        assert!(browser.main_text().await.contains("1 / 2 booked"), "{}", browser.main_text().await);
        let day = format!("/admin/prisons/{}/day?date={monday}", request.prison_id);
        browser.visit_and_check(&day, "day-list").await;
        let text = browser.main_text().await;
        assert!(text.contains(&request.reference) && text.contains("Visitor pass"), "{text}");
        let pdf = browser.client.print(fantoccini::wd::PrintConfiguration::default()).await.expect("print");
        assert!(pdf.starts_with(b"%PDF"), "a PDF");
        let pages = pdf_pages(&pdf);
        assert!(pages >= 2, "the list, then the passes on a page of their own: {pages} pages");
        let name = format!("{:?}-day-list.pdf", app.backend).to_lowercase();
        std::fs::write(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/screenshots").join(name), &pdf).expect("save the PDF");
        browser.close().await;
    }

    async fn a_social_worker_applies_a_template_and_confirms_an_appointment(app: TestApp) {
        if !browser_available() {
            return;
        }
        let demo = app.demo_data().await;
        let worker = demo.account(DemoUser::SocialWorker);
        let folder = tempfile::tempdir().expect("phone folder");
        let mut fatima = phone(&app, folder.path().to_path_buf()).await;
        let wanted = Utc::now() + chrono::Duration::days(5);
        let asked = blocking(move || {
            let id = fatima.propose_appointment(NewDocAppointment {
                with_account: worker,
                starts_at: wanted.timestamp_millis(),
                place: "Office, rue Haute 5".into(),
                purpose: "Housing allowance forms".into(),
                step_id: None,
            }).expect("propose");
            fatima.sync_now().expect("sync");
            (id, fatima)
        }).await;
        let (appointment, mut fatima) = asked;

        let browser = Browser::start(&app, "en").await;
        browser.sign_in(DemoUser::SocialWorker).await;
        browser.visit_and_check("/admin/caseload", "caseload").await;
        browser.click(&format!("a[href='/admin/families/{}']", demo.family_a)).await;
        browser.assert_accessible().await;
        browser.screenshot("family").await;
        assert!(browser.main_text().await.contains("Housing allowance forms"));

        // A regional template's steps are added.
        browser.select("#template", "brussels-work-training").await;
        browser.click("form[action$='/steps/from-template'] button[type=submit]").await;
        assert!(browser.path().await.ends_with("?done=template_applied"), "{}", browser.path().await);
        browser.assert_accessible().await;
        browser.screenshot("family-with-steps").await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let steps: Vec<serde_json::Value> = reguide_tests::expect_json(app.get(&format!("/api/v1/families/{}/steps", demo.family_a), Some(&social)).await, 200).await;
        assert!(steps.iter().any(|s| s["template"].as_str().is_some_and(|t| t.starts_with("brussels-work-training/"))), "the template's steps are there");

        // The family's appointment is accepted; the phone sees the worker's answer.
        browser.click("#answer").await;
        assert!(browser.path().await.ends_with("?done=appointment_answered"));
        let status = blocking(move || {
            fatima.sync_now().expect("sync");
            fatima.appointments().expect("appointments").into_iter().find(|a| a.appointment.id == appointment).map(|a| a.status)
        }).await;
        assert_eq!(status, Some(AppointmentStatus::Accepted));

        // An enrolment code for a member, printable with its QR code.
        browser.click("form[action$='/enrolment-code'] button").await;
        browser.assert_accessible().await;
        browser.screenshot("enrolment-code").await;
        let code = browser.find(".code").await.text().await.expect("code");
        assert_eq!(code.len(), 14, "{code}");
        browser.find(".qr svg").await;
        browser.close().await;
    }

    async fn a_facilitator_invites_a_familys_caseload(app: TestApp) {
        if !browser_available() {
            return;
        }
        // The facilitator plans a new session, which nobody is invited to yet.
        let browser = Browser::start(&app, "en").await;
        browser.sign_in(DemoUser::Facilitator).await;
        browser.visit_and_check("/admin/living-labs", "living-labs").await;
        browser.fill("#title", "Living Lab: hearing of a transfer").await;
        let date = Utc::now().date_naive() + chrono::Duration::days(10);
        browser.client.execute("document.getElementById('date').value = arguments[0]; return true;", vec![serde_json::json!(date.to_string())]).await.expect("date");
        browser.fill("#place", "Maison de la Justice, Bruxelles").await;
        browser.fill("#capacity", "10").await;
        browser.click("form[action='/admin/living-labs'] button[type=submit]").await;
        assert_eq!(browser.path().await, "/admin/living-labs?done=planned");
        let href = browser.client.execute(
            "return [...document.querySelectorAll('main table a')].find(a => a.textContent.includes('hearing of a transfer')).getAttribute('href');",
            vec![],
        ).await.expect("the new session is listed");
        let lab_path = href.as_str().expect("a link").to_owned();
        browser.open(&lab_path).await;
        browser.assert_accessible().await;
        let lab_id = lab_path.trim_start_matches("/admin/living-labs/").to_owned();
        let before = browser.main_text().await;
        assert!(before.contains("Nobody is invited yet"), "{before}");

        // Nobody chosen: the problem is named at the top, linked to the field.
        browser.click("form[action$='/invitations'] button[type=submit]").await;
        assert!(browser.find(".error-summary a[href='#caseload_of']").await.text().await.expect("text").contains("whom to invite"));
        browser.assert_accessible().await;
        browser.screenshot("living-lab-error").await;

        let social = app.demo_data().await.account(DemoUser::SocialWorker);
        browser.open(&lab_path).await;
        browser.select("#caseload_of", &social.to_string()).await;
        browser.click("form[action$='/invitations'] button[type=submit]").await;
        assert!(browser.path().await.ends_with("?done=invited"));
        let after = browser.main_text().await;
        assert!(after.contains("Fatima Benali") && after.contains("Invited (1)"), "the caseload's members with the app or an address are invited: {after}");
        browser.assert_accessible().await;
        browser.screenshot("living-lab").await;

        // After the session: attendance and the summary.
        assert_eq!(app.execute_sql(&format!("UPDATE living_labs SET date = '2026-01-05' WHERE id = '{lab_id}'")), 1);
        browser.open(&lab_path).await;
        browser.find("input[name=attended]").await.click().await.expect("tick who came");
        browser.click("form[action$='/attendance'] button[type=submit]").await;
        assert!(browser.path().await.ends_with("?done=attendance"));
        browser.fill("#summary", "A housing desk in every prison, one month before release.").await;
        browser.click("form[action$='/summary'] button[type=submit]").await;
        assert!(browser.path().await.ends_with("?done=summary"));
        assert!(browser.main_text().await.contains("A housing desk in every prison"));
        browser.assert_accessible().await;
        browser.screenshot("living-lab-after").await;
        browser.close().await;
    }

    async fn an_admin_reads_the_audit_log_and_a_family_member_is_kept_out(app: TestApp) {
        if !browser_available() {
            return;
        }
        let browser = Browser::start(&app, "en").await;
        browser.sign_in(DemoUser::Admin).await;
        browser.visit_and_check("/admin/accounts", "accounts").await;
        let coordinator = app.demo_data().await.account(DemoUser::Coordinator);
        browser.visit_and_check(&format!("/admin/accounts/{coordinator}"), "account").await;
        browser.visit_and_check("/admin/email?state=pending", "email").await;
        let fatima = app.login_as(DemoUser::FamilyMember).await;
        let member = app.visits_demo().await.a.member("Fatima Benali");
        let asked = app.post_json("/api/v1/privacy-requests", Some(&fatima), &serde_json::json!({ "member_id": member, "kind": "export" })).await;
        assert_eq!(asked.status(), 201);
        browser.visit_and_check("/admin/privacy", "data-requests").await;
        browser.visit_and_check("/admin/audit", "audit").await;
        browser.fill("#action", "login_succeeded").await;
        browser.click("form[action='/admin/audit'] button").await;
        assert!(browser.path().await.contains("action=login_succeeded"));
        let text = browser.main_text().await;
        assert!(text.contains("login_succeeded") && !text.contains("family_viewed"), "{text}");
        browser.screenshot("audit-filtered").await;

        // Signing out ends it: the log is no longer reachable.
        browser.click("form[action='/admin/sign-out'] button").await;
        assert!(browser.path().await.starts_with("/admin/sign-in"));
        browser.open("/admin/audit").await;
        assert!(browser.path().await.starts_with("/admin/sign-in?next="));

        // A family member is sent to the app; no admin page opens for them.
        browser.sign_in_with(DemoUser::FamilyMember.email(), DEMO_PASSWORD).await;
        let refused = browser.main_text().await;
        assert!(refused.contains("for staff") && refused.contains("reguide app"), "{refused}");
        browser.assert_accessible().await;
        browser.screenshot("family-member-refused").await;
        for page in ["/admin", "/admin/visits", "/admin/caseload", "/admin/audit"] {
            browser.open(page).await;
            assert!(browser.path().await.starts_with("/admin/sign-in"), "{page}");
        }

        // In Arabic, the page turns right to left.
        browser.open("/admin/language/ar?back=/admin/sign-in").await;
        let dir = browser.client.execute("return document.documentElement.dir", vec![]).await.expect("dir");
        assert_eq!(dir, "rtl");
        browser.assert_accessible().await;
        browser.screenshot("sign-in-arabic").await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        browser.close().await;
    }
}
