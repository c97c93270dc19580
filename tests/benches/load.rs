//! The whole server under load, on PostgreSQL: 10,000 families and 100,000 visits on record, two
//! server instances in processes of their own sharing nothing but the database (what a
//! deployment runs behind a load balancer), and 200 simulated phones at once, each making a small
//! change to its family document and syncing it, then reading its prison's open slots, over and
//! over, its syncs and its slot reads each going to the two instances in turn.
//!
//! Prints, for a closed loop (each phone sends again as soon as answered) and for a paced run at
//! half that rate: requests per second, p50 and p99 of syncs and of slot reads, errors (any
//! transport error, non-2xx answer or undecodable frame), where the CPU went (the two instances,
//! PostgreSQL, the load generator), and the memory of each instance (peak and resident) and of
//! PostgreSQL (proportional set size, shared buffers counted once). After the runs every phone
//! syncs once more and must hold exactly the server's document.
//!
//! Run with `cargo bench -p reguide-tests --bench load` (needs PostgreSQL at `TEST_DATABASE_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use futures_util::future::join_all;
use reguide_protocol::sync::{CONTENT_TYPE, SyncResponse};
use reguide_protocol::visits::{NewSessionTemplate, SessionCapacity, VisitRules, VisitType};
use reguide_protocol::{FamilyId, MemberId, PrisonId};
use reguide_server::visits::{rules, slots};
use reguide_tests::device::{Device, enrolled_device};
use reguide_tests::machine::{
    CpuSample, CpuUse, cpu_sample, mib, ms, proc_status, quantile, reset_peak,
};
use reguide_tests::{Backend, DemoUser, TestApp, require_postgres};
use uuid::Uuid;

const FAMILIES: usize = 10_000;
const VISITS_PER_FAMILY: usize = 10;
/// Belgium has about 35 prisons.
const PRISONS: usize = 30;
/// Weekly sessions of each prison (two a day, Monday to Saturday), 20 table places each.
const SESSIONS: usize = 12;
const PLACES: i32 = 20;
const DEVICES: usize = 200;
const WARM_UP: Duration = Duration::from_secs(2);
const MEASURE: Duration = Duration::from_secs(20);
/// Rows per INSERT statement while seeding.
const CHUNK: usize = 1_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    assert!(
        require_postgres(),
        "the load benchmark runs on PostgreSQL: set TEST_DATABASE_URL"
    );
    // The first instance, in this process, makes the database (migrations, demo data) and the
    // setup's API calls; the measured load goes to two process instances.
    let mut app = TestApp::spawn_with(Backend::Postgres, |config| {
        config.log_level = "error".into();
        config.db_pool_size = 16;
        config.workers = Some(2);
    })
    .await;

    let started = Instant::now();
    let world = seed(&app);
    println!(
        "seeded {} families ({} members), {} visits ({} of them still to come) in {} slots of \
         {PRISONS} prisons in {:.1} s; database size {}",
        world.families.len(),
        world.members,
        world.visits,
        world.upcoming,
        world.slots,
        started.elapsed().as_secs_f64(),
        database_size(app.database_url()),
    );

    let started = Instant::now();
    let devices = enrol(&app, &world).await;
    println!(
        "{DEVICES} phones enrolled (an enrolment code each), first sync (the family's {} visits \
         written into its document) and one change synced, in {:.1} s",
        VISITS_PER_FAMILY,
        started.elapsed().as_secs_f64()
    );

    // The setup ran without request limits (one administrator makes 200 enrolment codes at
    // once). The measured instances limit each phone as deployed; the per-address limit stays
    // off, as every simulated phone comes from 127.0.0.1 and it would count 200 phones as one.
    let deployed = reguide_server::config::Config::default().limits;
    app.config.limits.device_per_minute = deployed.device_per_minute;
    app.config.limits.device_burst = deployed.device_burst;
    let instances = [
        app.spawn_process_instance().await,
        app.spawn_process_instance().await,
    ];
    app.stop().await;
    let pids: Vec<u32> = instances.iter().filter_map(TestApp::pid).collect();
    let urls: Arc<Vec<String>> = Arc::new(instances.iter().map(|i| i.address.clone()).collect());
    for (n, pid) in pids.iter().enumerate() {
        println!(
            "instance {}: pid {pid}, resident after start {}",
            n + 1,
            mib(proc_status(Some(*pid), "VmRSS:"))
        );
    }

    let (devices, closed) = load(&urls, &pids, devices, None).await;
    closed.print(&format!(
        "{DEVICES} phones at once, each syncing and reading slots again as soon as answered"
    ));
    let rate = (closed.cycles_per_second() / 2.0).max(1.0);
    let every = Duration::from_secs_f64(DEVICES as f64 / rate);
    let (mut devices, paced) = load(&urls, &pids, devices, Some(every)).await;
    paced.print(&format!(
        "{DEVICES} phones, each syncing and reading slots every {:.2} s ({rate:.0} of each per \
         second offered)",
        every.as_secs_f64()
    ));

    // Every phone ends in step with the server: nothing it was told was stored is missing.
    let mut out_of_step = 0;
    for (n, (device, _)) in devices.iter_mut().enumerate() {
        device.sync(&instances[n % 2]).await;
        if !device.in_step() {
            out_of_step += 1;
        }
    }
    let changes: usize = devices.iter().map(|(d, _)| d.changes_made).sum();
    println!(
        "after the runs: {changes} changes made by the {DEVICES} phones, {out_of_step} phones out \
         of step with the server after a last sync"
    );
    assert_eq!(out_of_step, 0, "every phone holds the server's document");
    assert_eq!(closed.errors + paced.errors, 0, "no request failed");
}

