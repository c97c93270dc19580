//! Family document sync against the real server, on SQLite and PostgreSQL, with Automerge's own
//! sync protocol (`automerge::sync`) measured on the same documents in the same run:
//!
//! - reconnect: a device makes one small change to a family document with 10,000 changes in its
//!   history and syncs (target: 1 round trip, at most 300 bytes of request and response bodies);
//!   Automerge's protocol for the same change, without saved sync state and with it;
//! - a new device's first sync, on the demo family's fresh document and on the 10,000-change one
//!   (target: 1 round trip, response at most 1.1 × `save()`); Automerge's protocol from an empty
//!   document;
//! - throughput: 200 families, each with one device that makes one small change per sync, for
//!   five seconds, all at once and then paced at half that rate: syncs per second, per core, p50
//!   and p99, CPU per sync, peak memory of the process.
//!
//! The history is real: Fatima's device makes 10,000 changes through the family write helpers
//! with its enrolled actor id and pushes them through the sync endpoint in batches; the server
//! checks every one. Bodies and HTTP/1.1 headers of the measured syncs are counted on a plain TCP
//! connection. Each part runs in a process of its own, so that its memory figures are its own.
//!
//! Run with `cargo bench -p reguide-tests --bench sync` (`BENCH_BACKENDS=sqlite` skips
//! PostgreSQL).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use automerge::sync::{State, SyncDoc};
use automerge::{Automerge, Change, ScalarValue};
use futures_util::future::join_all;
use reguide_protocol::api::TokenResponse;
use reguide_protocol::doc::status::AppointmentEventKind;
use reguide_protocol::doc::{FamilyDoc, Writer, check_change};
use reguide_protocol::sync::{CONTENT_TYPE, ResponseKind, SyncResponse};
use reguide_protocol::{AccountId, MemberId};
use reguide_tests::device::{Device, enrolled_family, sorted};
use reguide_tests::machine::{CpuUse, cpu_sample, mib, proc_status, quantile, reset_peak};
use reguide_tests::{Backend, DEMO_PASSWORD, DemoUser, TestApp, expect_json, require_postgres};
use serde_json::json;

/// Device changes in the long history.
const HISTORY: usize = 10_000;
/// Changes per sync while the history is built (well under the 1 MiB request limit).
const BATCH: usize = 1_000;
/// Families syncing at once in the throughput run.
const FAMILIES: usize = 200;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
/// Cores of the machine the figures in docs/BENCHMARKS.md come from.
const CORES: f64 = 2.0;

/// Set in the processes the bench starts for each part: `<backend>:<part>`.
const PART_VAR: &str = "SYNC_BENCH_PART";

/// Each part runs in a process of its own, so that the memory figures of one are not those of
/// another.
fn main() {
    if let Ok(part) = std::env::var(PART_VAR) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(run_part(&part));
        return;
    }
    let mut backends = vec!["sqlite"];
    // BENCH_BACKENDS=sqlite skips PostgreSQL.
    if std::env::var("BENCH_BACKENDS").map_or(true, |b| b.contains("postgres"))
        && require_postgres()
    {
        backends.push("postgres");
    }
    let me = std::env::current_exe().expect("the bench's own path");
    for backend in backends {
        for part in ["history", "throughput"] {
            let status = std::process::Command::new(&me)
                .env(PART_VAR, format!("{backend}:{part}"))
                .status()
                .expect("start a part of the bench");
            assert!(status.success(), "{backend}:{part} failed: {status}");
        }
    }
}

