//! The machine's own figures for the benchmarks: CPU seconds and resident memory of a process
//! (from `/proc`), where the CPU time of a window went, and latency quantiles.

use std::time::Duration;

/// A field of `/proc/<pid>/status` in kB (`VmHWM:`, `VmRSS:`); `None` is this process.
pub fn proc_status(pid: Option<u32>, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(proc_path(pid, "status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// Resets a process's peak resident size (Linux: `5` to `clear_refs`); `None` is this process.
pub fn reset_peak(pid: Option<u32>) -> bool {
    std::fs::write(proc_path(pid, "clear_refs"), "5").is_ok()
}

fn proc_path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

/// User and system CPU seconds in the text of a `/proc/<pid>/stat`, and the command name.
pub fn stat_seconds(stat: &str) -> Option<(&str, f64)> {
    let (head, after) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some((name, ticks as f64 / 100.0))
}

/// CPU seconds a process used so far; `None` is this process.
pub fn cpu_seconds(pid: Option<u32>) -> f64 {
    std::fs::read_to_string(proc_path(pid, "stat"))
        .ok()
        .and_then(|stat| stat_seconds(&stat).map(|(_, s)| s))
        .unwrap_or(0.0)
}

/// CPU seconds used so far: by this process, by the server processes a benchmark started, by
/// PostgreSQL's processes, and by the whole machine (busy and available, all cores).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSample {
    pub process: f64,
    pub servers: f64,
    pub postgres: f64,
    pub busy: f64,
    pub total: f64,
}

/// Samples the CPU seconds of this process, of `servers` and of PostgreSQL.
pub fn cpu_sample(servers: &[u32]) -> CpuSample {
    let mut sample = CpuSample {
        process: cpu_seconds(None),
        servers: servers.iter().map(|&pid| cpu_seconds(Some(pid))).sum(),
        ..CpuSample::default()
    };
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat"))
            && let Some(("postgres", seconds)) = stat_seconds(&stat)
        {
            sample.postgres += seconds;
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/stat")
        && let Some(line) = stat.lines().next().and_then(|l| l.strip_prefix("cpu "))
    {
        let v: Vec<f64> = line
            .split_whitespace()
            .take(8)
            .filter_map(|f| f.parse::<f64>().ok())
            .collect();
        let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
        let all: f64 = v.iter().sum();
        sample.busy = (all - idle) / 100.0;
        sample.total = all / 100.0;
    }
    sample
}

/// Where the CPU time between two samples went.
#[derive(Clone, Copy, Debug)]
pub struct CpuUse {
    pub process: f64,
    pub servers: f64,
    pub postgres: f64,
    pub other: f64,
    pub available: f64,
}

impl CpuUse {
    pub fn between(a: CpuSample, b: CpuSample) -> Self {
        let (process, servers, postgres) = (
            b.process - a.process,
            b.servers - a.servers,
            b.postgres - a.postgres,
        );
        Self {
            process,
            servers,
            postgres,
            other: (b.busy - a.busy - process - servers - postgres).max(0.0),
            available: b.total - a.total,
        }
    }

    pub fn describe(&self) -> String {
        let servers = if self.servers > 0.0 {
            format!("server processes {:.2} s, ", self.servers)
        } else {
            String::new()
        };
        format!(
            "this process {:.2} s, {servers}PostgreSQL {:.2} s, anything else on the machine \
             {:.2} s, of {:.2} s",
            self.process, self.postgres, self.other, self.available
        )
    }
}

pub fn mib(kb: Option<u64>) -> String {
    kb.map_or("?".into(), |kb| format!("{:.0} MiB", kb as f64 / 1024.0))
}

/// The `q` quantile (0 to 1) of sorted latencies; zero when there are none.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
