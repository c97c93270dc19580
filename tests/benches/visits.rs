//! Visits under load, against the real server on SQLite and PostgreSQL, in one run:
//!
//! - the open-slots endpoint (one prison, four weeks, 5,000 visits on record) against a trivial
//!   endpoint of the same server (one prison row), 64 concurrent connections: throughput, p50,
//!   p99 (targets: at least half the trivial endpoint's throughput, p99 under 5 ms on SQLite);
//! - contention: 1,000 concurrent visit requests for a slot of 10 places: exactly 10 confirmed,
//!   and decisions per second.
//!
//! Run with `cargo bench -p reguide-tests --bench visits`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, Duration as Days, Utc};
use futures_util::future::join_all;
use reguide_protocol::visits::SessionTemplate;
use reguide_tests::{Backend, DemoUser, TestApp, expect_json, require_postgres};
use serde_json::json;
use uuid::Uuid;

const CONNECTIONS: usize = 64;
const MEASURE: Duration = Duration::from_secs(5);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut backends = vec![Backend::Sqlite];
    // BENCH_BACKENDS=sqlite skips PostgreSQL.
    if std::env::var("BENCH_BACKENDS").map_or(true, |b| b.contains("postgres"))
        && require_postgres()
    {
        backends.push(Backend::Postgres);
    }
    for backend in backends {
        let app = TestApp::spawn_with(backend, |config| {
            config.log_level = "error".into();
            config.db_pool_size = 16;
        })
        .await;
        println!("== {backend:?}");
        slot_throughput(&app).await;
        contention(&app).await;
    }
}

/// Ids the bench works with, looked up through the API.
async fn prison_id(app: &TestApp, token: &str, name: &str) -> Uuid {
    let prisons: Vec<serde_json::Value> =
        expect_json(app.get("/api/v1/prisons", Some(token)).await, 200).await;
    prisons
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["id"].as_str())
        .and_then(|id| id.parse().ok())
        .expect("demo prison")
}

async fn slot_throughput(app: &TestApp) {
    let admin = app.login_as(DemoUser::Admin).await;
    let haren = prison_id(app, &admin, "Prison de Haren").await;
    let templates: Vec<SessionTemplate> = expect_json(
        app.get(
            &format!("/api/v1/prisons/{haren}/session-templates"),
            Some(&admin),
        )
        .await,
        200,
    )
    .await;

    // 5,000 visits on record: confirmed visits of the Haren sessions over the past 40 weeks and
    // the coming four, with their place counters.
    let families: Vec<serde_json::Value> =
        expect_json(app.get("/api/v1/families", Some(&admin)).await, 200).await;
    let family = families
        .iter()
        .find(|f| f["label"] == "Family of Y. Benali")
        .expect("demo family")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let detail: serde_json::Value = expect_json(
        app.get(&format!("/api/v1/families/{family}"), Some(&admin))
            .await,
        200,
    )
    .await;
    let detainee = detail["detainees"][0]["id"]
        .as_str()
        .expect("detainee")
        .to_owned();
    let today = Utc::now().date_naive();
    let mut rows = Vec::new();
    let mut counters = Vec::new();
    let mut date = today - Days::days(800);
    while rows.len() < 5_000 && date < today + Days::days(28) {
        for t in &templates {
            if u32::from(t.weekday) != date.weekday().number_from_monday() {
                continue;
            }
            for c in &t.capacities {
                let key = format!("{}:{}:{}", t.id, date, c.visit_type.as_str());
                let n = c.capacity.min(5_000 - rows.len() as i32).max(0);
                if n == 0 {
                    continue;
                }
                counters.push(format!(
                    "('{key}', '{haren}', '{}', '{date}', '{}', {}, {n})",
                    t.id,
                    c.visit_type.as_str(),
                    c.capacity
                ));
                for _ in 0..n {
                    let id = Uuid::new_v4();
                    rows.push(format!(
                        "('{id}', 'B-{}', '{family}', '{detainee}', '{haren}', '{}', 'confirmed', 'phone', '', '{key}', FALSE, '2026-01-01 10:00:00', '2026-01-01 10:00:00')",
                        &id.simple().to_string()[..10],
                        c.visit_type.as_str()
                    ));
                }
            }
        }
        date += Days::days(1);
    }
    // The demo's own visits make way for the generated ones.
    for table in [
        "visit_events",
        "visit_request_preferences",
        "visit_request_visitors",
        "visit_requests",
        "visit_slots",
    ] {
        app.execute_sql(&format!("DELETE FROM {table}"));
    }
    for chunk in counters.chunks(500) {
        app.execute_sql(&format!(
            "INSERT INTO visit_slots (id, prison_id, template_id, date, visit_type, capacity, booked) VALUES {}",
            chunk.join(",")
        ));
    }
    for chunk in rows.chunks(500) {
        app.execute_sql(&format!(
            "INSERT INTO visit_requests (id, reference, family_id, detainee_id, prison_id, visit_type, status, channel, support_needs, slot_id, flagged, created_at, updated_at) VALUES {}",
            chunk.join(",")
        ));
    }

    let token = app.login_as(DemoUser::FamilyMember).await;
    let health = measure(app, &token, "/health").await;
    let trivial = measure(app, &token, &format!("/api/v1/prisons/{haren}")).await;
    let slots = measure(app, &token, &format!("/api/v1/prisons/{haren}/slots")).await;
    println!("visits on record: {}", rows.len());
    health.print("no database (GET /health), the ceiling of server and load generator");
    trivial.print("trivial endpoint (GET /api/v1/prisons/{id})");
    slots.print("open slots, 4 weeks (GET /api/v1/prisons/{id}/slots)");
    println!(
        "slots / trivial throughput: {:.2} (target ≥ 0.5)",
        slots.per_second / trivial.per_second
    );
    // Saturated, 64 connections queue behind two cores, so latency there is queueing. Paced at
    // a steady rate well below saturation, latency is the service time a family sees at a busy
    // moment.
    for rate in [200.0, 500.0] {
        let paced =
            measure_paced(app, &token, &format!("/api/v1/prisons/{haren}/slots"), rate).await;
        paced.print(&format!("open slots paced at {rate:.0} req/s"));
    }
}

