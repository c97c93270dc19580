//! The family client core (`reguide-client-core`) against the real server: two members' phones
//! editing offline and converging, the server's decisions reaching both, and a network that
//! fails in every way a phone meets (no server, a captive portal, errors, garbage, silence)
//! without losing a change.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Weekday;
use reguide_client_core::{Client, ClientError};
use reguide_tests::phones::{blocking, fatimas_phone};
use reguide_tests::protocol::api::EnrolmentCode;
use reguide_tests::protocol::doc::status::RegistrationState;
use reguide_tests::protocol::doc::write::{NewDocRegistration, NewDocVisitRequest};
use reguide_tests::protocol::visits::{SlotChoice, VisitStatus, VisitType};
use reguide_tests::protocol::{FamilyId, MemberId};
use reguide_tests::visits::next_weekday;
use reguide_tests::{Backend, DEMO_PASSWORD, DemoUser, TestApp, both_backends, expect_json};
use serde_json::json;

/// A phone of another member, enrolled with a code from the social worker, synced once.
async fn enrolled(app: &TestApp, dir: PathBuf, family: FamilyId, member: MemberId) -> Client {
    let social = app.login_as(DemoUser::SocialWorker).await;
    let path = format!("/api/v1/families/{family}/members/{member}/enrolment-codes");
    let code: EnrolmentCode = expect_json(app.post_empty(&path, Some(&social)).await, 201).await;
    let url = app.address.clone();
    blocking(move || {
        let mut client = Client::open(&dir, None, &url).expect("open");
        client
            .enrol(&code.code, "a long enough secret", "Karim's phone", None)
            .expect("enrol");
        client.sync_now().expect("first sync");
        client
    })
    .await
}

async fn sync(client: Client) -> Client {
    blocking(move || {
        let mut client = client;
        client.sync_now().expect("sync");
        client
    })
    .await
}

async fn table_slot(
    app: &TestApp,
    token: &str,
    prison: reguide_tests::protocol::PrisonId,
) -> SlotChoice {
    let coordinator = app.login_as(DemoUser::Coordinator).await;
    let t = app
        .table_session(&coordinator, prison, Weekday::Fri, 2)
        .await;
    let date = next_weekday(Weekday::Fri, 3);
    let slot = app.slot(token, prison, t.id, date, VisitType::Table).await;
    assert!(slot.bookable && slot.open > 0, "{slot:?}");
    SlotChoice {
        template_id: t.id,
        date,
    }
}

/// Fatima's request for a table visit to her relative on one slot, coming alone.
fn fatimas_visit(
    detainee: reguide_tests::protocol::DetaineeId,
    prison: reguide_tests::protocol::PrisonId,
    fatima: MemberId,
    choice: SlotChoice,
) -> NewDocVisitRequest {
    NewDocVisitRequest {
        detainee_id: detainee,
        prison_id: prison,
        visit_type: VisitType::Table,
        preferences: vec![choice],
        visitors: vec![fatima],
        support_needs: vec![],
        support_note: None,
    }
}

