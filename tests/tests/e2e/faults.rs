//! Faults: a server instance in a process of its own, killed with SIGKILL (`kill -9`) at a
//! random moment while families book the last places through it, or while phones sync their
//! family documents through it, then started again. What it acknowledged stays (bookings, and
//! every change of an acknowledged sync, checked in the stored document before any phone sends
//! again), no slot is overbooked, no place is held without a confirmed visit, and
//! the other instance serves throughout. And the database going away under load (PostgreSQL
//! stopped and started again; SQLite locked by another process): the server answers 503 while
//! it is gone, never 500, and serves again by itself when it is back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use automerge::{ChangeHash, ReadDoc};
use chrono::Weekday;
use reguide_tests::device::{enrolled_family, sorted};
use reguide_tests::protocol::sync::{CONTENT_TYPE, SyncResponse};
use reguide_tests::protocol::visits::{VisitRequest, VisitType};
use reguide_tests::visits::{REQUESTS, next_weekday};
use reguide_tests::{
    Backend, DEMO_PASSWORD, DemoUser, PrivatePostgres, TestApp, both_backends, expect_json,
};
use serde_json::Value;
use uuid::Uuid;

/// A delay between 5 and 155 ms, different at every call: where in the burst the kill lands.
fn random_delay() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(5 + u64::from(nanos % 150))
}

