//! The phone's store: cold open and per-operation durability, printed.
//!
//! - cold open of a family document with 1,000 changes (target: under 25 ms) and with 10,000
//!   changes (target: within 1.2× of a bare `Automerge::load` of the same bytes), and the
//!   memory the open document takes at 10,000 changes (target: under 20 MB);
//! - one user operation (a note on a step, through the policy-checked client API), durable on
//!   disk before it returns (target: under 5 ms), on a document of 1,000 and 10,000 changes.
//!
//! Run with `cargo bench -p reguide-client-core --bench store`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use automerge::{ActorId, Automerge};
use reguide_client_core::protocol::doc::write::{self, put_entry};
use reguide_client_core::protocol::doc::{DocMember, Step, StepOwner, keys, new_document};
use reguide_client_core::protocol::sync::server_actor;
use reguide_client_core::protocol::{AccountId, DeviceId, FamilyId, Language, MemberId};
use reguide_client_core::{Client, Session, Store};

/// The changes are notes spread over this many steps (a family follows tens of steps, each
/// with its notes), so that no list grows to thousands of elements.
const STEPS: usize = 100;
const STEP: &str = "step-0";

fn step_id(n: usize) -> String {
    format!("step-{n}")
}

/// Set in a child process of the bench: open the store in this folder (or nothing, for
/// `-`), print the process's peak memory in KiB, exit.
const CHILD_ENV: &str = "REGUIDE_BENCH_OPEN";

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let store = (dir != "-").then(|| Store::open(&dir, None).expect("open"));
        println!("{}", status_kib("VmHWM:"));
        drop(store);
        return;
    }
    for changes in [1_000, 10_000] {
        let dir = tempfile::tempdir().expect("dir");
        let bytes = build(dir.path(), changes);
        println!(
            "== family document with {changes} changes ({} bytes saved)",
            bytes.len()
        );
        cold_open(dir.path(), &bytes);
        operations(dir.path());
    }
}

/// A store holding a document of `changes` changes by the device (notes on a step), compacted
/// as a phone's store would be after them, signed in as the member. Returns the saved bytes.
fn build(dir: &Path, changes: usize) -> Vec<u8> {
    let family = FamilyId::new();
    let member = MemberId::new();
    let mut doc = new_document(family, server_actor()).expect("doc");
    let mut tx = doc.transaction();
    let person = DocMember {
        display_name: "Member".into(),
        relation: "mother".into(),
        language: Language::Fr,
    };
    write::put_member(&mut tx, member, &person).expect("member");
    for n in 0..STEPS {
        let step = Step {
            id: step_id(n),
            title: "Apply for an eID".into(),
            category: "documents".into(),
            owner: StepOwner::Family,
            description: "At the town hall".into(),
            due_date: None,
            checklist: BTreeMap::new(),
            notes: Vec::new(),
            events: Vec::new(),
        };
        put_entry(&mut tx, keys::STEPS, &step_id(n), &step).expect("step");
    }
    tx.commit();

    let actor = ActorId::from(&[9_u8; 16][..]);
    let mut doc = doc.with_actor(actor.clone());
    for n in 0..changes.saturating_sub(2) {
        let mut tx = doc.transaction();
        let step = step_id(n % STEPS);
        write::add_note(&mut tx, member, &step, &format!("note {n}"), n as i64).expect("note");
        tx.commit();
    }
    let bytes = doc.save();
    profile(&mut doc, member);

    let mut store = Store::open(dir, None).expect("store");
    store.replace_document(doc).expect("save");
    let session = Session {
        token: "bench".into(),
        expires_at: chrono::Utc::now() + chrono::Duration::days(30),
        account_id: AccountId::new(),
        device_id: DeviceId::new(),
        actor_id: hex::encode(actor.to_bytes()),
        family_id: family,
        member_id: member,
    };
    store
        .write_record("session", &serde_json::to_vec(&session).expect("json"))
        .expect("session");
    bytes
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn cold_open(dir: &Path, bytes: &[u8]) {
    let runs = 15;
    let mut bare = Vec::new();
    let mut open = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let doc = Automerge::load(bytes).expect("load");
        bare.push(start.elapsed());
        drop(doc);
        let start = Instant::now();
        let store = Store::open(dir, None).expect("open");
        open.push(start.elapsed());
        drop(store);
    }
    let (bare, open) = (median(bare), median(open));
    println!(
        "cold open: store {} | bare Automerge::load {} | ratio {:.2}",
        ms(open),
        ms(bare),
        open.as_secs_f64() / bare.as_secs_f64()
    );
    // Peak memory of a fresh process that opens the store, less that of one that does not.
    let peak = |arg: &std::ffi::OsStr| -> u64 {
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .env(CHILD_ENV, arg)
            .output()
            .expect("child");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("KiB")
    };
    let (with, without) = (peak(dir.as_os_str()), peak(std::ffi::OsStr::new("-")));
    println!(
        "memory of the open document: {:.1} MB (peak of a process that opens it, {:.1} MB, \
         less one that does not)",
        with.saturating_sub(without) as f64 / 1024.0,
        with as f64 / 1024.0
    );
}

fn operations(dir: &Path) {
    let mut client = Client::open(dir, None, "http://127.0.0.1:9").expect("client");
    let mut samples = Vec::new();
    for n in 0..200 {
        let start = Instant::now();
        client
            .add_note(STEP, &format!("operation {n}"))
            .expect("a durable note");
        samples.push(start.elapsed());
    }
    samples.sort();
    let p99 = samples[samples.len() * 99 / 100];
    println!(
        "one operation, durable (200 notes): median {} | p99 {} | max {}",
        ms(samples[samples.len() / 2]),
        ms(p99),
        ms(samples[samples.len() - 1])
    );
}

/// Where one policy-checked write spends its time (the steps of `write::checked`, with the
/// policy checked against a diff, as it was before patches were logged, to compare).
fn profile(doc: &mut Automerge, member: MemberId) {
    use reguide_client_core::protocol::doc::{Writer, check_change};
    let t = Instant::now();
    let mut draft = doc.fork().with_actor(doc.get_actor().clone());
    let fork = t.elapsed();
    let t = Instant::now();
    let mut tx = draft.transaction();
    write::add_note(&mut tx, member, STEP, "x", 1).expect("note");
    tx.commit();
    let edit = t.elapsed();
    let t = Instant::now();
    let patches = draft.diff(&doc.get_heads(), &draft.get_heads());
    let diff = t.elapsed();
    drop(patches);
    let t = Instant::now();
    check_change(Writer::FamilyDevice { member_id: member }, doc, &draft).expect("ok");
    let check = t.elapsed();
    let before = doc.get_heads();
    let t = Instant::now();
    doc.merge(&mut draft).expect("merge");
    let merge = t.elapsed();
    let t = Instant::now();
    let bytes = doc.save_after(&before);
    let save = t.elapsed();
    println!(
        "one write, step by step: fork {} | edit {} | policy check {} (of which Automerge's \
         diff {}) | merge {} | save_after {} ({} bytes)",
        ms(fork),
        ms(edit),
        ms(check),
        ms(diff),
        ms(merge),
        ms(save),
        bytes.len()
    );
}
