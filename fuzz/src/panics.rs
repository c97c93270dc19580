//! Panics the project catches on purpose.
//!
//! libFuzzer's panic hook aborts the process on any panic, before unwinding: every panic is a
//! crash. The sync endpoint, however, loads a device's changes under `catch_unwind` (Automerge
//! panics on some crafted inputs) and answers `400 malformed_changes`. [`caught`] runs a closure
//! the way the server does: a panic inside it unwinds to the caller as an `Err`, and its
//! location is printed once per run so that long runs still show what Automerge panicked on.
//!
//! [`in_automerge`] is narrower: it lets only panics raised inside Automerge's own crates
//! through, so that a known Automerge bug does not stop a run while a panic of the project's
//! code still does.
//!
//! Set `REGUIDE_FUZZ_STRICT=1` to treat those panics as crashes too (to hunt Automerge bugs).

use std::cell::Cell;
use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};

/// What a panic inside [`caught`] or [`in_automerge`] may be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Catching {
    Nothing,
    /// Any panic (the server's `catch_unwind` around loading changes).
    Any,
    /// Only a panic inside Automerge's own code (its crates `automerge` and `hexane`).
    Automerge,
}

thread_local! {
    static CATCHING: Cell<Catching> = const { Cell::new(Catching::Nothing) };
}

fn inside_automerge(file: &str) -> bool {
    file.contains("/automerge-") || file.contains("/hexane-")
}

static HOOK: Once = Once::new();
static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn strict() -> bool {
    std::env::var_os("REGUIDE_FUZZ_STRICT").is_some_and(|v| v != "0")
}

fn install() {
    HOOK.call_once(|| {
        if strict() {
            return;
        }
        // Installed on the first input, after libFuzzer's own hook, which it wraps.
        let fuzzer_hook = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let catching = CATCHING.with(Cell::get);
            let file = info.location().map_or("", |l| l.file());
            if catching == Catching::Any || (catching == Catching::Automerge && inside_automerge(file)) {
                let place = info
                    .location()
                    .map_or_else(|| "unknown".to_owned(), |l| l.to_string());
                let new = SEEN
                    .lock()
                    .map(|mut seen| seen.insert(place.clone()))
                    .unwrap_or(false);
                if new {
                    eprintln!("reguide-fuzz: caught a panic as the server would, at {place}");
                }
                return;
            }
            fuzzer_hook(info);
        }));
    });
}

fn catching<T>(mode: Catching, f: impl FnOnce() -> T) -> Result<T, ()> {
    install();
    let outer = CATCHING.with(|c| c.replace(mode));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(outer));
    result.map_err(|_| ())
}

/// Runs `f`, turning a panic into `Err(())` as the server's `catch_unwind` does.
pub fn caught<T>(f: impl FnOnce() -> T) -> Result<T, ()> {
    catching(Catching::Any, f)
}

/// Runs `f`, turning a panic raised inside Automerge's own code into `Err(())`; a panic
/// anywhere else (the project's code) stays a crash. For checks that call into Automerge on
/// documents holding what a device sent: the server catches those panics too, and they are
/// Automerge's bugs to report, not the project's.
pub fn in_automerge<T>(f: impl FnOnce() -> T) -> Result<T, ()> {
    catching(Catching::Automerge, f)
}
