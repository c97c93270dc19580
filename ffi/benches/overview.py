"""Times the family overview read through the generated Python bindings (ctypes over the
C ABI, the same calls a Kotlin or Swift shell makes). Run by ffi/benches/overview.rs:
    python3 overview.py <data folder>
Prints one JSON line of medians in microseconds."""

import json
import os
import statistics
import sys
import time

import reguide_ffi as r

companion = r.Companion(sys.argv[1], "http://127.0.0.1:9", None)
companion.overview()


def timed(call, runs):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


unchanged = timed(companion.overview, 1000)
after_change = []
for n in range(50):
    companion.add_note("step-0", f"through the binding {n}")
    start = time.perf_counter()
    companion.overview()
    after_change.append(time.perf_counter() - start)
write = timed(lambda: companion.add_note("step-1", "a note"), 100)
print(json.dumps({
    "overview_unchanged_us": unchanged,
    "overview_after_change_us": statistics.median(after_change) * 1e6,
    "add_note_us": write,
}))
# See tests/python/companion.py: no interpreter finalization while library threads may return.
sys.stdout.flush()
os._exit(0)