async fn run_part(part: &str) {
    let (backend, part) = part.split_once(':').expect("backend:part");
    let backend = match backend {
        "postgres" => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let app = TestApp::spawn_with(backend, |config| {
        config.log_level = "error".into();
        config.db_pool_size = 16;
    })
    .await;
    println!("\n======== {backend:?}: {part} (a process of its own)");
    match part {
        "history" => long_history(&app).await,
        _ => throughput(&app).await,
    }
    println!(
        "memory of this process (server and client in one): peak {}, resident at the end {}",
        mib(proc_status(None, "VmHWM:")),
        mib(proc_status(None, "VmRSS:")),
    );
}

/// Fatima signs in on a new device named `name`.
async fn fatima_device(app: &TestApp, name: &str, staff: AccountId) -> Device {
    let body = json!({
        "email": DemoUser::FamilyMember.email(),
        "password": DEMO_PASSWORD,
        "device_name": name,
    });
    let session: TokenResponse =
        expect_json(app.post_json("/api/v1/auth/login", None, &body).await, 200).await;
    let me = app.me(&session.token).await;
    let membership = me.member_of.first().expect("Fatima is a family member");
    Device::new(session, membership.member_id, membership.family_id, staff)
}

/// Syncs over a plain TCP connection that counts every byte.
async fn sync_counted(device: &mut Device, app: &TestApp) -> (SyncResponse, Exchange) {
    let exchange = post_counted(app.port, &device.path(), &device.token, device.request()).await;
    assert_eq!(
        exchange.status,
        200,
        "sync refused: {}",
        String::from_utf8_lossy(&exchange.response_body)
    );
    let response = SyncResponse::decode(&exchange.response_body).expect("a valid frame");
    device.absorb(&response);
    (response, exchange)
}

// ---- Counting bytes on the wire ------------------------------------------------------------

/// One HTTP/1.1 exchange as it went over the connection.
#[derive(Debug)]
struct Exchange {
    status: u16,
    request_head: usize,
    request_body: usize,
    response_head: usize,
    /// The response's status line and headers.
    response_text: String,
    response_body: Vec<u8>,
    elapsed: Duration,
}

/// POSTs `body` on a new connection with the headers a minimal client sends, and reads the
/// response, counting the bytes of both.
async fn post_counted(port: u16, path: &str, token: &str, body: Vec<u8>) -> Exchange {
    let (path, token) = (path.to_owned(), token.to_owned());
    tokio::task::spawn_blocking(move || {
        exchange(port, &path, &token, &body).expect("an HTTP exchange with the server")
    })
    .await
    .expect("the exchange task")
}

fn exchange(port: u16, path: &str, token: &str, body: &[u8]) -> std::io::Result<Exchange> {
    let broken = |what: &str| std::io::Error::other(what.to_owned());
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_nodelay(true)?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut received = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(broken("connection closed before the response head"));
        }
        received.extend_from_slice(&chunk[..n]);
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let response_head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let status = response_head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| broken("no status"))?;
    let length: usize = response_head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .ok_or_else(|| broken("no content-length"))?;
    while received.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(broken("connection closed before the end of the body"));
        }
        received.extend_from_slice(&chunk[..n]);
    }
    Ok(Exchange {
        status,
        request_head: head.len(),
        request_body: body.len(),
        response_head: head_end,
        response_text: response_head,
        response_body: received[head_end..head_end + length].to_vec(),
        elapsed: started.elapsed(),
    })
}

// ---- Automerge's sync protocol -------------------------------------------------------------

/// What a run of Automerge's sync protocol between a client and a server took.
#[derive(Debug, Default)]
struct AutomergeRun {
    /// Client message then server message: one request and its response over HTTP.
    round_trips: usize,
    /// Round trips until both had the same heads.
    converged_after: usize,
    messages: usize,
    client_bytes: usize,
    server_bytes: usize,
}

impl AutomergeRun {
    fn bytes(&self) -> usize {
        self.client_bytes + self.server_bytes
    }
}