both_backends! {
    async fn a_killed_instance_loses_no_acknowledged_booking_and_never_overbooks(app: TestApp) {
        const ROUNDS: usize = 3;
        const PER_ROUND: usize = 20;
        let demo = app.demo_data().await;
        let haren = demo.haren;
        let admin = app.login_as(DemoUser::Admin).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let t = app.table_session(&coordinator, haren, Weekday::Fri, 10).await;
        let d = next_weekday(Weekday::Fri, 3);
        let families = app.new_visiting_families(&admin, haren, "Fault family", ROUNDS * PER_ROUND, 20).await;
        let mut node = app.spawn_process_instance().await;

        let (mut acknowledged, mut cut_off) = (Vec::<Uuid>::new(), 0);
        for (round, batch) in families.chunks(PER_ROUND).enumerate() {
            let mut asks = tokio::task::JoinSet::new();
            for family in batch {
                let request = app
                    .client
                    .post(node.url(REQUESTS))
                    .bearer_auth(&admin)
                    .json(&family.table_request(t.id, d));
                asks.spawn(async move {
                    let resp = request.send().await.ok()?;
                    let status = resp.status().as_u16();
                    let body: Value = resp.json().await.ok()?;
                    Some((status, body))
                });
            }
            let delay = random_delay();
            tokio::time::sleep(delay).await;
            node.kill();
            let mut answered = 0;
            while let Some(done) = asks.join_next().await {
                match done.expect("the request task ran") {
                    Some((201, body)) => {
                        answered += 1;
                        let id = body["id"].as_str().and_then(|id| id.parse().ok());
                        acknowledged.push(id.expect("an acknowledged request has an id"));
                    }
                    Some((status, body)) => panic!("round {round}: unexpected answer {status}: {body}"),
                    None => cut_off += 1,
                }
            }
            eprintln!("{:?} round {round}: killed after {delay:?}, {answered} acknowledged", app.backend);
            // The other instance served all along; the killed one comes back on the same data.
            app.assert_healthy().await;
            node.restart().await;
            node.assert_healthy().await;
        }
        eprintln!("{:?}: {} acknowledged, {cut_off} cut off by the kills", app.backend, acknowledged.len());

        // Every acknowledged request is stored, as it was answered.
        for id in &acknowledged {
            let stored: VisitRequest = app.visit_request(&admin, *id).await;
            assert_eq!(stored.id, *id);
        }
        // No overbooking, and the slot's counter is exactly the confirmed visits in it: no
        // place held by a request cut off half-way, none given without a place.
        let slot = app.slot(&admin, haren, t.id, d, VisitType::Table).await;
        assert!(slot.booked <= slot.capacity, "{slot:?}");
        let confirmed: Vec<VisitRequest> = expect_json(
            app.get(&format!("{REQUESTS}?prison_id={haren}&status=confirmed"), Some(&coordinator)).await,
            200,
        )
        .await;
        let in_slot = confirmed
            .iter()
            .filter(|r| r.slot.as_ref().is_some_and(|s| s.template_id == t.id && s.date == d))
            .count();
        assert_eq!(in_slot, slot.booked as usize, "places held = confirmed visits");
        // Booking goes on through the restarted instance.
        let late = app.new_visiting_family(&admin, haren, "Late family").await;
        let resp = node.post_json(REQUESTS, Some(&admin), &late.table_request(t.id, d)).await;
        assert_eq!(resp.status().as_u16(), 201);
    }

    async fn a_killed_instance_loses_no_acknowledged_sync(app: TestApp) {
        const ROUNDS: usize = 4;
        const PHONES: usize = 4;
        let admin = app.login_as(DemoUser::Admin).await;
        let staff = app.demo_data().await.account(DemoUser::SocialWorker);
        let mut phones = Vec::new();
        for n in 0..PHONES {
            phones.push(enrolled_family(&app, &admin, staff, &format!("Sync fault family {n}")).await);
        }
        let mut node = app.spawn_process_instance().await;

        // Per phone, the server heads of every sync the killed instance acknowledged.
        let mut acknowledged: Vec<Vec<ChangeHash>> = vec![Vec::new(); PHONES];
        let (mut answered, mut cut_off) = (0, 0);
        for round in 0..ROUNDS {
            // Each phone changes its document and syncs through the instance, again and again,
            // until the kill cuts its sync off.
            let mut syncing = tokio::task::JoinSet::new();
            for (n, mut phone) in std::mem::take(&mut phones).into_iter().enumerate() {
                let (client, url) = (app.client.clone(), node.url(&phone.path()));
                syncing.spawn(async move {
                    let mut acks = Vec::new();
                    loop {
                        phone.small_change(false);
                        let sent = client
                            .post(&url)
                            .bearer_auth(&phone.token)
                            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                            .body(phone.request())
                            .send()
                            .await;
                        let body = match sent {
                            Ok(resp) => {
                                assert_eq!(resp.status(), 200, "a sync the instance answered");
                                resp.bytes().await.ok()
                            }
                            Err(_) => None,
                        };
                        // Cut off: the change stays on the phone, unacknowledged.
                        let Some(body) = body else { return (n, phone, acks) };
                        let response = SyncResponse::decode(&body).expect("a complete frame");
                        phone.absorb(&response);
                        acks.push(response.heads.clone());
                    }
                });
            }
            let delay = random_delay() * 3 + Duration::from_millis(150);
            tokio::time::sleep(delay).await;
            node.kill();
            let mut back = Vec::new();
            while let Some(done) = syncing.join_next().await {
                let (n, phone, acks) = done.expect("the phone's task ran");
                answered += acks.len();
                cut_off += 1;
                acknowledged[n].extend(acks.into_iter().flatten());
                back.push((n, phone));
            }
            back.sort_by_key(|(n, _)| *n);
            phones = back.into_iter().map(|(_, phone)| phone).collect();
            eprintln!("{:?} round {round}: killed after {delay:?}, {answered} syncs acknowledged so far", app.backend);

            // Every change the killed instance acknowledged is in the stored document, before
            // any phone sends anything again.
            for (n, phone) in phones.iter().enumerate() {
                let family = phone.family;
                let stored = app.with_server_db(move |conn| reguide_server::sync::store::load(conn, family));
                let stored = stored.expect("the family's document");
                let missing = acknowledged[n]
                    .iter()
                    .filter(|head| stored.get_change_by_hash(head).is_none())
                    .count();
                assert_eq!(missing, 0, "round {round}, phone {n}: acknowledged changes lost");
            }
            node.restart().await;
            node.assert_healthy().await;
        }
        eprintln!("{:?}: {answered} syncs acknowledged, {cut_off} cut off by the kills", app.backend);
        assert!(answered >= PHONES, "the phones synced before the kills");

        // The phones send what was cut off again, half through each instance: the server takes
        // changes it may already hold, and every phone ends with exactly the server's document.
        for (n, phone) in phones.iter_mut().enumerate() {
            let instance = if n % 2 == 0 { &app } else { &node };
            phone.sync(instance).await;
            assert!(phone.in_step(), "phone {n} holds the server's document");
            let family = phone.family;
            let stored = app
                .with_server_db(move |conn| reguide_server::sync::store::load(conn, family))
                .expect("the family's document");
            assert_eq!(
                sorted(phone.doc().get_heads()),
                sorted(stored.get_heads()),
                "phone {n}: every change it made is stored"
            );
        }
    }

    async fn the_server_recovers_by_itself_when_its_database_goes_away_under_load(backend: Backend) {
        // PostgreSQL: a server of the test's own, which it stops and starts.
        let private = match backend {
            Backend::Postgres => match PrivatePostgres::start() {
                Some(pg) => Some(pg),
                None if std::env::var("CI").is_ok_and(|v| v == "true") => {
                    panic!("a PostgreSQL of the test's own could not be started (CI=true)")
                }
                None => {
                    eprintln!("skipping: no PostgreSQL programs or postgres user to run one");
                    return;
                }
            },
            Backend::Sqlite => None,
        };
        let url = private.as_ref().map(PrivatePostgres::url);
        let app = TestApp::spawn_with(backend, move |config| {
            if let Some(url) = url {
                config.database_url = Some(url.into());
            }
        })
        .await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let started = std::time::Instant::now();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut load = tokio::task::JoinSet::new();
        for worker in 0..6 {
            let (client, stop, social) = (app.client.clone(), stop.clone(), social.clone());
            let (families, login) = (app.url("/api/v1/families"), app.url("/api/v1/auth/login"));
            load.spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Reads, and sign-ins, which write.
                    let request = if worker % 2 == 0 {
                        client.get(&families).bearer_auth(&social)
                    } else {
                        client.post(&login).json(&serde_json::json!({
                            "email": DemoUser::Coordinator.email(),
                            "password": DEMO_PASSWORD,
                        }))
                    };
                    let status = match request.send().await {
                        Ok(resp) => resp.status().as_u16(),
                        Err(_) => 0,
                    };
                    seen.push((started.elapsed(), status));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                seen
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The outage: two seconds without the database.
        let outage = started.elapsed();
        match &private {
            Some(pg) => {
                tokio::task::block_in_place(|| pg.stop());
                let url = pg.url();
                let refused = tokio::task::block_in_place(move || {
                    use diesel::Connection as _;
                    diesel::PgConnection::establish(&url).is_err()
                });
                assert!(refused, "PostgreSQL is down");
                tokio::time::sleep(Duration::from_secs(2)).await;
                tokio::task::block_in_place(|| pg.start_again());
            }
            None => {
                // Another process holds SQLite's write lock: writers wait (busy timeout).
                let path = app.config.data_dir.join("reguide.db");
                tokio::task::block_in_place(|| {
                    let mut lock = std::process::Command::new("python3")
                        .arg("-c")
                        .arg(format!(
                            "import sqlite3, time; c = sqlite3.connect({:?}, isolation_level=None); \
                             c.execute('BEGIN EXCLUSIVE'); time.sleep(2); c.execute('COMMIT')",
                            path.display().to_string()
                        ))
                        .spawn()
                        .expect("python3");
                    assert!(lock.wait().expect("the lock holder").success());
                });
            }
        }
        let back = started.elapsed();
        // Served again by itself: no restart of the server.
        let recovered = loop {
            let resp = app.get("/api/v1/families", Some(&social)).await;
            if resp.status() == 200 {
                break started.elapsed();
            }
            assert!(started.elapsed() < back + Duration::from_secs(20), "the server did not recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut seen = Vec::new();
        while let Some(done) = load.join_next().await {
            seen.extend(done.expect("a load task"));
        }
        let unavailable = seen.iter().filter(|(_, s)| *s == 503).count();
        eprintln!(
            "{backend:?}: {} requests; outage {outage:?}..{back:?}, served again at {recovered:?}; {unavailable} answered 503",
            seen.len()
        );
        // While it was gone: requests waited for a connection, or were told 503 (try again);
        // never a 500 or a dropped connection.
        let wrong: Vec<_> = seen.iter().filter(|(_, s)| ![200, 503].contains(s)).collect();
        assert!(wrong.is_empty(), "{wrong:?}");
        // Once back, everything is served.
        let late: Vec<_> = seen.iter().filter(|(at, s)| *at > recovered && *s != 200).collect();
        assert!(late.is_empty(), "{late:?}");
    }
}
