//! Reading the family overview through the bindings, on family documents of 1,000 and 10,000
//! changes (target: under 1 ms at 10,000): through the Rust façade the scaffolding calls, and
//! through the generated Python bindings (ctypes over the C ABI, as a shell's calls go).
//!
//! Run with `cargo bench -p reguide-ffi --bench overview`.

use std::process::Command;
use std::time::{Duration, Instant};

use reguide_client_core::fixture;
use reguide_ffi::Companion;

#[path = "../tests/support/mod.rs"]
mod support;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let package = support::python_package();
    for changes in [1_000, 10_000] {
        let dir = tempfile::tempdir().expect("dir");
        fixture::family_document(changes)
            .expect("document")
            .store(dir.path())
            .expect("store");
        let folder = dir.path().to_string_lossy().into_owned();
        println!("== family document with {changes} changes");

        let companion =
            Companion::new(folder.clone(), "http://127.0.0.1:9".into(), None).expect("open");
        let mut after_change = Vec::new();
        for n in 0..50 {
            companion
                .add_note(fixture::step_id(0), format!("note {n}"))
                .expect("note");
            let start = Instant::now();
            companion.overview().expect("overview");
            after_change.push(start.elapsed());
        }
        let mut unchanged = Vec::new();
        for _ in 0..1000 {
            let start = Instant::now();
            companion.overview().expect("overview");
            unchanged.push(start.elapsed());
        }
        println!(
            "Rust façade: overview unchanged since the last read {} | right after a change {}",
            us(median(unchanged)),
            us(median(after_change))
        );
        drop(companion);

        let out = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/overview.py"))
            .arg(&folder)
            .env("PYTHONPATH", package.path())
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let figures: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the script's figures");
        println!(
            "Python bindings: overview unchanged {:.1} µs | right after a change {:.1} µs | \
             add_note (durable) {:.1} µs",
            figures["overview_unchanged_us"]
                .as_f64()
                .unwrap_or(f64::NAN),
            figures["overview_after_change_us"]
                .as_f64()
                .unwrap_or(f64::NAN),
            figures["add_note_us"].as_f64().unwrap_or(f64::NAN),
        );
    }
}