/// Runs Automerge's sync protocol, the client speaking first, until neither side has anything
/// to send; counts the encoded messages.
fn automerge_sync(
    client: &mut Automerge,
    server: &mut Automerge,
    client_state: &mut State,
    server_state: &mut State,
) -> AutomergeRun {
    let mut run = AutomergeRun::default();
    for _ in 0..100 {
        let mut sent = false;
        if let Some(message) = client.generate_sync_message(client_state) {
            run.client_bytes += message.clone().encode().len();
            run.messages += 1;
            sent = true;
            server
                .receive_sync_message(server_state, message)
                .expect("the server takes the message");
        }
        if let Some(message) = server.generate_sync_message(server_state) {
            run.server_bytes += message.clone().encode().len();
            run.messages += 1;
            sent = true;
            client
                .receive_sync_message(client_state, message)
                .expect("the client takes the message");
        }
        if !sent {
            return run;
        }
        run.round_trips += 1;
        if run.converged_after == 0 && sorted(client.get_heads()) == sorted(server.get_heads()) {
            run.converged_after = run.round_trips;
        }
    }
    panic!("Automerge's sync did not settle in 100 round trips");
}

// ---- Where the bytes of a change go --------------------------------------------------------

fn uleb_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn sleb_len(mut v: i64) -> usize {
    let mut n = 1;
    loop {
        let byte = v & 0x7f;
        v >>= 7;
        if (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0) {
            return n;
        }
        n += 1;
    }
}

/// The fields of one change chunk (Automerge's binary change format), with their sizes.
fn change_breakdown(bytes: &[u8]) -> Vec<(String, usize)> {
    let change = Change::from_bytes(bytes.to_vec()).expect("one change chunk");
    let total = change.raw_bytes().len();
    // Magic bytes, checksum, chunk type, then the length of the rest as a LEB128 number.
    let header = (1..=10)
        .map(|n| 9 + n)
        .find(|&h| total >= h && uleb_len((total - h) as u64) == h - 9)
        .expect("a chunk header");
    let deps = change.deps().len();
    let actor = change.actor_id().to_bytes().len();
    let others: usize = change
        .other_actor_ids()
        .iter()
        .map(|a| uleb_len(a.to_bytes().len() as u64) + a.to_bytes().len())
        .sum();
    let message = change.message().map_or(0, str::len);
    let fixed = [
        (
            "chunk header (magic, checksum, type, length)".to_owned(),
            header,
        ),
        (
            format!("dependencies: {deps} change hash(es) of 32 bytes"),
            uleb_len(deps as u64) + 32 * deps,
        ),
        (
            format!("actor id ({actor} bytes)"),
            uleb_len(actor as u64) + actor,
        ),
        (
            "seq, start op, timestamp".to_owned(),
            uleb_len(change.seq())
                + uleb_len(change.start_op().get())
                + sleb_len(change.timestamp()),
        ),
        ("message".to_owned(), uleb_len(message as u64) + message),
        (
            format!(
                "other actors referenced ({})",
                change.other_actor_ids().len()
            ),
            uleb_len(change.other_actor_ids().len() as u64) + others,
        ),
    ];
    let fixed_total: usize = fixed.iter().map(|(_, n)| n).sum();
    let ops_total = total - fixed_total;

    let expanded = change.decode();
    let (mut key_bytes, mut keys, mut string_bytes, mut strings, mut nulls) = (0, 0, 0, 0, 0);
    for op in &expanded.operations {
        if let automerge::legacy::Key::Map(key) = &op.key {
            key_bytes += key.len();
            keys += 1;
        }
        match op.primitive_value() {
            Some(ScalarValue::Str(s)) => {
                string_bytes += s.len();
                strings += 1;
            }
            Some(ScalarValue::Null) => nulls += 1,
            _ => {}
        }
    }
    let ops = expanded.operations.len();
    let mut out = fixed.to_vec();
    out.push((
        format!("op columns: {keys} map key names (text)"),
        key_bytes,
    ));
    out.push((
        format!("op columns: {strings} string values (ids, kind; text)"),
        string_bytes,
    ));
    out.push((
        format!(
            "op columns: the rest ({ops} ops, {nulls} of them nulls: column headers, object \
             and element ids, actions, value types and lengths, the `at` number)"
        ),
        ops_total - key_bytes - string_bytes,
    ));
    out
}

