//! A real SMTP server on loopback for email tests: Python's aiosmtpd (`tests/mail/smtp_sink.py`),
//! and the messages it received read back as a mail client would (`tests/mail/inspect_mail.py`:
//! MIME with Python's email package, the calendar part with the icalendar package).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/mail/smtp_sink.py");
const INSPECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/mail/inspect_mail.py");

/// A message as received.
#[derive(Clone, Debug, Deserialize)]
pub struct Mail {
    pub file: String,
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: String,
    pub content_type: String,
    pub text: String,
    pub html: String,
    pub html_lang: String,
    pub html_dir: String,
    pub calendar: Option<Calendar>,
}

/// The calendar entry a message carries, as the icalendar package reads it.
#[derive(Clone, Debug, Deserialize)]
pub struct Calendar {
    pub method: String,
    pub events: usize,
    pub uid: String,
    pub sequence: i64,
    pub status: String,
    pub summary: String,
    pub location: String,
    pub tzid: String,
    pub start_local: String,
    /// The start as an instant, by the VTIMEZONE attached to the entry.
    pub start_utc: String,
    pub end_local: String,
    pub attendee: String,
    pub organizer: String,
    pub content_type: String,
    pub filename: Option<String>,
}

/// An SMTP server on a loopback port, writing what it receives to a folder.
#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    folder: tempfile::TempDir,
    reject: Vec<String>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SmtpSink {
    /// Starts one on a free port.
    pub fn start() -> Self {
        Self::start_rejecting(&[])
    }

    /// Starts one that refuses these recipients for good (550).
    pub fn start_rejecting(reject: &[&str]) -> Self {
        let mut sink = Self::not_started();
        sink.reject = reject.iter().map(|r| (*r).to_owned()).collect();
        sink.resume();
        sink
    }

    /// A port and folder with nothing listening yet: SMTP is down until [`SmtpSink::resume`].
    pub fn not_started() -> Self {
        Self {
            port: free_port(),
            folder: tempfile::tempdir().expect("a mail folder"),
            reject: Vec::new(),
            child: None,
        }
    }

    /// Accepts every recipient from the next [`SmtpSink::resume`] on.
    pub fn clear_rejections(&mut self) {
        self.reject.clear();
    }

    /// The URL the server is configured with.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts listening (again) on the same port and folder.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut command = Command::new("python3");
        command
            .arg(SINK)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.folder.path());
        for r in &self.reject {
            command.arg("--reject").arg(r);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (aiosmtpd is installed by .ci/run)");
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("the SMTP sink says it is ready");
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        self.child = Some(child);
    }

    /// Kills it: SMTP is down (the port refuses connections).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn folder(&self) -> PathBuf {
        self.folder.path().to_path_buf()
    }

    /// Everything received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        read_folder(self.folder.path())
    }

    /// Waits until at least `count` messages arrived (up to 30 s), then returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        wait_for_files(self.folder.path(), count).await;
        self.messages()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.kill();
    }
}

fn eml_count(folder: &std::path::Path) -> usize {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

/// Waits until `folder` holds at least `count` `.eml` files (up to 30 s).
pub async fn wait_for_files(folder: &std::path::Path, count: usize) {
    let started = Instant::now();
    while eml_count(folder) < count {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "expected {count} messages, {} arrived",
            eml_count(folder)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `.eml` files of a folder, read as a mail client would.
pub fn read_folder(folder: &std::path::Path) -> Vec<Mail> {
    let output = Command::new("python3")
        .arg(INSPECT)
        .arg(folder)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "reading the messages failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the inspector prints JSON")
}