/// `CONNECTIONS` clients together send `rate` requests per second, evenly spaced.
async fn measure_paced(app: &TestApp, token: &str, path: &str, rate: f64) -> Figures {
    let url = Arc::new(app.url(path));
    let token = Arc::new(token.to_owned());
    let every = Duration::from_secs_f64(CONNECTIONS as f64 / rate);
    let started = Instant::now();
    let tasks = (0..CONNECTIONS).map(|i| {
        let (url, token) = (url.clone(), token.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            // Spread the clients over one period so requests arrive evenly.
            tokio::time::sleep(every.mul_f64(i as f64 / CONNECTIONS as f64)).await;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut latencies, mut errors) = (Vec::new(), 0);
            let end = Instant::now() + MEASURE;
            while Instant::now() < end {
                tick.tick().await;
                let sent = Instant::now();
                match client
                    .get(url.as_str())
                    .bearer_auth(token.as_str())
                    .send()
                    .await
                {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.bytes().await;
                        latencies.push(sent.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        })
    });
    let results = join_all(tasks).await;
    let elapsed = started.elapsed();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for result in results {
        let (l, e) = result.expect("load task");
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        errors,
        requests: latencies.len(),
    }
}

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
    requests: usize,
}

impl Figures {
    fn print(&self, what: &str) {
        println!(
            "{what}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} requests, {} errors ({CONNECTIONS} connections)",
            self.per_second,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.requests,
            self.errors
        );
    }
}