fn print_breakdown(bytes: &[u8]) {
    for (what, n) in change_breakdown(bytes) {
        println!("      {n:>5} B  {what}");
    }
}

// ---- 1 and 2: a long history, a reconnect, a new device ------------------------------------

async fn long_history(app: &TestApp) {
    let demo = app.demo_data().await;
    let staff = demo.account(DemoUser::SocialWorker);

    // A new device's first sync on the demo family's fresh document.
    let mut phone = fatima_device(app, "Phone", staff).await;
    let (first, wire) = sync_counted(&mut phone, app).await;
    assert_eq!(first.kind, ResponseKind::FullDocument);
    println!("\n-- first sync of a new device, fresh demo document");
    first_sync_report(&phone, &wire);

    // 10,000 changes, pushed in batches.
    let (mut writing, mut syncing, mut biggest) = (Duration::ZERO, Duration::ZERO, 0);
    while phone.changes_made < HISTORY {
        let started = Instant::now();
        for _ in 0..BATCH.min(HISTORY - phone.changes_made) {
            phone.small_change(false);
        }
        writing += started.elapsed();
        biggest = biggest.max(phone.request().len());
        let started = Instant::now();
        let pushed = phone.sync(app).await;
        syncing += started.elapsed();
        assert_eq!(pushed.kind, ResponseKind::Changes);
    }
    assert!(
        phone.in_step(),
        "the server has exactly the phone's document"
    );
    let all = phone.doc().get_changes(&[]);
    let own = all.iter().filter(|c| c.actor_id() == &phone.actor).count();
    println!(
        "\nhistory: {HISTORY} device changes ({} appointments proposed, the rest answers to \
         them) written in {:.1} s, pushed in {} syncs of up to {BATCH} changes ({} B at most \
         per request) taking {:.1} s; the document holds {} changes ({own} by the device, {} \
         by the server), save() = {} B",
        phone.entries.len(),
        writing.as_secs_f64(),
        HISTORY.div_ceil(BATCH),
        biggest,
        syncing.as_secs_f64(),
        all.len(),
        all.len() - own,
        phone.doc().save().len(),
    );

    // A second device's first sync now gets the 10,000-change document.
    let mut tablet = fatima_device(app, "Tablet", staff).await;
    let (first, wire) = sync_counted(&mut tablet, app).await;
    assert_eq!(first.kind, ResponseKind::FullDocument);
    println!("\n-- first sync of a new device, document with {HISTORY} changes in its history");
    first_sync_report(&tablet, &wire);
    let server_before = tablet.doc().fork();

    // The reconnect: one small change, one sync; three times, one for each answer the family
    // gives (their kinds differ in length by a byte).
    println!("\n-- reconnect: 1 new change on a document with {HISTORY} changes");
    let phone_before = phone.doc().fork();
    let mut first = None;
    for round in 0..3 {
        let started = Instant::now();
        phone.small_change(true);
        let checked_write = started.elapsed();
        let heads_sent = phone.server_heads.clone();
        let change = phone.doc().save_after(&heads_sent);
        let (answer, wire) = sync_counted(&mut phone, app).await;
        assert_eq!(answer.kind, ResponseKind::Changes);
        assert!(
            phone.in_step(),
            "one round trip leaves device and server equal"
        );
        let parsed = Change::from_bytes(change.clone()).expect("one change");
        let kind = parsed
            .decode()
            .operations
            .iter()
            .find_map(|op| match op.primitive_value() {
                Some(ScalarValue::Str(s)) if AppointmentEventKind::parse(&s).is_some() => {
                    Some(s.to_string())
                }
                _ => None,
            })
            .unwrap_or_default();
        let bodies = wire.request_body + wire.response_body.len();
        println!(
            "ours, answer `{kind}`: 1 round trip, request body {} B (2 + {} head(s) × 32 B + {} B \
             change), response body {} B (3 + {} head(s) × 32 B + {} B data), bodies together \
             {bodies} B (target ≤ 300: {}); HTTP/1.1 heads: request {} B, response {} B; on the \
             wire {} B; {:.1} ms",
            wire.request_body,
            heads_sent.len(),
            change.len(),
            wire.response_body.len(),
            answer.heads.len(),
            answer.data.len(),
            if bodies <= 300 { "met" } else { "NOT met" },
            wire.request_head,
            wire.response_head,
            bodies + wire.request_head + wire.response_head,
            wire.elapsed.as_secs_f64() * 1e3,
        );
        if round > 0 {
            continue;
        }
        println!(
            "    the request's head is the change's dependency: {}; the response's head is the \
             change's own hash: {}",
            sorted(parsed.deps().to_vec()) == sorted(heads_sent.clone()),
            answer.heads == vec![parsed.hash()],
        );
        println!(
            "    response head: {}",
            wire.response_text.trim_end().replace("\r\n", " | ")
        );
        println!("    the change, {} B:", change.len());
        print_breakdown(&change);
        time_library_calls(&phone_before, &change, phone.member, checked_write);
        first = Some((change, phone.doc().fork()));
    }
    let (change, phone_after) = first.expect("the first reconnect ran");

    // Automerge's protocol for the first change, without saved sync state (an app restart)…
    let mut client = phone_after;
    let mut server = server_before.fork();
    let fresh = automerge_sync(
        &mut client,
        &mut server,
        &mut State::new(),
        &mut State::new(),
    );
    assert_eq!(sorted(client.get_heads()), sorted(server.get_heads()));
    print_automerge("Automerge sync, fresh state on both sides", &fresh);

    // …and with the state both sides saved after their last sync.
    let mut client = phone_before.fork();
    let mut server = server_before.fork();
    let (mut client_state, mut server_state) = (State::new(), State::new());
    automerge_sync(
        &mut client,
        &mut server,
        &mut client_state,
        &mut server_state,
    );
    let saved = (client_state.encode(), server_state.encode());
    let mut client_state = State::decode(&saved.0).expect("saved state decodes");
    let mut server_state = State::decode(&saved.1).expect("saved state decodes");
    client.load_incremental(&change).expect("the same change");
    let persisted = automerge_sync(
        &mut client,
        &mut server,
        &mut client_state,
        &mut server_state,
    );
    assert_eq!(sorted(client.get_heads()), sorted(server.get_heads()));
    print_automerge(
        &format!(
            "Automerge sync, saved state ({} B + {} B persisted)",
            saved.0.len(),
            saved.1.len()
        ),
        &persisted,
    );

    // A new device with Automerge's protocol: from an empty document.
    let mut client = Automerge::new();
    let mut server = server_before.fork();
    let empty = automerge_sync(
        &mut client,
        &mut server,
        &mut State::new(),
        &mut State::new(),
    );
    assert_eq!(sorted(client.get_heads()), sorted(server.get_heads()));
    println!(
        "\n-- first sync of a new device with Automerge's protocol ({HISTORY}-change document, \
         save() = {} B)",
        server_before.save().len()
    );
    print_automerge("Automerge sync from an empty document", &empty);
}

