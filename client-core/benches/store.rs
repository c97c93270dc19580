//! The phone's store: cold open and per-operation durability, printed.
//!
//! - cold open of a family document with 1,000 changes (target: under 25 ms) and with 10,000
//!   changes (target: within 1.2× of a bare `Automerge::load` of the same bytes), and the
//!   memory the open document takes at 10,000 changes (target: under 20 MB);
//! - one user operation (a note on a step, through the policy-checked client API), durable on
//!   disk before it returns (target: under 5 ms), on a document of 1,000 and 10,000 changes;
//! - reading the overview (the first screen), the family data and the whole document.
//!
//! Run with `cargo bench -p reguide-client-core --bench store`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use automerge::Automerge;
use reguide_client_core::protocol::MemberId;
use reguide_client_core::protocol::doc::write;
use reguide_client_core::{Client, Store, fixture};

const STEP: &str = "step-0";

/// Set in a child process of the bench: open the store in this folder (or nothing, for
/// `-`), print the process's peak resident memory in KiB and the heap the open took, exit.
const CHILD_ENV: &str = "REGUIDE_BENCH_OPEN";

/// Counts the heap: bytes live now and the most live at once since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// Measuring the heap takes an allocator, whose trait is unsafe; this one only forwards.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let opened: Option<Box<dyn std::any::Any>> = match dir.strip_prefix("bare:") {
            _ if dir == "-" => None,
            Some(file) => {
                let bytes = std::fs::read(file).expect("bytes");
                Some(Box::new(Automerge::load(&bytes).expect("load")))
            }
            None => Some(Box::new(Store::open(&dir, None).expect("open"))),
        };
        let live = LIVE.load(Ordering::Relaxed) - base;
        let peak = PEAK.load(Ordering::Relaxed) - base;
        println!("{} {live} {peak}", status_kib("VmHWM:"));
        drop(opened);
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
    let mut fixture = fixture::family_document(changes).expect("document");
    let bytes = fixture.doc.save();
    profile(&mut fixture.doc, fixture.member);
    fixture.store(dir).expect("store");
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
    // A fresh process that opens the store, and one that does not.
    let child = |arg: &std::ffi::OsStr| -> Vec<u64> {
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .env(CHILD_ENV, arg)
            .output()
            .expect("child");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect()
    };
    let saved = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(saved.path(), bytes).expect("write");
    let mut bare_arg = std::ffi::OsString::from("bare:");
    bare_arg.push(saved.path());
    let (with, bare, without) = (
        child(dir.as_os_str()),
        child(&bare_arg),
        child(std::ffi::OsStr::new("-")),
    );
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "memory: the open document holds {:.1} MB of heap (bare load: {:.1} MB); the open \
         peaks at {:.1} MB of heap (bare load: {:.1} MB); peak resident {:.1} MB more than a \
         process that opens nothing",
        mb(with[1]),
        mb(bare[1]),
        mb(with[2]),
        mb(bare[2]),
        mb(with[0].saturating_sub(without[0]) * 1024),
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
    // Reads: the overview a shell shows on its first screen, right after a change (the family
    // data is read again from the document) and when nothing changed since the last read.
    let mut after_change = Vec::new();
    for n in 0..50 {
        client.add_note(STEP, &format!("read {n}")).expect("note");
        let start = Instant::now();
        client.overview().expect("overview");
        after_change.push(start.elapsed());
    }
    let mut unchanged = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        client.overview().expect("overview");
        unchanged.push(start.elapsed());
    }
    let start = Instant::now();
    client.family().expect("doc");
    let whole = start.elapsed();
    println!(
        "the overview: after a change {} | unchanged since the last read {:.1} µs (medians); \
         the whole document, typed, with every note: {}",
        ms(median(after_change)),
        median(unchanged).as_secs_f64() * 1e6,
        ms(whole)
    );
}

/// Where one policy-checked write spends its time: the steps of `write::checked`.
fn profile(doc: &mut Automerge, member: MemberId) {
    use reguide_client_core::protocol::doc::{Writer, check_patches_since};
    let before = doc.get_heads();
    let t = Instant::now();
    let mut tx = doc
        .transaction_log_patches(automerge::PatchLog::active())
        .expect("tx");
    write::add_note(&mut tx, member, STEP, "x", 1).expect("note");
    let (_, mut log) = tx.commit_with(automerge::transaction::CommitOptions::default());
    let edit = t.elapsed();
    let t = Instant::now();
    let patches = doc.make_patches(&mut log);
    let patch = t.elapsed();
    let t = Instant::now();
    check_patches_since(
        Writer::FamilyDevice { member_id: member },
        doc,
        &before,
        &patches,
    )
    .expect("ok");
    let check = t.elapsed();
    let t = Instant::now();
    let bytes = doc.save_after(&before);
    let save = t.elapsed();
    println!(
        "one write, step by step: edit {} | patches {} | policy check {} | save_after {} \
         ({} bytes)",
        ms(edit),
        ms(patch),
        ms(check),
        ms(save),
        bytes.len()
    );
}