// ---- The database --------------------------------------------------------------------------

/// What the seeding made.
struct World {
    /// Each family with its first member (the one who enrols a phone) and its prison.
    families: Vec<(FamilyId, MemberId, PrisonId)>,
    members: usize,
    visits: usize,
    upcoming: usize,
    slots: usize,
}

/// 30 prisons with their weekly sessions through the server's library, then 10,000 families
/// (three members each, a detainee in one of the prisons, the adults approved as visitors) and
/// ten confirmed visits per family over the past two years and the coming four weeks, each with
/// its place taken, its visitor, its preference and its history (`requested`, `confirmed`), in
/// plain SQL.
fn seed(app: &TestApp) -> World {
    let prisons: Vec<(PrisonId, Vec<(Uuid, u32)>)> = app.with_server_db(|conn| {
        let mut prisons = Vec::with_capacity(PRISONS);
        for p in 0..PRISONS {
            let prison = reguide_server::prisons::create_prison(
                conn,
                &format!("Load prison {p}"),
                "Brussel",
                chrono_tz::Europe::Brussels,
            )?;
            rules::put_rules(
                conn,
                prison.id,
                &VisitRules {
                    visit_type: VisitType::Table,
                    min_notice_hours: 24,
                    max_days_ahead: 28,
                    max_visitors: 3,
                    max_adults: 3,
                    max_children: 2,
                    adult_from_age: 18,
                    auto_confirm: true,
                    cancel_cutoff_hours: 24,
                },
            )?;
            let mut templates = Vec::with_capacity(SESSIONS);
            for s in 0..SESSIONS {
                let weekday = 1 + (s / 2) as u8;
                let hour = if s % 2 == 0 { 9 } else { 14 };
                let template = rules::create_template(
                    conn,
                    prison.id,
                    &NewSessionTemplate {
                        weekday,
                        starts_at: NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default(),
                        ends_at: NaiveTime::from_hms_opt(hour + 1, 30, 0).unwrap_or_default(),
                        every_weeks: 1,
                        valid_from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default(),
                        valid_to: None,
                        room: "Salle A".into(),
                        capacities: vec![SessionCapacity {
                            visit_type: VisitType::Table,
                            capacity: PLACES,
                        }],
                    },
                )?;
                templates.push((template.id, u32::from(weekday)));
            }
            prisons.push((prison.id, templates));
        }
        Ok(prisons)
    });

    let mut conn = PgConnection::establish(app.database_url()).expect("connect to PostgreSQL");
    let now = "'2026-01-01 10:00:00'";
    let (mut families, mut members, mut detainees, mut links, mut approvals) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut requests, mut visitors, mut preferences, mut events) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut world = World {
        families: Vec::with_capacity(FAMILIES),
        members: 0,
        visits: 0,
        upcoming: 0,
        slots: 0,
    };
    // Places taken per session and day, and the prison of the session.
    let mut booked: HashMap<(Uuid, NaiveDate), (PrisonId, i32)> = HashMap::new();
    let today = Utc::now().date_naive();
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    for i in 0..FAMILIES {
        let family = Uuid::new_v4();
        let detainee = Uuid::new_v4();
        let (prison, templates) = &prisons[i % PRISONS];
        families.push(format!("('{family}', 'Load family {i}', {now})"));
        let people = [
            ("parent", "fr", "1968-04-02"),
            ("partner", "nl", "1990-01-30"),
            ("child", "ar", "2016-11-03"),
        ];
        let mut ids = Vec::new();
        for (n, (relation, language, birth)) in people.iter().enumerate() {
            let member = Uuid::new_v4();
            members.push(format!(
                "('{member}', '{family}', 'Member {n} of family {i}', '{relation}', \
                 '{language}', '{birth}', {now})"
            ));
            if *relation != "child" {
                approvals.push(format!(
                    "('{detainee}', '{member}', 'approved', 'kinship_proof')"
                ));
            }
            ids.push(member);
        }
        detainees.push(format!(
            "('{detainee}', 'Detainee {i}', '{prison}', 'L-{i:05}', {now})"
        ));
        links.push(format!("('{family}', '{detainee}')"));
        world.members += people.len();

        for k in 0..VISITS_PER_FAMILY {
            // From four weeks ahead back to about two years ago, one week in ten per family
            // (the families of a prison spread evenly over the weeks).
            let weeks = 4 - (k as i64 * 10 + ((i / PRISONS) % 10) as i64);
            let week = monday + chrono::Duration::weeks(weeks);
            let first = (i / PRISONS / 10 + k) % SESSIONS;
            let (template, date) = (0..SESSIONS)
                .map(|s| templates[(first + s) % SESSIONS])
                .find_map(|(template, weekday)| {
                    let date = week + Days::new(u64::from(weekday - 1));
                    let (_, taken) = booked.entry((template, date)).or_insert((*prison, 0));
                    (*taken < PLACES).then(|| {
                        *taken += 1;
                        (template, date)
                    })
                })
                .expect("a place in the week: 240 places a week per prison");
            if date >= today {
                world.upcoming += 1;
            }
            let id = Uuid::new_v4();
            let slot = slots::slot_key(template, date, VisitType::Table);
            requests.push(format!(
                "('{id}', 'L-{}', '{family}', '{detainee}', '{prison}', 'table', 'confirmed', \
                 'app', '', '{slot}', FALSE, {now}, {now})",
                &id.simple().to_string()[..12]
            ));
            visitors.push(format!("('{id}', '{}')", ids[0]));
            preferences.push(format!("('{id}', 1, '{template}', '{date}')"));
            events.push(format!(
                "('{}', '{id}', 1, {now}, 'requested', '{{\"channel\":\"app\"}}')",
                Uuid::new_v4()
            ));
            events.push(format!(
                "('{}', '{id}', 2, {now}, 'confirmed', '{{\"rank\":1,\"automatic\":true,\
                 \"slot\":{{\"template_id\":\"{template}\",\"date\":\"{date}\"}}}}')",
                Uuid::new_v4()
            ));
            world.visits += 1;
        }
        world.families.push((
            family.to_string().parse().expect("a family id"),
            ids[0].to_string().parse().expect("a member id"),
            *prison,
        ));
    }
    let slot_rows: Vec<String> = booked
        .iter()
        .map(|((template, date), (prison, n))| {
            let key = slots::slot_key(*template, *date, VisitType::Table);
            format!("('{key}', '{prison}', '{template}', '{date}', 'table', {PLACES}, {n})")
        })
        .collect();
    world.slots = slot_rows.len();

    let mut insert = |table: &str, columns: &str, rows: &[String]| {
        for chunk in rows.chunks(CHUNK) {
            diesel::sql_query(format!(
                "INSERT INTO {table} ({columns}) VALUES {}",
                chunk.join(",")
            ))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
        }
    };
    insert("families", "id, label, created_at", &families);
    insert(
        "family_members",
        "id, family_id, display_name, relation, preferred_language, birth_date, created_at",
        &members,
    );
    insert(
        "detainees",
        "id, full_name, prison_id, internal_number, created_at",
        &detainees,
    );
    insert("family_detainees", "family_id, detainee_id", &links);
    insert(
        "visitor_approvals",
        "detainee_id, member_id, status, basis",
        &approvals,
    );
    insert(
        "visit_slots",
        "id, prison_id, template_id, date, visit_type, capacity, booked",
        &slot_rows,
    );
    insert(
        "visit_requests",
        "id, reference, family_id, detainee_id, prison_id, visit_type, status, channel, \
         support_needs, slot_id, flagged, created_at, updated_at",
        &requests,
    );
    insert("visit_request_visitors", "request_id, member_id", &visitors);
    insert(
        "visit_request_preferences",
        "request_id, rank, template_id, date",
        &preferences,
    );
    insert(
        "visit_events",
        "id, request_id, seq, at, kind, detail",
        &events,
    );
    diesel::sql_query("ANALYZE")
        .execute(&mut conn)
        .expect("analyze");
    world
}