/// Times, on the 10,000-change document, the library calls a device write and a sync make.
fn time_library_calls(before: &Automerge, change: &[u8], member: MemberId, checked: Duration) {
    fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
        let started = Instant::now();
        let out = f();
        (out, started.elapsed().as_secs_f64() * 1e3)
    }
    let (saved, save_ms) = timed(|| before.save());
    let (loaded, load_ms) = timed(|| Automerge::load(&saved));
    drop(loaded);
    let (mut after, fork_ms) = timed(|| before.fork());
    after.load_incremental(change).expect("the change loads");
    let (read, read_ms) = timed(|| FamilyDoc::read(&after));
    read.expect("the document reads");
    let writer = Writer::FamilyDevice { member_id: member };
    let (verdict, check_ms) = timed(|| check_change(writer, before, &after));
    verdict.expect("the change passes the policy");
    println!(
        "    time on this document (one call each, this machine): write::checked {:.1} ms (the \
         app's write of the change), save() {save_ms:.1} ms, load() {load_ms:.1} ms, fork() \
         {fork_ms:.1} ms, FamilyDoc::read {read_ms:.1} ms, check_change (1 change) \
         {check_ms:.1} ms",
        checked.as_secs_f64() * 1e3
    );
}

fn first_sync_report(device: &Device, wire: &Exchange) {
    let saved = device.doc().save().len();
    let ratio = wire.response_body.len() as f64 / saved as f64;
    println!(
        "ours: 1 round trip, request body {} B, response body {} B, save() {saved} B, ratio \
         {ratio:.4} (target ≤ 1.1: {}); HTTP/1.1 heads: request {} B, response {} B; {:.1} ms",
        wire.request_body,
        wire.response_body.len(),
        if ratio <= 1.1 { "met" } else { "NOT met" },
        wire.request_head,
        wire.response_head,
        wire.elapsed.as_secs_f64() * 1e3,
    );
}

