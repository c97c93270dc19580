//! Delivery: takes due messages from the outbox, sends them, records what happened.
//!
//! A worker takes up to `batch_size` due messages in one short transaction ([`claim`]): on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so that several server instances never take the
//! same row; on SQLite writers are serialised anyway. Taking a message counts an attempt and
//! moves its `next_attempt_at` to the end of a lease, so a message whose worker died is taken
//! again once the lease ends. The batch is sent over pooled SMTP connections, a few at once,
//! and each outcome written as soon as it is known ([`record`], with the others finished
//! meanwhile): sent, retried after an exponential back-off, or dead after `max_attempts` (or at
//! once on a permanent refusal).
//!
//! A message is sent at least once; the narrow window in which a worker dies after the SMTP
//! server took a message and before [`record`] (a resend after the lease) is covered by the
//! deterministic `Message-ID` (`<outbox id@sender domain>`), by which mail systems drop the
//! duplicate.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::{CalendarSpec, PUBLIC_URL, ics};
use crate::config::Config;
use crate::db::schema::outbox;
use crate::db::{DbConn, to_naive};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const DEAD: &str = "dead";
pub const CANCELLED: &str = "cancelled";

/// A message taken for delivery.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct Claimed {
    pub id: String,
    pub kind: String,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub calendar: Option<String>,
    pub attempts: i32,
}

/// Whether any message is due now.
pub fn any_due(conn: &mut DbConn, now: DateTime<Utc>) -> ApiResult<bool> {
    let due: Option<String> = outbox::table
        .filter(outbox::state.eq(PENDING))
        .filter(outbox::next_attempt_at.le(to_naive(now)))
        .select(outbox::id)
        .first(conn)
        .optional()?;
    Ok(due.is_some())
}

