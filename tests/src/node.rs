//! Server instances in processes of their own (the `reguide-node` binary of this crate): what a
//! deployment runs, sharing nothing with the test or with each other but the database, and
//! what a `kill -9` stops dead.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reguide_server::config::Config;
use secrecy::ExposeSecret;

/// A server process; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Node {
    child: std::sync::Mutex<Child>,
    pub port: u16,
}

/// Where cargo put the `reguide-node` binary: beside the test binary's `deps` folder.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REGUIDE_NODE_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let folder = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the target folder");
    folder.join("reguide-node")
}

/// The configuration as the environment a process reads it from: every setting the tests
/// set. The port is always a free one.
fn environment(config: &Config) -> Vec<(String, String)> {
    let mut env = vec![
        ("REGUIDE_HOST".into(), config.host.clone()),
        ("REGUIDE_PORT".into(), "0".into()),
        (
            "REGUIDE_DATA_DIR".into(),
            config.data_dir.display().to_string(),
        ),
        (
            "REGUIDE_DB_POOL_SIZE".into(),
            config.db_pool_size.to_string(),
        ),
        (
            "REGUIDE_DOC_CACHE_SIZE".into(),
            config.doc_cache_size.to_string(),
        ),
        ("REGUIDE_LOG_LEVEL".into(), config.log_level.clone()),
        // The first instance seeded the demo data; the others find it.
        ("REGUIDE_DEMO".into(), "false".into()),
        ("REGUIDE_PUBLIC_URL".into(), config.public_url.clone()),
        (
            "REGUIDE_AUTH__FAILURE_DELAY_MS".into(),
            config.auth.failure_delay_ms.to_string(),
        ),
        (
            "REGUIDE_MAIL__POLL_INTERVAL_MS".into(),
            config.mail.poll_interval_ms.to_string(),
        ),
        (
            "REGUIDE_MAIL__RETRY_BASE_MS".into(),
            config.mail.retry_base_ms.to_string(),
        ),
        (
            "REGUIDE_MAIL__RETRY_MAX_SECONDS".into(),
            config.mail.retry_max_seconds.to_string(),
        ),
        (
            "REGUIDE_MAIL__LEASE_SECONDS".into(),
            config.mail.lease_seconds.to_string(),
        ),
        (
            "REGUIDE_MAIL__WORKER".into(),
            config.mail.worker.to_string(),
        ),
        ("REGUIDE_MAIL__FROM".into(), config.mail.from.clone()),
        (
            "REGUIDE_LIMITS__DEVICE_PER_MINUTE".into(),
            config.limits.device_per_minute.to_string(),
        ),
        (
            "REGUIDE_LIMITS__DEVICE_BURST".into(),
            config.limits.device_burst.to_string(),
        ),
        (
            "REGUIDE_LIMITS__ADDRESS_PER_MINUTE".into(),
            config.limits.address_per_minute.to_string(),
        ),
        (
            "REGUIDE_LIMITS__ADDRESS_BURST".into(),
            config.limits.address_burst.to_string(),
        ),
    ];
    if let Some(url) = &config.database_url {
        env.push(("DATABASE_URL".into(), url.expose_secret().to_owned()));
    }
    if let Some(workers) = config.workers {
        env.push(("REGUIDE_WORKERS".into(), workers.to_string()));
    }
    if let Some(smtp) = &config.mail.smtp_url {
        env.push((
            "REGUIDE_MAIL__SMTP_URL".into(),
            smtp.expose_secret().to_owned(),
        ));
    }
    env
}

impl Node {
    /// Starts a server process with `config` and waits until it serves.
    pub fn start(config: &Config) -> Self {
        let mut command = Command::new(binary());
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(environment(config))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary().display()));
        let stdout = child.stdout.take().expect("the node's output");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the port, then keeps the pipe drained (echoed when TEST_LOG asks for logs).
        std::thread::spawn(move || {
            let echo = std::env::var_os("TEST_LOG").is_some();
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                } else if echo {
                    eprintln!("[node] {line}");
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("the server process did not start ({other:?}, {status:?})");
            }
        };
        Self {
            child: std::sync::Mutex::new(child),
            port,
        }
    }

    /// The process id, for its CPU and memory figures in `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap_or_else(|p| p.into_inner()).id()
    }

    /// `kill -9`: the process stops dead, mid-request, mid-transaction, mid-email.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