/// `CONNECTIONS` clients request `path` in a loop for `MEASURE` after a one-second warm-up.
async fn measure(app: &TestApp, token: &str, path: &str) -> Figures {
    let url = Arc::new(app.url(path));
    let token = Arc::new(token.to_owned());
    let run = |duration: Duration| {
        let tasks = (0..CONNECTIONS).map(|_| {
            let (url, token) = (url.clone(), token.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut latencies = Vec::new();
                let mut errors = 0;
                let end = Instant::now() + duration;
                while Instant::now() < end {
                    let started = Instant::now();
                    match client
                        .get(url.as_str())
                        .bearer_auth(token.as_str())
                        .send()
                        .await
                    {
                        Ok(resp) if resp.status().is_success() => {
                            let _ = resp.bytes().await;
                            latencies.push(started.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        });
        join_all(tasks)
    };
    run(Duration::from_secs(1)).await;
    let started = Instant::now();
    let results = run(MEASURE).await;
    let elapsed = started.elapsed();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for result in results {
        let (l, e) = result.expect("load task");
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        errors,
        requests: latencies.len(),
    }
}

/// 1,000 families ask for the same slot of 10 places at once.
async fn contention(app: &TestApp) {
    let admin = app.login_as(DemoUser::Admin).await;
    let lantin = prison_id(app, &admin, "Prison de Lantin").await;
    let date = {
        let mut d = Utc::now().date_naive() + Days::days(3);
        while d.weekday().number_from_monday() != 5 {
            d += Days::days(1);
        }
        d
    };
    let template: SessionTemplate = expect_json(
        app.post_json(
            &format!("/api/v1/prisons/{lantin}/session-templates"),
            Some(&admin),
            &json!({
                "weekday": 5, "starts_at": "14:00", "ends_at": "15:30", "valid_from": "2026-01-02",
                "room": "Contention", "capacities": [{ "visit_type": "table", "capacity": 10 }]
            }),
        )
        .await,
        201,
    )
    .await;

    // 1,000 families, each with one approved visitor and a detained relative in Lantin.
    let families: Vec<(Uuid, Uuid, Uuid)> = (0..1_000)
        .map(|_| (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()))
        .collect();
    let stamp = "'2026-01-01 10:00:00'";
    for chunk in families.chunks(250) {
        let values = |f: &dyn Fn(&(Uuid, Uuid, Uuid)) -> String| {
            chunk.iter().map(f).collect::<Vec<_>>().join(",")
        };
        app.execute_sql(&format!(
            "INSERT INTO families (id, label, created_at) VALUES {}",
            values(&|(f, _, _)| format!("('{f}', 'Bench {f}', {stamp})"))
        ));
        app.execute_sql(&format!(
            "INSERT INTO family_members (id, family_id, display_name, relation, preferred_language, created_at) VALUES {}",
            values(&|(f, m, _)| format!("('{m}', '{f}', 'Visitor', 'parent', 'fr', {stamp})"))
        ));
        app.execute_sql(&format!(
            "INSERT INTO detainees (id, full_name, prison_id, internal_number, created_at) VALUES {}",
            values(&|(_, _, d)| format!("('{d}', 'Detained', '{lantin}', 'N-{d}', {stamp})"))
        ));
        app.execute_sql(&format!(
            "INSERT INTO family_detainees (family_id, detainee_id) VALUES {}",
            values(&|(f, _, d)| format!("('{f}', '{d}')"))
        ));
        app.execute_sql(&format!(
            "INSERT INTO visitor_approvals (detainee_id, member_id, status, basis) VALUES {}",
            values(&|(_, m, d)| format!("('{d}', '{m}', 'approved', 'kinship_proof')"))
        ));
    }

    let client = reqwest::Client::new();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS));
    let started = Instant::now();
    let tasks = families.iter().map(|(family, member, detainee)| {
        let body = json!({
            "family_id": family, "detainee_id": detainee, "visit_type": "table",
            "preferences": [{ "template_id": template.id, "date": date }],
            "visitors": [member], "channel": "phone"
        });
        let (client, url, admin, semaphore) = (
            client.clone(),
            app.url("/api/v1/visit-requests"),
            admin.clone(),
            semaphore.clone(),
        );
        tokio::spawn(async move {
            let _permit = semaphore.acquire().await.expect("semaphore");
            let resp = client
                .post(url)
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            (status, body["status"].as_str().unwrap_or("").to_owned())
        })
    });
    let results: Vec<(u16, String)> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let elapsed = started.elapsed();
    let confirmed = results.iter().filter(|(_, s)| s == "confirmed").count();
    let pending = results.iter().filter(|(_, s)| s == "pending").count();
    let failed = results.iter().filter(|(code, _)| *code != 201).count();
    println!(
        "contention: 1000 requests for 10 places: {confirmed} confirmed, {pending} pending, {failed} failed; {:.0} decisions/s ({:.2} s)",
        results.len() as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    assert_eq!(confirmed, 10, "exactly the capacity must be confirmed");
}