/// Takes up to `limit` due messages for `lease`.
pub fn claim(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> ApiResult<Vec<Claimed>> {
    let due = outbox::table
        .filter(outbox::state.eq(PENDING))
        .filter(outbox::next_attempt_at.le(to_naive(now)))
        .order(outbox::next_attempt_at.asc())
        .limit(limit)
        .select(outbox::id);
    let ids: Vec<String> = match conn {
        DbConn::Postgres(pg) => due.for_update().skip_locked().load(pg)?,
        DbConn::Sqlite(sqlite) => due.load(sqlite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
        .set((
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::next_attempt_at.eq(to_naive(now + lease)),
        ))
        .execute(conn)?;
    Ok(outbox::table
        .filter(outbox::id.eq_any(&ids))
        .order(outbox::next_attempt_at.asc())
        .select(Claimed::as_select())
        .load(conn)?)
}

/// Why a delivery failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The receiving server refused for good (5xx), or the message cannot be built: no retry.
    pub permanent: bool,
    pub reason: String,
}

/// What became of one message.
pub type Outcome = (String, i32, Result<(), Failure>);

/// The wait before attempt `attempts + 1`: `base · 2^(attempts-1)`, capped.
pub fn backoff(attempts: i32, base_ms: u64, max_seconds: u64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let ms = base_ms.saturating_mul(1u64 << exponent);
    let capped = ms.min(max_seconds.saturating_mul(1000));
    Duration::milliseconds(i64::try_from(capped).unwrap_or(i64::MAX / 2))
}

/// Writes what became of a batch. A message cancelled or retried by an administrator in the
/// meantime is left as they left it.
pub fn record(
    conn: &mut DbConn,
    outcomes: &[Outcome],
    now: DateTime<Utc>,
    max_attempts: i32,
    base_ms: u64,
    max_seconds: u64,
) -> ApiResult<()> {
    let sent: Vec<&str> = outcomes
        .iter()
        .filter(|(_, _, r)| r.is_ok())
        .map(|(id, _, _)| id.as_str())
        .collect();
    if !sent.is_empty() {
        diesel::update(
            outbox::table
                .filter(outbox::id.eq_any(&sent))
                .filter(outbox::state.eq(PENDING)),
        )
        .set((
            outbox::state.eq(SENT),
            outbox::sent_at.eq(to_naive(now)),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    }
    for (id, attempts, result) in outcomes {
        let Err(failure) = result else { continue };
        let reason: String = failure.reason.chars().take(500).collect();
        let pending = outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::state.eq(PENDING));
        if failure.permanent || *attempts >= max_attempts {
            diesel::update(pending)
                .set((outbox::state.eq(DEAD), outbox::last_error.eq(reason)))
                .execute(conn)?;
        } else {
            let next = now + backoff(*attempts, base_ms, max_seconds);
            diesel::update(pending)
                .set((
                    outbox::next_attempt_at.eq(to_naive(next)),
                    outbox::last_error.eq(reason),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Where messages go.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Builds and sends messages.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    domain: String,
    public_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field(
                "transport",
                &match &self.transport {
                    Transport::Smtp(_) => "smtp".to_owned(),
                    Transport::Files(dir) => format!("files in {}", dir.display()),
                },
            )
            .finish_non_exhaustive()
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Mailer {
    /// The mailer the configuration asks for; refuses a password sent without TLS to another
    /// host.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail.from is not an address: {e}"))?;
        let domain = from.email.domain().to_owned();
        let transport = match &config.mail.smtp_url {
            Some(url) => {
                let url = url.expose_secret();
                let parsed = reqwest_free_url(url)?;
                if parsed.scheme == "smtp"
                    && !parsed.tls
                    && parsed.has_password
                    && !is_loopback(&parsed.host)
                {
                    anyhow::bail!(
                        "mail.smtp_url sends a password without TLS: use ?tls=required or smtps://"
                    );
                }
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("mail.smtp_url is not usable: {e}"))?
                    .timeout(Some(StdDuration::from_secs(30)))
                    .build();
                Transport::Smtp(transport)
            }
            None => Transport::Files(config.data_dir.join("mail")),
        };
        Ok(Self {
            transport,
            from,
            domain,
            public_url: config.public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Where `.eml` files go, when no SMTP server is configured.
    pub fn folder(&self) -> Option<&std::path::Path> {
        match &self.transport {
            Transport::Files(dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    /// The `Message-ID` of an outbox row.
    pub fn message_id(&self, id: &str) -> String {
        format!("<{id}@{}>", self.domain)
    }

    /// The MIME message of a claimed row: plain text and HTML, and the calendar entry.
    pub fn build(&self, claimed: &Claimed, now: DateTime<Utc>) -> Result<Message, Failure> {
        let permanent = |reason: String| Failure {
            permanent: true,
            reason,
        };
        let to: Mailbox = format!("{} <{}>", quote(&claimed.to_name), claimed.to_address)
            .parse()
            .or_else(|_| claimed.to_address.parse())
            .map_err(|e| permanent(format!("the address is not valid: {e}")))?;
        let text = claimed.body_text.replace(PUBLIC_URL, &self.public_url);
        let html = claimed.body_html.replace(PUBLIC_URL, &self.public_url);
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(text))
            .singlepart(SinglePart::html(html));
        let body = match &claimed.calendar {
            Some(spec) => {
                let spec: CalendarSpec = serde_json::from_str(spec)
                    .map_err(|e| permanent(format!("the calendar entry is damaged: {e}")))?;
                let method = if spec.cancel {
                    ics::Method::Cancel
                } else {
                    ics::Method::Request
                };
                let event = ics::Event {
                    uid: spec.uid,
                    sequence: spec.sequence,
                    method,
                    zone: spec.zone.parse().unwrap_or(chrono_tz::Europe::Brussels),
                    starts: spec.starts,
                    ends: spec.ends,
                    summary: spec.summary,
                    location: spec.location,
                    description: spec.description,
                    organizer: (
                        self.from.email.to_string(),
                        self.from.name.clone().unwrap_or_else(|| "reguide".into()),
                    ),
                    attendee: (claimed.to_address.clone(), claimed.to_name.clone()),
                    stamp: now,
                };
                let content_type = ContentType::parse(&format!(
                    "text/calendar; charset=utf-8; method={}",
                    method.as_str()
                ))
                .map_err(|e| permanent(e.to_string()))?;
                MultiPart::mixed().multipart(alternative).singlepart(
                    Attachment::new("invite.ics".into()).body(ics::build(&event), content_type),
                )
            }
            None => alternative,
        };
        Message::builder()
            .message_id(Some(self.message_id(&claimed.id)))
            .from(self.from.clone())
            .to(to)
            .subject(claimed.subject.clone())
            .date(now.into())
            .multipart(body)
            .map_err(|e| permanent(format!("the message cannot be built: {e}")))
    }

    /// Sends one claimed row.
    pub async fn deliver(&self, claimed: &Claimed) -> Result<(), Failure> {
        let message = self.build(claimed, Utc::now())?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| Failure {
                permanent: e.is_permanent(),
                reason: e.to_string(),
            }),
            Transport::Files(dir) => {
                let dir = dir.clone();
                let name = format!("{}.eml", claimed.id);
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || write_file(&dir, &name, &bytes))
                    .await
                    .map_err(|e| Failure {
                        permanent: false,
                        reason: e.to_string(),
                    })?
                    .map_err(|e| Failure {
                        permanent: false,
                        reason: format!("writing the message file: {e}"),
                    })
            }
        }
    }
}

/// A display name as a quoted string.
fn quote(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    format!("\"{clean}\"")
}

/// Writes `<dir>/<name>` whole or not at all.
fn write_file(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{name}.part"));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, dir.join(name))
}

/// The parts of an SMTP URL that decide whether a password may go over it.
struct SmtpUrl {
    scheme: String,
    host: String,
    tls: bool,
    has_password: bool,
}

fn reqwest_free_url(url: &str) -> anyhow::Result<SmtpUrl> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("mail.smtp_url must start with smtp:// or smtps://"))?;
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, q),
        None => (rest, ""),
    };
    let authority = authority.split('/').next().unwrap_or_default();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let host = if hostport.starts_with('[') {
        hostport.split(']').next().unwrap_or_default().to_owned() + "]"
    } else {
        hostport.split(':').next().unwrap_or_default().to_owned()
    };
    let tls = scheme == "smtps"
        || query
            .split('&')
            .any(|p| p == "tls=required" || p == "tls=opportunistic");
    Ok(SmtpUrl {
        scheme: scheme.to_owned(),
        host,
        tls,
        has_password: userinfo.is_some_and(|u| u.contains(':')),
    })
}

/// Delivers due messages until the server stops.
pub async fn run(state: AppState, mailer: Arc<Mailer>) {
    let poll = StdDuration::from_millis(state.config.mail.poll_interval_ms.max(10));
    loop {
        match drain_once(&state, &mailer).await {
            Ok(0) => tokio::time::sleep(poll).await,
            Ok(_) => {}
            Err(error) => {
                // The lease brings back what was taken; what went out goes again with the
                // same Message-ID.
                log_failure(&error);
                tokio::time::sleep(poll).await;
            }
        }
    }
}

/// Takes one batch of due messages, sends it and records the outcome; returns how many were
/// taken (0: nothing is due).
pub async fn drain_once(state: &AppState, mailer: &Arc<Mailer>) -> ApiResult<usize> {
    let config = state.config.mail.clone();
    let lease = Duration::seconds(config.lease_seconds.max(1));
    let batch = config.batch_size.max(1);
    // A plain read first: most polls find nothing due, and must not take the write lock
    // (on SQLite that would queue every request's write behind the poll).
    if !state.db(|conn| any_due(conn, Utc::now())).await? {
        return Ok(0);
    }
    let claimed = state
        .write(move |conn| claim(conn, Utc::now(), lease, batch))
        .await?;
    let taken = claimed.len();
    if taken == 0 {
        return Ok(0);
    }
    send_and_record(state, mailer, claimed, &config).await?;
    Ok(taken)
}

fn log_failure(error: &ApiError) {
    tracing::warn!(error = %error, "email outbox unavailable");
}

/// Sends a batch, `concurrency` at a time, and records each outcome as soon as it is known
/// (with any others finished meanwhile, in one transaction): a worker killed mid-batch leaves
/// only the messages then in flight to be sent again after the lease.
async fn send_and_record(
    state: &AppState,
    mailer: &Arc<Mailer>,
    claimed: Vec<Claimed>,
    config: &crate::config::MailConfig,
) -> ApiResult<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for message in claimed {
        let mailer = Arc::clone(mailer);
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = mailer.deliver(&message).await;
            (message.id, message.attempts, result)
        });
    }
    let (max, base, cap) = (
        config.max_attempts,
        config.retry_base_ms,
        config.retry_max_seconds,
    );
    while let Some(first) = tasks.join_next().await {
        let mut finished = vec![first];
        while let Some(more) = tasks.try_join_next() {
            finished.push(more);
        }
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(finished.len());
        for done in finished {
            match done {
                Ok(outcome) => outcomes.push(outcome),
                // A delivery task that panicked: its message comes back after the lease.
                Err(error) => tracing::error!(error = %error, "an email delivery task failed"),
            }
        }
        for (id, attempts, result) in &outcomes {
            match result {
                Ok(()) => tracing::debug!(message = %id, "email sent"),
                Err(failure) => tracing::warn!(
                    message = %id,
                    attempts,
                    permanent = failure.permanent,
                    "email not delivered"
                ),
            }
        }
        if !outcomes.is_empty() {
            state
                .write(move |conn| record(conn, &outcomes, Utc::now(), max, base, cap))
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1, 30_000, 3600), Duration::seconds(30));
        assert_eq!(backoff(2, 30_000, 3600), Duration::seconds(60));
        assert_eq!(backoff(5, 30_000, 3600), Duration::seconds(480));
        assert_eq!(backoff(12, 30_000, 3600), Duration::seconds(3600));
        assert_eq!(
            backoff(1000, u64::MAX, u64::MAX),
            backoff(31, u64::MAX, u64::MAX)
        );
    }

    #[tokio::test]
    async fn passwords_need_tls_except_on_loopback() {
        let mut config = Config::default();
        let refuse = |config: &Config| Mailer::from_config(config).is_err();
        config.mail.smtp_url = Some("smtp://u:secret@mail.example.org:587".into());
        assert!(refuse(&config));
        config.mail.smtp_url = Some("smtp://u:secret@mail.example.org:587?tls=required".into());
        assert!(!refuse(&config));
        config.mail.smtp_url = Some("smtps://u:secret@mail.example.org".into());
        assert!(!refuse(&config));
        config.mail.smtp_url = Some("smtp://u:secret@127.0.0.1:2525".into());
        assert!(!refuse(&config));
        config.mail.smtp_url = Some("smtp://mail.example.org:25".into());
        assert!(!refuse(&config));
        config.mail.smtp_url = Some("gopher://mail.example.org".into());
        assert!(refuse(&config));
    }
}
