//! reguide beside the automerge-repo sync server (Node.js, from the npm registry), on the same
//! machine and the same workload: syncs per server CPU-second and the server's memory. Two Node
//! servers run: `@automerge/automerge-repo-sync-server` as published, and its code on the latest
//! automerge-repo and automerge (`tests/versus/latest/server.mjs`).
//!
//! The workload is made once, through reguide's API: 200 families, each with one member whose
//! device is enrolled and synced once; then each device makes its changes offline (appointments
//! proposed and answered through the family write helpers, with its enrolled actor id). Each
//! family's document after the first sync and each change are written to a workload folder, so
//! that the automerge-repo server gets the very same documents and changes.
//!
//! Each server runs in a process of its own, and only that process is measured: CPU time
//! (utime + stime of `/proc/<pid>/stat`), resident memory and its peak (`VmRSS`, `VmHWM`).
//! Each device syncs its changes one at a time: first all at once, each sending its next change
//! as soon as the last one is answered (closed loop), then paced, each device every
//! `PACED_EVERY`. A sync is one change, from the moment the client has it in its document to
//! the moment it knows the server has it. The load generators (this process for reguide,
//! `tests/versus/driver.mjs` for automerge-repo) run on the same cores.
//!
//! Run with `cargo bench -p reguide-tests --bench versus`; Node.js and npm must be installed
//! (the npm packages are installed into `tests/versus/node_modules` when missing).
//! `VERSUS_FAMILIES`, `VERSUS_CLOSED` and `VERSUS_PACED` change the workload's size;
//! `VERSUS_WORKLOAD=<folder>` keeps the workload there.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use automerge::{ActorId, Automerge, ChangeHash};
use futures_util::future::join_all;
use reguide_protocol::FamilyId;
use reguide_protocol::sync::{CONTENT_TYPE, SyncResponse};
use reguide_tests::device::{enrol, new_family};
use reguide_tests::machine::{cpu_sample, cpu_seconds, proc_status, quantile, reset_peak};
use reguide_tests::{Backend, DemoUser, TestApp};
use serde_json::{Value, json};

/// How long after its last answer a server's CPU is still counted: work it put off (the
/// automerge-repo server saves a document at most every 100 ms) belongs to the phase.
const TAIL: Duration = Duration::from_secs(1);
/// Each device's pace in the paced phase: 200 families make 100 syncs per second.
const PACED_EVERY: Duration = Duration::from_secs(2);

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let families = setting("VERSUS_FAMILIES", 200);
    let closed = setting("VERSUS_CLOSED", 30);
    let paced = setting("VERSUS_PACED", 10);
    let versus = Path::new(env!("CARGO_MANIFEST_DIR")).join("versus");
    let servers = [NodeServer::published(&versus), NodeServer::latest(&versus)];
    for server in &servers {
        install_node_packages(&server.packages);
    }
    let kept = std::env::var_os("VERSUS_WORKLOAD").map(PathBuf::from);
    let temporary = tempfile::tempdir().expect("a temporary folder");
    let workload = kept.unwrap_or_else(|| temporary.path().join("workload"));
    std::fs::create_dir_all(&workload).expect("the workload folder");
    println!("machine load before the bench: {}", loadavg());

    // The first instance, in this process, makes the workload; emails stay in the outbox
    // (delivery is not syncing, and this instance would otherwise take a share of it).
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.log_level = "error".into();
        config.mail.worker = false;
    })
    .await;
    let started = Instant::now();
    let devices = make_workload(&app, &workload, families, closed + paced).await;
    std::fs::write(
        workload.join("manifest.json"),
        json!({
            "devices": families,
            "changes": closed + paced,
            "closed": closed,
            "paced": paced,
            "paced_every_ms": PACED_EVERY.as_millis() as u64,
        })
        .to_string(),
    )
    .expect("write the manifest");
    let documents: usize = devices.iter().map(|d| d.doc.len()).sum();
    let changes: Vec<usize> = devices
        .iter()
        .flat_map(|d| d.changes.iter().map(|(bytes, _)| bytes.len()))
        .collect();
    println!(
        "workload: {families} families through the API, each device synced once and then made \
         {} changes offline ({closed} for the closed loop, {paced} paced), in {:.1} s; \
         documents {:.0} B on average, changes {:.0} B on average ({} to {} B); written to {}",
        closed + paced,
        started.elapsed().as_secs_f64(),
        documents as f64 / families.max(1) as f64,
        changes.iter().sum::<usize>() as f64 / changes.len().max(1) as f64,
        changes.iter().min().unwrap_or(&0),
        changes.iter().max().unwrap_or(&0),
        workload.display()
    );

    let ours = reguide(&app, devices, closed).await;
    drop(app);
    let theirs = tokio::task::spawn_blocking(move || {
        servers
            .iter()
            .map(|server| automerge_repo(&versus, server, &workload))
            .collect::<Vec<_>>()
    })
    .await
    .expect("the automerge-repo runs");
    println!("machine load after the bench: {}", loadavg());
    report(&ours, &theirs);
}