async fn family_day(app: &TestApp, prison: reguide_tests::protocol::PrisonId) -> uuid::Uuid {
    let coordinator = app.login_as(DemoUser::Coordinator).await;
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    let deadline = (date - chrono::Duration::days(2))
        .and_hms_opt(12, 0, 0)
        .expect("time")
        .and_utc();
    let body = json!({
        "title": "Family day", "date": date, "starts_at": "10:00", "ends_at": "16:00",
        "programme": "Games", "capacity_families": 5, "capacity_people": 30,
        "registration_deadline": deadline,
    });
    let day: serde_json::Value = expect_json(
        app.post_json(
            &format!("/api/v1/prisons/{prison}/family-days"),
            Some(&coordinator),
            &body,
        )
        .await,
        201,
    )
    .await;
    day["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("day id")
}

both_backends! {
    async fn two_members_edit_offline_and_end_identical(app: TestApp) {
        let v = app.visits_demo().await;
        let folders = tempfile::tempdir().expect("dir");
        for karim_first in [true, false] {
            let round = if karim_first { "a" } else { "b" };
            let mut fatima = fatimas_phone(&app, folders.path().join(format!("fatima-{round}"))).await;
            let karim_id = v.a.member("Karim Benali");
            let mut karim = enrolled(&app, folders.path().join(format!("karim-{round}")), v.a.id, karim_id).await;
            let token = fatima.session().expect("signed in").token.clone();
            let choice = table_slot(&app, &token, v.demo.haren).await;
            let day = family_day(&app, v.demo.haren).await;

            // Offline, both act.
            let request = fatima
                .request_visit(fatimas_visit(v.a.detainee, v.demo.haren, v.a.member("Fatima Benali"), choice))
                .expect("request");
            let registration = karim
                .register_for_family_day(NewDocRegistration { family_day_id: day, adults: 2, children: 1 })
                .expect("register");
            assert!(fatima.sync_status().pending_changes && karim.sync_status().pending_changes);
            assert_eq!(fatima.visit_request(&request).expect("view").status, VisitStatus::Pending);

            // Sync in either order, then once more each.
            if karim_first {
                karim = sync(karim).await;
                fatima = sync(fatima).await;
            } else {
                fatima = sync(fatima).await;
                karim = sync(karim).await;
            }
            fatima = sync(fatima).await;
            karim = sync(karim).await;

            assert_eq!(fatima.family().expect("doc"), karim.family().expect("doc"));
            for phone in [&fatima, &karim] {
                let visit = phone.visit_request(&request).expect("the request");
                assert_eq!(visit.status, VisitStatus::Confirmed, "Haren confirms automatically");
                assert_eq!(visit.slot, Some(choice));
                let registered = phone.registrations().expect("registrations");
                let mine = registered.iter().find(|r| r.registration.id == registration).expect("there");
                assert_eq!(mine.state, RegistrationState::Registered);
                assert!(!phone.sync_status().pending_changes);
                assert_eq!(phone.sync_status().last_error, None);
            }
            let visit = app.visit_request(&token, request.parse().expect("uuid")).await;
            assert_eq!(visit.status, VisitStatus::Confirmed);
        }
    }

    async fn a_failing_network_never_loses_a_change(app: TestApp) {
        let v = app.visits_demo().await;
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");
        let phone = fatimas_phone(&app, dir.clone()).await;
        let token = phone.session().expect("signed in").token.clone();
        drop(phone);
        let choice = table_slot(&app, &token, v.demo.haren).await;

        // A request made offline.
        let request = {
            let dir = dir.clone();
            let (detainee, haren, fatima_id) = (v.a.detainee, v.demo.haren, v.a.member("Fatima Benali"));
            blocking(move || {
                let mut phone = Client::open(&dir, None, "http://127.0.0.1:9").expect("open");
                phone
                    .request_visit(fatimas_visit(detainee, haren, fatima_id, choice))
                    .expect("works offline")
            })
            .await
        };

        // Every way the network fails: the change stays, and the failure is recorded.
        let faults: Vec<(String, &str)> = vec![
            ("http://127.0.0.1:9".into(), "network_unavailable"),
            (fake_server(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 29\r\nConnection: close\r\n\r\n<html>Sign in to Wi-Fi</html>"), "unexpected_response"),
            (fake_server(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 58\r\nConnection: close\r\n\r\n{\"error\":\"internal_error\",\"message\":\"something broke\"}    "), "internal_error"),
            (fake_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\nConnection: close\r\n\r\n\x07\x00\x01\x02\x03"), "unexpected_response"),
            (fake_server(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad"), "unexpected_response"),
            (silent_server(), "network_unavailable"),
        ];
        for (n, (url, code)) in faults.into_iter().enumerate() {
            let dir = dir.clone();
            let request = request.clone();
            blocking(move || {
                let mut phone = Client::open(&dir, None, &url).expect("open");
                phone.set_timeout(Duration::from_millis(800)).expect("timeout");
                let err = phone.sync_now().expect_err("the sync fails");
                assert_eq!(err.code(), code, "fault {n}: {err}");
                if code != "internal_error" {
                    assert!(err.is_transient() || matches!(err, ClientError::UnexpectedResponse), "{err}");
                }
                let status = phone.sync_status();
                assert!(status.pending_changes, "fault {n}");
                assert_eq!(status.last_error.as_deref(), Some(code));
                assert!(status.next_attempt > chrono::Utc::now(), "backoff");
                assert_eq!(phone.visit_request(&request).expect("kept").status, VisitStatus::Pending);
            })
            .await;
        }

        // The network comes back.
        let url = app.address.clone();
        let (phone, outcome) = blocking(move || {
            let mut phone = Client::open(&dir, None, &url).expect("open");
            let outcome = phone.sync_now().expect("sync");
            (phone, outcome)
        })
        .await;
        assert!(!outcome.full_document);
        assert_eq!(phone.visit_request(&request).expect("view").status, VisitStatus::Confirmed);
        let status = phone.sync_status();
        assert!(!status.pending_changes);
        assert_eq!(status.last_error, None);
        assert_eq!(app.visit_request(&token, request.parse().expect("uuid")).await.status, VisitStatus::Confirmed);
    }

    async fn a_revoked_device_is_told_to_sign_in_again_and_logout_wipes_its_data(app: TestApp) {
        let _ = app.visits_demo().await;
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");
        let phone = fatimas_phone(&app, dir.clone()).await;
        let session = phone.session().expect("signed in").clone();
        // The family revokes the device from another session.
        let other = app.login_as(DemoUser::FamilyMember).await;
        let resp = app.delete(&format!("/api/v1/me/devices/{}", session.device_id), Some(&other)).await;
        assert!(resp.status().is_success(), "{}", resp.status());
        let phone = blocking(move || {
            let mut phone = phone;
            let err = phone.sync_now().expect_err("revoked");
            assert_eq!(err.code(), "session_expired");
            assert!(phone.family().is_ok(), "the data stays until the user signs out");
            phone
        })
        .await;
        blocking(move || phone.logout().expect("logout")).await;
        assert!(!dir.exists(), "logout wipes the data folder");
    }
}

both_backends! {
    async fn a_session_is_renewed_before_it_ends_and_signing_in_again_keeps_the_device(backend: Backend) {
        // Device tokens that live 10 days: less than the 30 days before which the phone renews.
        let app = TestApp::spawn_with(backend, |config| config.auth.device_token_ttl_days = 10).await;
        let v = app.visits_demo().await;
        let folders = tempfile::tempdir().expect("dir");
        let url = app.address.clone();
        let dir = folders.path().join("fatima");
        let (phone, first) = blocking(move || {
            let mut phone = Client::open(&dir, None, &url).expect("open");
            phone
                .login(DemoUser::FamilyMember.email(), DEMO_PASSWORD, "Fatima's phone")
                .expect("login");
            let first = phone.session().expect("signed in").clone();
            phone.sync_now().expect("sync");
            (phone, first)
        })
        .await;
        let renewed = phone.session().expect("signed in").clone();
        assert_ne!(renewed.token, first.token, "renewed on the way");
        assert!(renewed.expires_at >= first.expires_at);
        assert_eq!((renewed.device_id, &renewed.actor_id), (first.device_id, &first.actor_id));
        // The old token keeps working a while (the renewal's answer could have been lost)...
        let me = app.get("/api/v1/me", Some(&first.token)).await;
        assert_eq!(me.status(), 200);
        // ...and a browser's session is not a device's: it signs in again instead.
        let browser = app.login_as(DemoUser::FamilyMember).await;
        let resp = app.post_empty("/api/v1/auth/refresh", Some(&browser)).await;
        assert_eq!(resp.status(), 403);
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["error"], "not_a_device");

        // Every token ends (the phone was away for months); a change is made offline meanwhile.
        let token = renewed.token.clone();
        let choice = table_slot(&app, &token, v.demo.haren).await;
        app.execute_sql("UPDATE api_tokens SET expires_at = '2000-01-01 00:00:00'");
        let (detainee, haren, fatima_id) = (v.a.detainee, v.demo.haren, v.a.member("Fatima Benali"));
        let (phone, request) = blocking(move || {
            let mut phone = phone;
            let request = phone
                .request_visit(fatimas_visit(detainee, haren, fatima_id, choice))
                .expect("offline");
            let err = phone.sync_now().expect_err("the session ended");
            assert_eq!(err.code(), "session_expired");
            assert!(phone.sync_status().pending_changes, "the change waits");
            // Signing in again on this phone: the same device and actor, so the change syncs.
            phone
                .login(DemoUser::FamilyMember.email(), DEMO_PASSWORD, "Fatima's phone")
                .expect("login again");
            phone.sync_now().expect("sync");
            (phone, request)
        })
        .await;
        let again = phone.session().expect("signed in");
        assert_eq!((again.device_id, &again.actor_id), (first.device_id, &first.actor_id));
        assert!(!phone.sync_status().pending_changes);
        let browser = app.login_as(DemoUser::FamilyMember).await;
        let visit = app.visit_request(&browser, request.parse().expect("uuid")).await;
        assert_eq!(visit.status, VisitStatus::Confirmed);
        let devices: Vec<serde_json::Value> =
            expect_json(app.get("/api/v1/me/devices", Some(&browser)).await, 200).await;
        assert_eq!(devices.len(), 1, "no second device enrolled: {devices:?}");
    }
}

/// A one-connection-at-a-time server answering every request with `response`.
fn fake_server(response: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
            let mut buf = [0_u8; 64 * 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(response);
        }
    });
    address
}

/// A server that accepts connections and never answers.
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    address
}

// ---- Crashes: a phone killed at any moment keeps every change it acknowledged ----------------

const KILL_CHILD_ENV: &str = "REGUIDE_KILL_CHILD_DIR";
const ACK: &str = "acked ";

/// The child process of `killed_phones_keep_every_acknowledged_change`: writes until killed,
/// printing the id of each registration once its write returned (so, once it is durable).
#[test]
#[ignore = "the child process of killed_phones_keep_every_acknowledged_change"]
fn kill_child() {
    let Ok(dir) = std::env::var(KILL_CHILD_ENV) else {
        return;
    };
    let mut phone = Client::open(&dir, None, "http://127.0.0.1:9").expect("the store opens");
    let mut out = std::io::stdout().lock();
    loop {
        let id = phone
            .register_for_family_day(NewDocRegistration {
                family_day_id: uuid::Uuid::new_v4(),
                adults: 1,
                children: 0,
            })
            .expect("a write");
        writeln!(out, "{ACK}{id}").expect("stdout");
        out.flush().expect("stdout");
    }
}

both_backends! {
    async fn killed_phones_keep_every_acknowledged_change(app: TestApp) {
        let _ = app.visits_demo().await;
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");
        drop(fatimas_phone(&app, dir.clone()).await);
        let report = blocking(move || {
            let exe = std::env::current_exe().expect("the test binary");
            let mut seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("time")
                .subsec_nanos() as u64;
            let mut acked: Vec<String> = Vec::new();
            let rounds = 100;
            for _ in 0..rounds {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let wait = Duration::from_millis((seed >> 33) % 40);
                let mut child = std::process::Command::new(&exe)
                    .args(["client::kill_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
                    .env(KILL_CHILD_ENV, &dir)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("spawn");
                // Read its acknowledgements as they come; kill it a random moment after the
                // first, in the middle of its writes.
                let stdout = child.stdout.take().expect("stdout");
                let (tx, rx) = std::sync::mpsc::channel::<String>();
                let reader = std::thread::spawn(move || {
                    let mut lines = std::io::BufReader::new(stdout);
                    let mut line = String::new();
                    // Only whole lines: a line cut by the kill was not acknowledged.
                    while std::io::BufRead::read_line(&mut lines, &mut line).unwrap_or(0) > 0 {
                        if let Some(id) = line.strip_suffix('\n').and_then(|l| l.strip_prefix(ACK)) {
                            let _ = tx.send(id.to_owned());
                        }
                        line.clear();
                    }
                });
                let first = rx.recv_timeout(Duration::from_secs(30)).expect("the child writes");
                acked.push(first);
                std::thread::sleep(wait);
                child.kill().expect("SIGKILL");
                child.wait().expect("reaped");
                reader.join().expect("reader");
                acked.extend(rx.try_iter());

                let phone = Client::open(&dir, None, "http://127.0.0.1:9").expect("the store always opens");
                let kept: std::collections::HashSet<String> = phone
                    .registrations()
                    .expect("readable")
                    .into_iter()
                    .map(|r| r.registration.id)
                    .collect();
                let lost: Vec<&String> = acked.iter().filter(|id| !kept.contains(*id)).collect();
                assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
            }
            (rounds, acked.len(), dir)
        })
        .await;
        let (rounds, acked, dir) = report;
        assert!(acked >= rounds, "the children wrote ({acked} writes in {rounds} rounds)");
        // And the phone still syncs everything.
        let url = app.address.clone();
        blocking(move || {
            let mut phone = Client::open(&dir, None, &url).expect("open");
            phone.sync_now().expect("sync");
            assert!(!phone.sync_status().pending_changes);
        })
        .await;
    }
}

both_backends! {
    async fn the_reference_cache_is_there_offline_with_its_age(app: TestApp) {
        let v = app.visits_demo().await;
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");
        let phone = fatimas_phone(&app, dir.clone()).await;
        let token = phone.session().expect("signed in").token.clone();
        let choice = table_slot(&app, &token, v.demo.haren).await;
        let day = family_day(&app, v.demo.haren).await;

        let phone = blocking(move || {
            let mut phone = phone;
            assert!(phone.reference().expect("read").is_none(), "nothing cached yet");
            phone.refresh_reference().expect("refresh");
            phone
        })
        .await;
        drop(phone);

        // Offline: the cache is there, with its age; a refresh fails and keeps it.
        let (haren, detainee) = (v.demo.haren, v.a.detainee);
        blocking(move || {
            let mut phone = Client::open(&dir, None, "http://127.0.0.1:9").expect("open");
            let cache = phone.reference().expect("read").expect("cached");
            assert!(cache.age(chrono::Utc::now()) < chrono::Duration::minutes(5));
            assert!(cache.family.detainees.iter().any(|d| d.id == detainee));
            assert_eq!(cache.prisons.len(), 1, "only the prison where the family's relative is");
            let prison = cache.prison(haren).expect("Haren");
            assert!(prison.slots.iter().any(|s| s.template_id == choice.template_id && s.date == choice.date));
            assert!(prison.family_days.iter().any(|d| d.id == day));
            let err = phone.refresh_reference().expect_err("offline");
            assert_eq!(err.code(), "network_unavailable");
            let again = phone.reference().expect("read").expect("still cached");
            assert_eq!(again.fetched_at, cache.fetched_at);
        })
        .await;
    }

    async fn a_confirmed_visit_shows_the_prisons_advice_and_is_recalled_the_evening_before(app: TestApp) {
        let v = app.visits_demo().await;
        let folders = tempfile::tempdir().expect("dir");
        let phone = fatimas_phone(&app, folders.path().join("fatima")).await;
        let token = phone.session().expect("signed in").token.clone();
        let choice = table_slot(&app, &token, v.demo.haren).await;
        let (detainee, haren, fatima_id) = (v.a.detainee, v.demo.haren, v.a.member("Fatima Benali"));
        blocking(move || {
            let mut phone = phone;
            let request = phone
                .request_visit(fatimas_visit(detainee, haren, fatima_id, choice))
                .expect("request");
            // Offline and without the reference cache: listed, without the prison's advice.
            let ahead = phone.upcoming_visits().expect("visits");
            let mine = ahead.iter().find(|u| u.request_id == request).expect("listed");
            assert_eq!((mine.status, mine.slot), (VisitStatus::Pending, choice));
            assert_eq!(mine.what_to_bring, None);
            let key = format!("visit:{request}");
            let early = phone.reminders(31).expect("reminders");
            assert!(early.iter().all(|r| r.key != key), "not confirmed yet");

            phone.sync_now().expect("sync");
            phone.refresh_reference().expect("refresh");
            let cache = phone.reference().expect("read").expect("cached");
            let prison = &cache.prison(haren).expect("Haren").prison;
            let language = phone.family().expect("doc").members[&fatima_id.to_string()].language;
            let ahead = phone.upcoming_visits().expect("visits");
            let mine = ahead.iter().find(|u| u.request_id == request).expect("listed");
            assert_eq!(mine.status, VisitStatus::Confirmed);
            assert_eq!(mine.prison_name.as_deref(), Some(prison.name.as_str()));
            let bring = reguide_tests::protocol::visits::pick(&prison.what_to_bring, language);
            assert!(bring.is_some(), "the demo prison says what to bring");
            assert_eq!(mine.what_to_bring.as_deref(), bring);
            assert_eq!(
                mine.arrival_advice.as_deref(),
                reguide_tests::protocol::visits::pick(&prison.arrival_advice, language)
            );
            let starts = mine.starts_at.expect("the slot's hours are cached");

            // The evening before, 18:00 in Brussels, with what to bring.
            let reminders = phone.reminders(31).expect("reminders");
            let visit = reminders
                .iter()
                .find(|r| r.key == key)
                .expect("a reminder for the visit");
            let evening = reguide_tests::protocol::time::local_instant(
                reguide_tests::protocol::time::DEFAULT_TIME_ZONE,
                choice.date - chrono::Duration::days(1),
                chrono::NaiveTime::from_hms_opt(18, 0, 0).expect("time"),
            );
            assert_eq!(visit.notify_at, evening);
            assert_eq!(visit.starts_at, Some(starts.with_timezone(&chrono::Utc)));
            assert_eq!(visit.what_to_bring.as_deref(), bring);
            let err = phone.set_time_zone("Nowhere/Special").expect_err("refused");
            assert_eq!(err.code(), "invalid_time_zone");
        })
        .await;
    }

    async fn a_phone_waits_for_a_full_slot_and_takes_the_place_it_is_offered(app: TestApp) {
        let v = app.visits_demo().await;
        let haren = v.demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 2).await;
        let (d1, d2) = (next_weekday(Weekday::Fri, 3), next_weekday(Weekday::Fri, 10));
        let families = app.new_visiting_families(&admin, haren, "Booked family", 2, 2).await;
        let mut booked = Vec::new();
        for family in &families {
            for d in [d1, d2] {
                booked.push(app.request_visit(&admin, &family.table_request(t.id, d)).await.id);
            }
        }
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");
        let phone = fatimas_phone(&app, dir.clone()).await;
        let (detainee, fatima_id) = (v.a.detainee, v.a.member("Fatima Benali"));
        let wait_for = move |date| reguide_client_core::NewWaitlistRequest {
            detainee_id: detainee,
            visit_type: VisitType::Table,
            slot: SlotChoice { template_id: t.id, date },
            visitors: vec![fatima_id],
        };

        // Offline, nothing happens and nothing is kept.
        blocking(move || {
            let mut offline = Client::open(&dir, None, "http://127.0.0.1:9").expect("open");
            let err = offline.join_visit_waitlist(wait_for(d1)).expect_err("offline");
            assert_eq!(err.code(), "network_unavailable");
            assert!(offline.visit_waitlist().expect("read").is_none());
            let err = offline
                .join_visit_waitlist(reguide_client_core::NewWaitlistRequest { visitors: vec![], ..wait_for(d1) })
                .expect_err("nobody visits");
            assert_eq!((err.code(), err.to_string().as_str()), ("invalid_value", "name who will visit"));
        })
        .await;

        // Online: the phone waits for both Fridays, first in line.
        let (phone, first, second) = blocking(move || {
            let mut phone = phone;
            let first = phone.join_visit_waitlist(wait_for(d1)).expect("join");
            let second = phone.join_visit_waitlist(wait_for(d2)).expect("join");
            assert_eq!((first.position, second.position), (Some(1), Some(1)));
            let err = phone.join_visit_waitlist(wait_for(d1)).expect_err("twice");
            assert_eq!(err.code(), "already_waiting");
            (phone, first, second)
        })
        .await;

        // A booked family cancels the first Friday: the place is offered to Fatima's family.
        app.visit_action(&admin, booked[0], "cancel", &json!({ "reason": "Family cannot come" })).await;
        let phone = blocking(move || {
            let mut phone = phone;
            phone.refresh_reference().expect("refresh");
            let kept = phone.visit_waitlist().expect("read").expect("kept");
            let offered = kept.entries.iter().find(|e| e.id == first.id).expect("listed");
            assert_eq!(offered.status, reguide_tests::protocol::visits::WaitlistStatus::Offered);
            let request = phone.accept_waitlist_offer(first.id).expect("accept");
            // Synced on the way: the confirmed visit is in the family document.
            let visit = phone.visit_request(&request).expect("in the document");
            assert_eq!(visit.status, VisitStatus::Confirmed);
            assert_eq!(visit.slot, Some(SlotChoice { template_id: t.id, date: d1 }));
            assert!(phone.upcoming_visits().expect("ahead").iter().any(|u| u.request_id == request));
            // And it leaves the second list.
            phone.leave_visit_waitlist(second.id).expect("leave");
            let kept = phone.visit_waitlist().expect("read").expect("kept");
            let status = |id| kept.entries.iter().find(|e| e.id == id).map(|e| e.status);
            use reguide_tests::protocol::visits::WaitlistStatus as W;
            assert_eq!((status(first.id), status(second.id)), (Some(W::Accepted), Some(W::Cancelled)));
            let err = phone.leave_visit_waitlist(second.id).expect_err("left already");
            assert_eq!(err.code(), "invalid_status");
            phone
        })
        .await;
        drop(phone);
    }

    async fn an_encrypted_phone_keeps_no_name_in_the_clear_and_refuses_a_wrong_key(app: TestApp) {
        let v = app.visits_demo().await;
        let folders = tempfile::tempdir().expect("dir");
        let dir = folders.path().join("fatima");
        let key = [42_u8; 32];
        let url = app.address.clone();
        let fatima_id = v.a.member("Fatima Benali");
        let names = blocking({
            let dir = dir.clone();
            move || {
                let mut phone = Client::open(&dir, Some(&key), &url).expect("open");
                phone
                    .login(DemoUser::FamilyMember.email(), DEMO_PASSWORD, "Fatima's phone")
                    .expect("login");
                phone.sync_now().expect("sync");
                phone.refresh_reference().expect("refresh");
                let reference = phone.reference().expect("read").expect("cached");
                let mut names: Vec<String> = reference
                    .family
                    .members
                    .iter()
                    .map(|m| m.display_name.clone())
                    .chain(reference.family.detainees.iter().map(|d| d.full_name.clone()))
                    .chain(reference.prisons.iter().map(|p| p.prison.address.clone()))
                    .collect();
                names.push(phone.session().expect("signed in").token.clone());
                assert!(phone.family().expect("doc").members.contains_key(&fatima_id.to_string()));
                names
            }
        })
        .await;
        assert!(names.iter().any(|n| n.contains("Benali")), "{names:?}");

        let mut files = Vec::new();
        let mut folders_left = vec![dir.clone()];
        while let Some(folder) = folders_left.pop() {
            for entry in std::fs::read_dir(&folder).expect("read dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    folders_left.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 4, "document, log, session and caches: {files:?}");
        for file in &files {
            let bytes = std::fs::read(file).expect("file");
            for name in &names {
                let clear = bytes.windows(name.len()).any(|w| w == name.as_bytes());
                assert!(!clear, "{} holds {name:?} in the clear", file.display());
            }
        }

        let url = app.address.clone();
        blocking(move || {
            let err = Client::open(&dir, Some(&[43_u8; 32]), &url).expect_err("wrong key");
            assert_eq!(err.code(), "wrong_key");
            let err = Client::open(&dir, None, &url).expect_err("no key");
            assert_eq!(err.code(), "key_required");
            let phone = Client::open(&dir, Some(&key), &url).expect("the right key");
            assert!(phone.family().expect("doc").members.contains_key(&fatima_id.to_string()));
        })
        .await;
    }
}