fn print_automerge(what: &str, run: &AutomergeRun) {
    println!(
        "{what}: {} round trips ({} messages; both sides equal after {}), {} B (client {} B, \
         server {} B)",
        run.round_trips,
        run.messages,
        run.converged_after,
        run.bytes(),
        run.client_bytes,
        run.server_bytes,
    );
}

// ---- 3: throughput -------------------------------------------------------------------------

/// A new family with one member, enrolled on one device through a code, synced once, with one
/// appointment opened so that each later change is a small answer to it.
/// What a load run measured.
#[derive(Debug)]
struct Load {
    syncs: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
    /// Where the CPU time of the measured window went.
    cpu: CpuUse,
}

impl Load {
    fn print(&self, what: &str) {
        println!(
            "{what}: {} syncs in {:.0} s, {:.0} syncs/s, {:.0} syncs/s per core ({CORES:.0} \
             cores, shared with the load generator), p50 {:.2} ms, p99 {:.2} ms, {} errors",
            self.syncs,
            MEASURE.as_secs_f64(),
            self.per_second,
            self.per_second / CORES,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.errors,
        );
        let cpu = self.cpu;
        println!(
            "    CPU in the window: {}; {:.2} ms of this process and PostgreSQL per sync",
            cpu.describe(),
            (cpu.process + cpu.postgres) * 1e3 / self.syncs.max(1) as f64
        );
    }
}

/// Every device makes one small change and syncs it, again and again (or once per `every`,
/// spread evenly), for `WARM_UP` then `MEASURE`; only syncs sent and answered inside the
/// measured window count.
async fn load(app: &TestApp, devices: Vec<Device>, every: Option<Duration>) -> (Vec<Device>, Load) {
    let before = cpu_sample(&[]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "    one second before the run (no syncs): {}",
        CpuUse::between(before, cpu_sample(&[])).describe()
    );
    let client = reqwest::Client::new();
    let start = Instant::now();
    let window = (start + WARM_UP, start + WARM_UP + MEASURE);
    let count = devices.len();
    let tasks: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, mut device)| {
            let client = client.clone();
            let url = app.url(&device.path());
            tokio::spawn(async move {
                let mut tick = every.map(|every| {
                    let first = start + every.mul_f64(i as f64 / count as f64);
                    let mut tick = tokio::time::interval_at(first.into(), every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    tick
                });
                let (mut latencies, mut errors) = (Vec::new(), 0);
                while Instant::now() < window.1 {
                    if let Some(tick) = tick.as_mut() {
                        tick.tick().await;
                    }
                    device.small_change(true);
                    let sent = Instant::now();
                    let resp = client
                        .post(&url)
                        .bearer_auth(&device.token)
                        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                        .body(device.request())
                        .send()
                        .await;
                    let body = match resp {
                        Ok(resp) if resp.status().is_success() => resp.bytes().await.ok(),
                        _ => None,
                    };
                    let done = Instant::now();
                    match body.and_then(|b| SyncResponse::decode(&b).ok()) {
                        Some(response) => {
                            device.absorb(&response);
                            if sent >= window.0 && done <= window.1 {
                                latencies.push(done - sent);
                            }
                        }
                        None => errors += 1,
                    }
                }
                (device, latencies, errors)
            })
        })
        .collect();
    tokio::time::sleep_until(window.0.into()).await;
    let cpu_start = cpu_sample(&[]);
    tokio::time::sleep_until(window.1.into()).await;
    let cpu = CpuUse::between(cpu_start, cpu_sample(&[]));
    let (mut devices, mut latencies, mut errors) = (Vec::new(), Vec::new(), 0);
    for result in join_all(tasks).await {
        let (device, l, e) = result.expect("a load task");
        devices.push(device);
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let figures = Load {
        syncs: latencies.len(),
        per_second: latencies.len() as f64 / MEASURE.as_secs_f64(),
        p50: quantile(&latencies, 0.50),
        p99: quantile(&latencies, 0.99),
        errors,
        cpu,
    };
    (devices, figures)
}

