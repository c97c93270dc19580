//! Outbox drain rate against lettre sending the same messages in a bare loop, to the same
//! SMTP server on loopback, in the same run. Prints its figures.
//!
//!     cargo bench -p reguide-server --bench mail
//!
//! The SMTP server is a minimal one in this process (it answers every command, counts
//! messages and acknowledges TCP segments at once), so that the figures measure the sending
//! side. The outbox runs the server's own
//! delivery code (`mail::worker::drain_once`: take a batch in a transaction, send it over
//! pooled connections, record the outcome) on SQLite and, when `TEST_DATABASE_URL` reaches a
//! PostgreSQL server, on PostgreSQL. The bare loop sends the same, already built, messages one
//! after another over lettre's pooled transport.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use diesel::prelude::*;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reguide_protocol::Language;
use reguide_server::config::Config;
use reguide_server::db::{self, DbConn};
use reguide_server::mail::worker::{self, Claimed, Mailer};
use reguide_server::mail::{Kind, Outgoing, Recipient, enqueue, templates};
use reguide_server::state::AppState;
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const MESSAGES: usize = 2000;
const ROUNDS: usize = 3;

/// A minimal SMTP server: accepts everything, counts messages.
async fn sink(count: Arc<AtomicUsize>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut line = String::new();
                let mut in_data = false;
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    // Acknowledge at once: lettre writes a message's end (`.`) apart from its
                    // body, and a delayed acknowledgement would hold that write back ~40 ms
                    // (Nagle), measuring the kernel's timers instead of the senders.
                    let _ = socket2::SockRef::from(lines.get_ref().as_ref()).set_tcp_quickack(true);
                    if in_data {
                        if line == ".\r\n" {
                            in_data = false;
                            count.fetch_add(1, Ordering::Relaxed);
                            let _ = write.write_all(b"250 2.0.0 queued\r\n").await;
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            in_data = true;
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 OK\r\n",
                    };
                    if write.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn recipients() -> Vec<Recipient> {
    vec![Recipient {
        key: "member:bench".into(),
        address: "family@example.org".into(),
        name: "Fatima Benali".into(),
        language: Language::Fr,
    }]
}

fn message(i: usize) -> Outgoing {
    let values: templates::Values = [
        ("code", format!("K7QX-{i:04}")),
        ("expires", "vendredi 4 décembre 2026 09:15".to_owned()),
    ]
    .into_iter()
    .collect();
    Outgoing {
        kind: Kind::EnrolmentCode,
        topic: format!("bench:{i}"),
        values,
        calendar: None,
        send_after: None,
    }
}

fn config(port: u16, database_url: String, dir: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        database_url: Some(SecretString::from(database_url)),
        db_pool_size: 4,
        ..Config::default()
    };
    config.mail.smtp_url = Some(SecretString::from(format!("smtp://127.0.0.1:{port}")));
    config
}

/// Messages per second through the outbox, from enqueued to recorded as sent.
async fn outbox_rate(config: Config) -> f64 {
    let pool = db::connect(&config.database_url(), config.db_pool_size).expect("connect");
    {
        let mut conn = pool.get().expect("connection");
        db::run_migrations(&mut conn).expect("migrations");
        conn.write(|conn: &mut DbConn| {
            diesel::delete(reguide_server::db::schema::outbox::table).execute(conn)?;
            for i in 0..MESSAGES {
                enqueue(conn, &recipients(), &message(i))?;
            }
            Ok::<_, reguide_server::error::ApiError>(())
        })
        .expect("enqueue");
    }
    let mailer = Arc::new(Mailer::from_config(&config).expect("mailer"));
    let state = AppState::new(pool, config);
    let started = Instant::now();
    let mut sent = 0;
    while sent < MESSAGES {
        let taken = worker::drain_once(&state, &mailer).await.expect("drain");
        assert!(
            taken > 0,
            "the outbox ran dry before every message was sent"
        );
        sent += taken;
    }
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

/// Messages per second for lettre alone, the same messages built beforehand.
async fn bare_rate(config: &Config) -> f64 {
    let mailer = Mailer::from_config(config).expect("mailer");
    let now = chrono::Utc::now();
    let messages: Vec<lettre::Message> = (0..MESSAGES)
        .map(|i| {
            let r = templates::render(Kind::EnrolmentCode, Language::Fr, &{
                let mut v = message(i).values;
                v.insert("name", "Fatima Benali".into());
                v
            });
            let claimed = Claimed {
                id: uuid::Uuid::new_v4().to_string(),
                kind: "enrolment_code".into(),
                to_address: "family@example.org".into(),
                to_name: "Fatima Benali".into(),
                subject: r.subject,
                body_text: r.text,
                body_html: r.html,
                calendar: None,
                attempts: 1,
            };
            mailer.build(&claimed, now).expect("build")
        })
        .collect();
    let url = config.mail.smtp_url.as_ref().expect("an SMTP URL");
    let transport =
        AsyncSmtpTransport::<Tokio1Executor>::from_url(secrecy::ExposeSecret::expose_secret(url))
            .expect("url")
            .build();
    let started = Instant::now();
    for m in messages {
        transport.send(m).await.expect("sent");
    }
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

fn postgres_url() -> Option<String> {
    let base = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = PgConnection::establish(&base).ok()?;
    diesel::sql_query("DROP DATABASE IF EXISTS reguide_bench_mail")
        .execute(&mut admin)
        .ok()?;
    diesel::sql_query("CREATE DATABASE reguide_bench_mail")
        .execute(&mut admin)
        .ok()?;
    let (prefix, _) = base.rsplit_once('/')?;
    Some(format!("{prefix}/reguide_bench_mail"))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let count = Arc::new(AtomicUsize::new(0));
    let port = sink(Arc::clone(&count)).await;
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = config(
        port,
        format!("sqlite://{}", dir.path().join("bench.db").display()),
        dir.path(),
    );
    let postgres = postgres_url().map(|url| config(port, url, dir.path()));

    println!("Outbox drain rate, {MESSAGES} messages, median of {ROUNDS} rounds");
    let mut backends = vec![("SQLite", sqlite)];
    if let Some(pg) = postgres {
        backends.push(("PostgreSQL", pg));
    }
    for (name, config) in backends {
        let mut serial = config.clone();
        serial.mail.concurrency = 1;
        let (mut bare, mut outbox, mut one) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            bare.push(bare_rate(&config).await);
            outbox.push(outbox_rate(config.clone()).await);
            one.push(outbox_rate(serial.clone()).await);
        }
        let (bare, outbox, one) = (median(bare), median(outbox), median(one));
        println!(
            "{name:>10}: bare lettre loop {bare:>6.0} msg/s | outbox (4 at once, the default) \
             {outbox:>6.0} msg/s, ratio {:.2} | outbox one at a time {one:>6.0} msg/s, ratio {:.2} \
             (target >= 0.8)",
            outbox / bare,
            one / bare
        );
    }
    println!(
        "messages received by the SMTP server: {}",
        count.load(Ordering::Relaxed)
    );
}