// ---- The workload --------------------------------------------------------------------------

fn sync_path(family: FamilyId) -> String {
    format!("/api/v1/families/{family}/sync")
}

/// What the measured runs replay for one family: its document after the first sync and its
/// changes, as bytes.
struct Device {
    token: String,
    actor: ActorId,
    family: FamilyId,
    doc: Vec<u8>,
    changes: Vec<(Vec<u8>, ChangeHash)>,
}

/// Makes the families and their changes, and writes them into `folder`.
async fn make_workload(
    app: &TestApp,
    folder: &Path,
    families: usize,
    changes: usize,
) -> Vec<Device> {
    let admin = app.login_as(DemoUser::Admin).await;
    let staff = app.demo_data().await.account(DemoUser::SocialWorker);
    let mut phones = Vec::with_capacity(families);
    // Four at a time: each enrolment hashes a password with argon2 (19 MiB).
    for chunk in (0..families).collect::<Vec<_>>().chunks(4) {
        let admin = admin.as_str();
        phones.extend(
            join_all(chunk.iter().map(|&n| async move {
                let (family, member) = new_family(app, admin, &format!("Versus family {n}")).await;
                enrol(app, admin, family, member, staff).await
            }))
            .await,
        );
    }
    phones
        .into_iter()
        .enumerate()
        .map(|(i, mut phone)| {
            let doc = phone.doc.as_ref().expect("synced once").save();
            std::fs::write(folder.join(format!("doc-{i}.bin")), &doc).expect("write a document");
            for _ in 0..changes {
                phone.small_change(true);
            }
            let made = phone
                .doc
                .as_ref()
                .expect("synced once")
                .get_changes(&phone.server_heads);
            assert_eq!(made.len(), changes, "one Automerge change per write");
            let changes = made
                .iter()
                .enumerate()
                .map(|(k, change)| {
                    let bytes = change.raw_bytes().to_vec();
                    std::fs::write(folder.join(format!("change-{i}-{k}.bin")), &bytes)
                        .expect("write a change");
                    (bytes, change.hash())
                })
                .collect();
            Device {
                token: phone.token,
                actor: phone.actor,
                family: phone.family,
                doc,
                changes,
            }
        })
        .collect()
}

// ---- Measuring a server process ------------------------------------------------------------

fn memory_kib(pid: u32, field: &str) -> u64 {
    proc_status(Some(pid), field).unwrap_or(0)
}