fn database_size(url: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::Text)]
        size: String,
    }
    let mut conn = PgConnection::establish(url).expect("connect to PostgreSQL");
    diesel::sql_query("SELECT pg_size_pretty(pg_database_size(current_database())) AS size")
        .get_result::<Size>(&mut conn)
        .map_or_else(|e| format!("? ({e})"), |s| s.size)
}

/// The first `DEVICES` families each enrol a phone (four at a time: an enrolment hashes a
/// password with argon2), which syncs its document once (the server writes the family's visits
/// into it), makes one change and syncs again.
async fn enrol(app: &TestApp, world: &World) -> Vec<(Device, PrisonId)> {
    let admin = app.login_as(DemoUser::Admin).await;
    let staff = app.demo_data().await.account(DemoUser::SocialWorker);
    let mut devices = Vec::with_capacity(DEVICES);
    for chunk in world.families[..DEVICES].chunks(4) {
        let enrolled = join_all(chunk.iter().map(|&(family, member, prison)| {
            let admin = admin.as_str();
            async move {
                (
                    enrolled_device(app, admin, family, member, staff).await,
                    prison,
                )
            }
        }))
        .await;
        devices.extend(enrolled);
    }
    devices
}

// ---- The load ------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Sync,
    Slots,
}

/// What a load run measured.
struct Load {
    syncs: Vec<Duration>,
    slots: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    cpu: CpuUse,
    /// Per instance: resident before the run, peak during it, resident after it.
    memory: Vec<(Option<u64>, Option<u64>, Option<u64>)>,
    load_generator_peak: Option<u64>,
    postgres_pss: u64,
}