async fn throughput(app: &TestApp) {
    let admin = app.login_as(DemoUser::Admin).await;
    let staff = app.demo_data().await.account(DemoUser::SocialWorker);
    let started = Instant::now();
    let mut devices = Vec::with_capacity(FAMILIES);
    // Four at a time: each enrolment hashes a password with argon2 (19 MiB), and memory the
    // allocator took for that stays with the process.
    for chunk in (0..FAMILIES).collect::<Vec<_>>().chunks(4) {
        let labels: Vec<String> = chunk
            .iter()
            .map(|n| format!("Sync bench family {n}"))
            .collect();
        devices.extend(
            join_all(
                labels
                    .iter()
                    .map(|label| enrolled_family(app, &admin, staff, label)),
            )
            .await,
        );
    }
    println!(
        "\n-- throughput: {FAMILIES} families set up through the API (family, member, \
         enrolment code, enrolment, first sync, one appointment proposed and synced) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let peak_setup = proc_status(None, "VmHWM:");
    let reset = reset_peak(None);
    let rss_start = proc_status(None, "VmRSS:");

    let (devices, saturated) = load(app, devices, None).await;
    saturated.print(&format!(
        "{FAMILIES} families at once, each syncing again as soon as answered"
    ));
    let peak_run = proc_status(None, "VmHWM:");
    let rise = rss_start
        .zip(peak_run)
        .map(|(start, peak)| format!(", {:.0} MiB over", (peak as f64 - start as f64) / 1024.0))
        .unwrap_or_default();
    println!(
        "    memory (server and load generator in one process): peak during setup {}, \
         resident before the run {}, peak during the run {}{rise}{}",
        mib(peak_setup),
        mib(rss_start),
        mib(peak_run),
        if reset {
            " (peak reset before the run)"
        } else {
            " (the peak could not be reset: since the process started)"
        },
    );

    // Half the saturated rate, evenly spread: latency without queueing behind other syncs.
    let rate = (saturated.per_second / 2.0).max(1.0);
    let every = Duration::from_secs_f64(FAMILIES as f64 / rate);
    let (devices, paced) = load(app, devices, Some(every)).await;
    paced.print(&format!(
        "{FAMILIES} families, each syncing every {:.2} s ({rate:.0} syncs/s offered)",
        every.as_secs_f64()
    ));
    let changes: usize = devices.iter().map(|d| d.changes_made).sum();
    println!("    changes made by the {FAMILIES} devices over both runs: {changes}");

    // The load generator's share of a sync, alone: the checked write and the request frame.
    let mut devices = devices;
    let started = Instant::now();
    for device in devices.iter_mut().take(50) {
        device.small_change(true);
        std::hint::black_box(device.request());
    }
    println!(
        "    client work per sync alone (write::checked and the request frame, 50 devices, one \
         after the other): {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3 / 50.0
    );
}