/// Busy and total CPU seconds of the whole machine (`/proc/stat`).
fn machine_seconds() -> (f64, f64) {
    let sample = cpu_sample(&[]);
    (sample.busy, sample.total)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// CPU seconds of the server, of the load generator and of the machine, from a start.
struct Meter {
    server: u32,
    client: u32,
    start: (f64, f64, f64, f64),
}

impl Meter {
    fn start(server: u32, client: u32) -> Self {
        let (busy, total) = machine_seconds();
        Self {
            server,
            client,
            start: (
                cpu_seconds(Some(server)),
                cpu_seconds(Some(client)),
                busy,
                total,
            ),
        }
    }

    fn stop(&self) -> Cpu {
        let (busy, total) = machine_seconds();
        let (server, client) = (
            cpu_seconds(Some(self.server)),
            cpu_seconds(Some(self.client)),
        );
        Cpu {
            server: server - self.start.0,
            client: client - self.start.1,
            machine_busy: busy - self.start.2,
            machine_total: total - self.start.3,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    server: f64,
    client: f64,
    machine_busy: f64,
    machine_total: f64,
}

impl Cpu {
    /// CPU that went to neither the server nor the load generator.
    fn other(&self) -> f64 {
        (self.machine_busy - self.server - self.client).max(0.0)
    }
}

/// What one phase of load measured.
#[derive(Debug, Default)]
struct Phase {
    syncs: usize,
    errors: usize,
    /// From the first sync sent to the last one answered.
    wall: Duration,
    latencies: Vec<Duration>,
    cpu: Cpu,
    /// The server's peak resident size during the phase, KiB.
    peak: u64,
    /// Payload bytes per sync, client to server and back (no HTTP or WebSocket framing).
    bytes_up: usize,
    bytes_down: usize,
    messages: usize,
}

impl Phase {
    fn per_cpu_second(&self) -> f64 {
        self.syncs as f64 / self.cpu.server.max(1e-9)
    }

    fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        quantile(&sorted, q)
    }

    fn print(&self, name: &str, what: &str) {
        let cpu = self.cpu;
        println!(
            "{name}, {what}: {} syncs ({} errors) in {:.1} s = {:.0} syncs/s; server CPU {:.2} s \
             = {:.0} syncs per server CPU-second ({:.2} ms per sync); load generator CPU {:.2} \
             s; anything else on the machine {:.2} s of {:.1} s; p50 {:.1} ms, p99 {:.1} ms; \
             server peak {}; per sync {:.0} B up, {:.0} B down, {:.2} messages",
            self.syncs,
            self.errors,
            self.wall.as_secs_f64(),
            self.syncs as f64 / self.wall.as_secs_f64().max(1e-9),
            cpu.server,
            self.per_cpu_second(),
            cpu.server * 1e3 / self.syncs.max(1) as f64,
            cpu.client,
            cpu.other(),
            cpu.machine_total,
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            mib(self.peak),
            self.bytes_up as f64 / self.syncs.max(1) as f64,
            self.bytes_down as f64 / self.syncs.max(1) as f64,
            self.messages as f64 / self.syncs.max(1) as f64,
        );
    }
}

/// Everything measured of one server.
#[derive(Debug, Default)]
struct Measured {
    name: String,
    /// Resident size once started, before any client; after every client synced once.
    rss_started: u64,
    rss_setup: u64,
    peak_setup: u64,
    closed: Phase,
    paced: Phase,
    rss_end: u64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

// ---- reguide -------------------------------------------------------------------------------

/// A device replaying its changes against reguide, as the app syncs: the change goes into its
/// document, the request carries what the server has not seen.
struct Replay {
    url: String,
    token: String,
    actor: ActorId,
    doc: Option<Automerge>,
    server_heads: Vec<ChangeHash>,
    changes: Vec<(Vec<u8>, ChangeHash)>,
}

/// Sends a sync request; the decoded answer and the body sizes.
async fn post_sync(
    client: &reqwest::Client,
    replay: &Replay,
    body: Vec<u8>,
) -> Option<(SyncResponse, usize)> {
    let resp = client
        .post(&replay.url)
        .bearer_auth(&replay.token)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(body)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let bytes = resp.bytes().await.ok()?;
    Some((SyncResponse::decode(&bytes).ok()?, bytes.len()))
}

/// Runs changes `range` of every device, each `every` apart when paced.
async fn replay_phase(
    replays: Vec<Replay>,
    range: std::ops::Range<usize>,
    every: Option<Duration>,
) -> (Vec<Replay>, Phase) {
    let client = reqwest::Client::new();
    let count = replays.len();
    let started = Instant::now();
    let tasks = replays.into_iter().enumerate().map(|(i, mut replay)| {
        let (client, range) = (client.clone(), range.clone());
        tokio::spawn(async move {
            let mut phase = Phase::default();
            let mut next = started + every.unwrap_or_default().mul_f64(i as f64 / count as f64);
            for k in range {
                if let Some(every) = every {
                    tokio::time::sleep_until(next.into()).await;
                    next += every;
                }
                let (bytes, hash) = replay.changes[k].clone();
                let sent = Instant::now();
                let doc = replay.doc.as_mut().expect("a document");
                doc.load_incremental(&bytes).expect("the change loads");
                let body = reguide_tests::sync::request_body(Some(doc), &replay.server_heads);
                let up = body.len();
                match post_sync(&client, &replay, body).await {
                    Some((response, down)) if response.heads.contains(&hash) => {
                        replay.server_heads =
                            reguide_tests::sync::absorb(&mut replay.doc, &replay.actor, &response);
                        phase.latencies.push(sent.elapsed());
                        phase.bytes_up += up;
                        phase.bytes_down += down;
                        phase.messages += 2;
                    }
                    _ => phase.errors += 1,
                }
            }
            (replay, phase)
        })
    });
    let (mut replays, mut total) = (Vec::new(), Phase::default());
    for result in join_all(tasks).await {
        let (replay, phase) = result.expect("a device's task");
        replays.push(replay);
        total.latencies.extend(phase.latencies);
        total.errors += phase.errors;
        total.bytes_up += phase.bytes_up;
        total.bytes_down += phase.bytes_down;
        total.messages += phase.messages;
    }
    total.wall = started.elapsed();
    total.syncs = total.latencies.len();
    (replays, total)
}

async fn reguide(app: &TestApp, devices: Vec<Device>, closed: usize) -> Measured {
    let node = app.spawn_process_instance().await;
    let pid = node.pid().expect("a process instance");
    let me = std::process::id();
    let mut measured = Measured {
        name: "reguide".into(),
        rss_started: memory_kib(pid, "VmRSS:"),
        ..Measured::default()
    };
    // Setup: each device syncs once with nothing new (the server holds the documents already).
    let client = reqwest::Client::new();
    let mut replays = Vec::new();
    for device in devices {
        let doc = Automerge::load(&device.doc)
            .expect("the document loads")
            .with_actor(device.actor.clone());
        let mut replay = Replay {
            url: node.url(&sync_path(device.family)),
            token: device.token,
            actor: device.actor,
            server_heads: doc.get_heads(),
            doc: Some(doc),
            changes: device.changes,
        };
        let body = reguide_tests::sync::request_body(replay.doc.as_ref(), &replay.server_heads);
        let (response, _) = post_sync(&client, &replay, body)
            .await
            .expect("a setup sync");
        replay.server_heads =
            reguide_tests::sync::absorb(&mut replay.doc, &replay.actor, &response);
        replays.push(replay);
    }
    measured.rss_setup = memory_kib(pid, "VmRSS:");
    measured.peak_setup = memory_kib(pid, "VmHWM:");
    let total = replays.first().map_or(0, |r| r.changes.len());

    for (paced, range) in [(false, 0..closed), (true, closed..total)] {
        let reset = reset_peak(Some(pid));
        let meter = Meter::start(pid, me);
        let (back, mut phase) = replay_phase(replays, range, paced.then_some(PACED_EVERY)).await;
        replays = back;
        tokio::time::sleep(TAIL).await;
        phase.cpu = meter.stop();
        phase.peak = if reset { memory_kib(pid, "VmHWM:") } else { 0 };
        if paced {
            measured.paced = phase;
        } else {
            measured.closed = phase;
        }
    }
    measured.rss_end = memory_kib(pid, "VmRSS:");
    measured
}

// ---- The automerge-repo sync server --------------------------------------------------------

/// Installs the pinned npm packages of `folder` when they are not there.
fn install_node_packages(folder: &Path) {
    if folder
        .join("node_modules/@automerge/automerge-repo")
        .exists()
    {
        return;
    }
    // `npm ci` would be the command, but it refuses a lock file without the optional
    // platform binaries of cbor-extract, which some registries do not serve; `npm install`
    // installs the locked versions all the same.
    println!("installing the npm packages into {}", folder.display());
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(folder)
        .status()
        .expect("npm (Node.js 20) must be installed");
    assert!(status.success(), "npm install failed: {status}");
}

/// A Node.js server to compare with: its entry script and the folder of its packages.
struct NodeServer {
    entry: PathBuf,
    packages: PathBuf,
    /// Name and version of the server itself, when it is a package of its own.
    package: Option<&'static str>,
}

impl NodeServer {
    /// `@automerge/automerge-repo-sync-server` as published, with the versions of
    /// automerge-repo and automerge npm resolves for it.
    fn published(versus: &Path) -> Self {
        Self {
            entry: versus.join("node_modules/@automerge/automerge-repo-sync-server/src/index.js"),
            packages: versus.to_path_buf(),
            package: Some("@automerge/automerge-repo-sync-server"),
        }
    }

    /// The same server's code on the latest automerge-repo and automerge (`versus/latest`).
    fn latest(versus: &Path) -> Self {
        let folder = versus.join("latest");
        Self {
            entry: folder.join("server.mjs"),
            packages: folder,
            package: None,
        }
    }

    fn name(&self) -> String {
        let version = |p: &str| package_version(&self.packages, p);
        let repo = format!(
            "automerge-repo {}, automerge {}",
            version("@automerge/automerge-repo"),
            version("@automerge/automerge")
        );
        match self.package {
            Some(package) => format!("sync server {} ({repo})", version(package)),
            None => format!("its code on {repo}"),
        }
    }
}

fn package_version(versus: &Path, package: &str) -> String {
    let path = versus
        .join("node_modules")
        .join(package)
        .join("package.json");
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// A line-based conversation with the driver.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl Driver {
    /// Waits for the driver's `<tag> {json}` line.
    fn expect(&mut self, tag: &str) -> Value {
        let line = self
            .lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("the driver stopped before `{tag}`"));
        let json = line
            .strip_prefix(tag)
            .unwrap_or_else(|| panic!("expected `{tag}` from the driver, got {line:?}"));
        serde_json::from_str(json.trim()).expect("the driver's figures")
    }

    fn say(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("write to the driver");
        self.stdin.flush().expect("flush to the driver");
    }
}

/// Kills the child when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `server` and `tests/versus/driver.mjs` against it on the workload.
fn automerge_repo(versus: &Path, server: &NodeServer, workload: &Path) -> Measured {
    let data = tempfile::tempdir().expect("a folder for the server's storage");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let name = server.name();
    let mut server = Command::new("node")
        .arg(&server.entry)
        .current_dir(data.path())
        .env("PORT", port.to_string())
        .env("DATA_DIR", data.path().join("amrg"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node (Node.js 20) must be installed");
    let mut lines = BufReader::new(server.stdout.take().expect("the server's output")).lines();
    let server = Killed(server);
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.starts_with("Listening on port"));
    assert!(listening, "the automerge-repo sync server did not start");
    std::thread::spawn(move || lines.for_each(drop));
    let pid = server.0.id();
    let mut measured = Measured {
        name,
        rss_started: memory_kib(pid, "VmRSS:"),
        ..Measured::default()
    };

    let mut child = Command::new("node")
        .arg(versus.join("driver.mjs"))
        .arg(workload)
        .arg(format!("ws://127.0.0.1:{port}"))
        .current_dir(versus)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the driver");
    let stdin = child.stdin.take().expect("the driver's input");
    let lines = BufReader::new(child.stdout.take().expect("the driver's output")).lines();
    let mut driver = Driver {
        child,
        stdin,
        lines,
    };
    let client = driver.child.id();
    let setup = driver.expect("setup");
    // The server saves documents at most every 100 ms: let it settle.
    std::thread::sleep(TAIL);
    measured.rss_setup = memory_kib(pid, "VmRSS:");
    measured.peak_setup = memory_kib(pid, "VmHWM:");
    println!(
        "{}: setup (a connection per family, each document given to the server) in {:.1} s",
        measured.name,
        setup["wall_ms"].as_f64().unwrap_or(0.0) / 1e3
    );

    for phase_name in ["closed", "paced"] {
        let reset = reset_peak(Some(pid));
        let meter = Meter::start(pid, client);
        driver.say(phase_name);
        let figures = driver.expect(phase_name);
        std::thread::sleep(TAIL);
        let count = |key: &str| figures[key].as_u64().unwrap_or(0) as usize;
        let phase = Phase {
            syncs: count("syncs"),
            errors: 0,
            wall: Duration::from_secs_f64(figures["wall_ms"].as_f64().unwrap_or(0.0) / 1e3),
            latencies: figures["latencies_us"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_u64)
                        .map(Duration::from_micros)
                        .collect()
                })
                .unwrap_or_default(),
            cpu: meter.stop(),
            peak: if reset { memory_kib(pid, "VmHWM:") } else { 0 },
            bytes_up: count("bytes_sent"),
            bytes_down: count("bytes_received"),
            messages: count("messages_sent") + count("messages_received"),
        };
        if phase_name == "closed" {
            measured.closed = phase;
        } else {
            measured.paced = phase;
        }
    }
    measured.rss_end = memory_kib(pid, "VmRSS:");
    driver.say("exit");
    let _ = driver.child.wait();
    drop(server);
    measured
}

// ---- The report ----------------------------------------------------------------------------

fn report(ours: &Measured, theirs: &[Measured]) {
    println!();
    for m in std::iter::once(ours).chain(theirs) {
        println!(
            "{}: resident {} once started, {} after setup (peak {} so far), {} at the end",
            m.name,
            mib(m.rss_started),
            mib(m.rss_setup),
            mib(m.peak_setup),
            mib(m.rss_end)
        );
        m.closed.print(&m.name, "closed loop");
        m.paced.print(&m.name, "paced");
    }
    println!();
    for (i, m) in theirs.iter().enumerate() {
        println!("automerge-repo ({}) = {}", i + 1, m.name);
    }
    let mut head = String::from("| measure | reguide |");
    let mut rule = String::from("|---|---|");
    for i in 1..=theirs.len() {
        head.push_str(&format!(" automerge-repo ({i}) | reguide ÷ ({i}) |"));
        rule.push_str("---|---|");
    }
    println!("{head}\n{rule}");
    let row = |what: &str, figure: &dyn Fn(&Measured) -> f64, unit: &str, digits: usize| {
        let a = figure(ours);
        let mut line = format!("| {what} | {a:.digits$}{unit} |");
        for m in theirs {
            let b = figure(m);
            // A ratio of near-nothing (the machine's idle CPU) says nothing.
            let ratio = if b < 0.05 {
                "–".to_owned()
            } else {
                format!("{:.2}", a / b)
            };
            line.push_str(&format!(" {b:.digits$}{unit} | {ratio} |"));
        }
        println!("{line}");
    };
    let peak = |m: &Measured| m.peak_setup.max(m.closed.peak).max(m.paced.peak) as f64 / 1024.0;
    for (label, phase) in [
        (
            "closed loop",
            (|m: &Measured| &m.closed) as fn(&Measured) -> &Phase,
        ),
        ("paced", |m: &Measured| &m.paced),
    ] {
        row(
            &format!("{label}: syncs"),
            &|m| phase(m).syncs as f64,
            "",
            0,
        );
        row(
            &format!("{label}: server CPU"),
            &|m| phase(m).cpu.server,
            " s",
            2,
        );
        row(
            &format!("{label}: **syncs per server CPU-second**"),
            &|m| phase(m).per_cpu_second(),
            "",
            0,
        );
        row(
            &format!("{label}: syncs per second"),
            &|m| phase(m).syncs as f64 / phase(m).wall.as_secs_f64().max(1e-9),
            "",
            0,
        );
        row(
            &format!("{label}: p50"),
            &|m| ms(phase(m).quantile(0.5)),
            " ms",
            1,
        );
        row(
            &format!("{label}: p99"),
            &|m| ms(phase(m).quantile(0.99)),
            " ms",
            1,
        );
        row(
            &format!("{label}: server peak resident"),
            &|m| phase(m).peak as f64 / 1024.0,
            " MiB",
            1,
        );
        row(
            &format!("{label}: load generator CPU"),
            &|m| phase(m).cpu.client,
            " s",
            2,
        );
        row(
            &format!("{label}: CPU of anything else on the machine"),
            &|m| phase(m).cpu.other(),
            " s",
            2,
        );
    }
    row(
        "resident once started",
        &|m| m.rss_started as f64 / 1024.0,
        " MiB",
        1,
    );
    row(
        "resident after setup",
        &|m| m.rss_setup as f64 / 1024.0,
        " MiB",
        1,
    );
    row(
        "resident at the end",
        &|m| m.rss_end as f64 / 1024.0,
        " MiB",
        1,
    );
    row("**peak resident, whole run**", &peak, " MiB", 1);
}