impl Load {
    fn cycles_per_second(&self) -> f64 {
        self.syncs.len() as f64 / MEASURE.as_secs_f64()
    }

    fn print(&self, what: &str) {
        let seconds = MEASURE.as_secs_f64();
        let total = self.syncs.len() + self.slots.len();
        println!("\n-- {what}");
        println!(
            "requests answered in {seconds:.0} s: {total} ({:.0}/s): {} syncs ({:.0}/s), {} slot \
             reads ({:.0}/s); errors {}{}",
            total as f64 / seconds,
            self.syncs.len(),
            self.syncs.len() as f64 / seconds,
            self.slots.len(),
            self.slots.len() as f64 / seconds,
            self.errors,
            self.first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
        );
        for (name, latencies) in [("sync", &self.syncs), ("slots", &self.slots)] {
            println!(
                "    {name}: p50 {}, p99 {}, max {}",
                ms(quantile(latencies, 0.50)),
                ms(quantile(latencies, 0.99)),
                ms(latencies.last().copied().unwrap_or_default()),
            );
        }
        println!("    CPU in the window: {}", self.cpu.describe());
        println!(
            "    CPU per request: server processes {:.2} ms, PostgreSQL {:.2} ms",
            self.cpu.servers * 1e3 / total.max(1) as f64,
            self.cpu.postgres * 1e3 / total.max(1) as f64,
        );
        for (n, (before, peak, after)) in self.memory.iter().enumerate() {
            println!(
                "    instance {}: resident before {}, peak during the run {}, resident after {}",
                n + 1,
                mib(*before),
                mib(*peak),
                mib(*after)
            );
        }
        println!(
            "    PostgreSQL (all its processes, proportional set size): {}; load generator peak {}",
            mib(Some(self.postgres_pss)),
            mib(self.load_generator_peak),
        );
    }
}

/// Every phone makes a small change and syncs it, then reads its prison's open slots, again and
/// again (or once per `every`, spread evenly), for `WARM_UP` then `MEASURE`, its syncs and its
/// slot reads each going to the two instances in turn; only requests sent and answered inside
/// the measured window count.
async fn load(
    urls: &Arc<Vec<String>>,
    pids: &[u32],
    devices: Vec<(Device, PrisonId)>,
    every: Option<Duration>,
) -> (Vec<(Device, PrisonId)>, Load) {
    let before: Vec<Option<u64>> = pids
        .iter()
        .map(|&pid| {
            reset_peak(Some(pid));
            proc_status(Some(pid), "VmRSS:")
        })
        .collect();
    reset_peak(None);
    // The server closes a connection idle for 5 s (actix-web's keep-alive): the client lets go
    // of its idle connections before, as a phone's HTTP stack does, rather than sending on a
    // connection the server is closing.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(DEVICES)
        .pool_idle_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    let start = Instant::now();
    let window = (start + WARM_UP, start + WARM_UP + MEASURE);
    let count = devices.len();
    let tasks: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, (mut device, prison))| {
            let (client, urls) = (client.clone(), urls.clone());
            tokio::spawn(async move {
                let mut tick = every.map(|every| {
                    let first = start + every.mul_f64(i as f64 / count as f64);
                    let mut tick = tokio::time::interval_at(first.into(), every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    tick
                });
                let mut cycle = i;
                let mut seen: Vec<(Op, Duration)> = Vec::new();
                let mut errors: Vec<String> = Vec::new();
                while Instant::now() < window.1 {
                    if let Some(tick) = tick.as_mut() {
                        tick.tick().await;
                    }
                    cycle += 1;
                    for (n, op) in [Op::Sync, Op::Slots].into_iter().enumerate() {
                        let base = &urls[(cycle + n) % urls.len()];
                        let sent = Instant::now();
                        let outcome = match op {
                            Op::Sync => sync(&client, base, &mut device).await,
                            Op::Slots => read_slots(&client, base, &device.token, prison).await,
                        };
                        let done = Instant::now();
                        match outcome {
                            Ok(()) if sent >= window.0 && done <= window.1 => {
                                seen.push((op, done - sent));
                            }
                            Ok(()) => {}
                            Err(e) => errors.push(e),
                        }
                    }
                }
                ((device, prison), seen, errors)
            })
        })
        .collect();
    tokio::time::sleep_until(window.0.into()).await;
    let cpu_start: CpuSample = cpu_sample(pids);
    tokio::time::sleep_until(window.1.into()).await;
    let cpu = CpuUse::between(cpu_start, cpu_sample(pids));
    let postgres_pss = postgres_pss();
    let peaks: Vec<Option<u64>> = pids
        .iter()
        .map(|&pid| proc_status(Some(pid), "VmHWM:"))
        .collect();
    let mut figures = Load {
        syncs: Vec::new(),
        slots: Vec::new(),
        errors: 0,
        first_error: None,
        cpu,
        memory: Vec::new(),
        load_generator_peak: None,
        postgres_pss,
    };
    let mut devices = Vec::with_capacity(count);
    for result in join_all(tasks).await {
        let (device, seen, errors) = result.expect("a load task");
        devices.push(device);
        for (op, latency) in seen {
            match op {
                Op::Sync => figures.syncs.push(latency),
                Op::Slots => figures.slots.push(latency),
            }
        }
        figures.errors += errors.len();
        if figures.first_error.is_none() {
            figures.first_error = errors.into_iter().next();
        }
    }
    figures.syncs.sort();
    figures.slots.sort();
    figures.memory = pids
        .iter()
        .zip(before)
        .zip(peaks)
        .map(|((&pid, before), peak)| (before, peak, proc_status(Some(pid), "VmRSS:")))
        .collect();
    figures.load_generator_peak = proc_status(None, "VmHWM:");
    (devices, figures)
}

/// One small change, synced through the instance at `base`.
async fn sync(client: &reqwest::Client, base: &str, device: &mut Device) -> Result<(), String> {
    device.small_change(true);
    let resp = client
        .post(format!("{base}{}", device.path()))
        .bearer_auth(&device.token)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(device.request())
        .send()
        .await
        .map_err(|e| format!("sync: {}", chain(&e)))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("sync body: {}", chain(&e)))?;
    if !status.is_success() {
        return Err(format!("sync: {status} {}", String::from_utf8_lossy(&body)));
    }
    let response = SyncResponse::decode(&body).map_err(|e| format!("sync frame: {e}"))?;
    device.absorb(&response);
    Ok(())
}

/// The open slots of the coming four weeks, as the app's visit screen reads them.
async fn read_slots(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    prison: PrisonId,
) -> Result<(), String> {
    let resp = client
        .get(format!("{base}/api/v1/prisons/{prison}/slots"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("slots: {}", chain(&e)))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("slots body: {}", chain(&e)))?;
    if !status.is_success() || body.first() != Some(&b'[') {
        return Err(format!(
            "slots: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
    }
    Ok(())
}

/// An error and its causes, for the report of a failed request.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Proportional set size of all PostgreSQL processes, in kB: shared memory counted once.
fn postgres_pss() -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let path = entry.path();
        let is_postgres =
            std::fs::read_to_string(path.join("comm")).is_ok_and(|name| name.trim() == "postgres");
        if !is_postgres {
            continue;
        }
        if let Ok(rollup) = std::fs::read_to_string(path.join("smaps_rollup")) {
            total += rollup
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}
