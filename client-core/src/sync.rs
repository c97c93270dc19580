//! Syncing the family document with the server (wire format in `reguide_protocol::sync`,
//! specified in `docs/SYNC.md`), and what a background scheduler needs to know.
//!
//! One sync is one request: the server heads this device last saw and its changes since. The
//! answer is made durable (document first, then the new heads), so a crash or a dropped
//! connection at any point leaves at worst a sync to do again, never lost or doubled data: the
//! server ignores changes it already has, and so does the document.

use automerge::{Automerge, ChangeHash};
use chrono::{DateTime, Utc};
use rand::Rng;
use reguide_protocol::sync::{
    CONTENT_TYPE, MAX_REQUEST_BYTES, ResponseKind, SyncRequest, SyncResponse,
};
use serde::{Deserialize, Serialize};

use crate::client::{Client, network, server_error};
use crate::error::{ClientError, ClientResult};
use crate::store::Store;

const SYNC_STATE: &str = "sync";

/// First retry after this long; each failure doubles it, up to [`MAX_BACKOFF_SECS`].
pub const BASE_BACKOFF_SECS: u64 = 5;
pub const MAX_BACKOFF_SECS: u64 = 30 * 60;

/// What the device remembers between syncs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncState {
    /// The server heads last seen, hex.
    pub server_heads: Vec<String>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_attempt: Option<DateTime<Utc>>,
    /// The code of the last failure, cleared by a success.
    pub last_error: Option<String>,
    /// Failures in a row, for the backoff.
    pub failures: u32,
    /// When to try again after a failure (the backoff, drawn once per failure so that the
    /// scheduler sees one time, not a new one each time it asks).
    #[serde(default)]
    pub retry_at: Option<DateTime<Utc>>,
}

impl SyncState {
    pub(crate) fn load(store: &Store) -> ClientResult<Self> {
        match store.read_record(SYNC_STATE)? {
            None => Ok(Self::default()),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|_| ClientError::Document("the saved sync state".into())),
        }
    }

    fn save(&self, store: &Store) -> ClientResult<()> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| ClientError::Document(format!("the sync state: {e}")))?;
        store.write_record(SYNC_STATE, &bytes)?;
        Ok(())
    }

    fn heads(&self) -> Vec<ChangeHash> {
        // A head that does not parse is dropped: the server then sends the whole document.
        self.server_heads
            .iter()
            .filter_map(|h| h.parse().ok())
            .collect()
    }
}

/// What the shell's background scheduler shows and plans with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncStatus {
    /// Whether the device holds changes the server has not acknowledged.
    pub pending_changes: bool,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// When the next automatic attempt should run (now, when nothing failed).
    pub next_attempt: DateTime<Utc>,
}

/// What one successful sync did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Bytes sent and received in the body, for diagnostics.
    pub sent_bytes: usize,
    pub received_bytes: usize,
    /// Whether the server sent the whole document (first sync, or a recovery).
    pub full_document: bool,
    /// Whether the family's data changed on this device (the server sent something new).
    pub changed: bool,
}

/// One sync request, prepared by [`Client::begin_sync`]; sending it needs no access to the
/// client.
pub struct SyncExchange {
    http: reqwest::blocking::Client,
    url: String,
    token: String,
    body: Vec<u8>,
    recovering: bool,
    started: DateTime<Utc>,
}

impl std::fmt::Debug for SyncExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncExchange")
            .field("bytes", &self.body.len())
            .field("recovering", &self.recovering)
            .finish_non_exhaustive()
    }
}

/// What the server answered to a sync request.
#[derive(Debug)]
pub struct SyncReply {
    status: u16,
    binary: bool,
    bytes: Vec<u8>,
}

/// Where a sync stands after [`Client::finish_sync`].
#[derive(Debug)]
pub enum SyncNext {
    Done(SyncOutcome),
    /// Send this one too (every change, for a server restored from a backup).
    Again(SyncExchange),
}

impl SyncExchange {
    /// Sends the request and reads the answer (network only; blocks up to the timeout).
    pub fn send(&self) -> ClientResult<SyncReply> {
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(self.body.clone())
            .send()
            .map_err(network)?;
        let status = response.status().as_u16();
        let binary = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(CONTENT_TYPE));
        let bytes = response.bytes().map_err(network)?.to_vec();
        Ok(SyncReply {
            status,
            binary,
            bytes,
        })
    }
}

/// The delay before retry number `failures` (1 = after the first failure), with jitter: a
/// random point in the upper half of the exponential window, so that phones that failed
/// together do not come back together.
pub fn backoff(failures: u32, rng: &mut impl Rng) -> std::time::Duration {
    if failures == 0 {
        return std::time::Duration::ZERO;
    }
    let window = BASE_BACKOFF_SECS
        .saturating_mul(1_u64 << (failures - 1).min(20))
        .min(MAX_BACKOFF_SECS);
    let millis = window * 1000;
    std::time::Duration::from_millis(rng.gen_range(millis / 2..=millis))
}

impl Client {
    /// The scheduler's view: pending changes, last success and error, next attempt.
    pub fn sync_status(&self) -> SyncStatus {
        let pending_changes = match self.store.document() {
            None => false,
            Some(doc) => {
                let heads = self.sync.heads();
                let mut ours = doc.get_heads();
                let mut theirs = heads;
                ours.sort();
                theirs.sort();
                ours != theirs
            }
        };
        SyncStatus {
            pending_changes,
            last_success: self.sync.last_success,
            last_error: self.sync.last_error.clone(),
            next_attempt: self.sync.retry_at.unwrap_or_else(Utc::now),
        }
    }

    /// Syncs now: sends this device's changes, receives the server's. On failure the local
    /// data is untouched and the failure is recorded for the backoff.
    ///
    /// The same as [`Client::begin_sync`], [`SyncExchange::send`] and
    /// [`Client::finish_sync`] in a row; a caller that shares the client between threads runs
    /// those three itself so as not to hold the client while the request travels.
    pub fn sync_now(&mut self) -> ClientResult<SyncOutcome> {
        let mut exchange = self.begin_sync()?;
        loop {
            let reply = exchange.send();
            match self.finish_sync(exchange, reply)? {
                SyncNext::Done(outcome) => return Ok(outcome),
                SyncNext::Again(next) => exchange = next,
            }
        }
    }

    /// Prepares a sync: the request with the changes since the server heads last seen. Local
    /// work only (but for renewing the device's token when it is due).
    pub fn begin_sync(&mut self) -> ClientResult<SyncExchange> {
        let started = Utc::now();
        self.sync.last_attempt = Some(started);
        let prepared = self.prepare(false, started);
        if let Err(e) = &prepared {
            self.record_failure(e, started);
        }
        prepared
    }

    /// Takes the server's reply (or the failure to get one): makes the answer durable, or
    /// records the failure for the backoff. A reply that asks for every change (the server was
    /// restored from a backup) gives the exchange to send next.
    pub fn finish_sync(
        &mut self,
        exchange: SyncExchange,
        reply: ClientResult<SyncReply>,
    ) -> ClientResult<SyncNext> {
        let started = exchange.started;
        match self.complete(&exchange, reply) {
            Ok(Some(outcome)) => {
                self.sync.failures = 0;
                self.sync.last_error = None;
                self.sync.last_success = Some(started);
                self.sync.retry_at = None;
                // The heads were saved with the document; this records timing only.
                let _ = self.sync.save(&self.store);
                Ok(SyncNext::Done(outcome))
            }
            Ok(None) => match self.prepare(true, started) {
                Ok(next) => Ok(SyncNext::Again(next)),
                Err(e) => {
                    self.record_failure(&e, started);
                    Err(e)
                }
            },
            Err(e) => {
                self.record_failure(&e, started);
                Err(e)
            }
        }
    }

    fn record_failure(&mut self, error: &ClientError, started: DateTime<Utc>) {
        self.sync.failures = self.sync.failures.saturating_add(1);
        self.sync.last_error = Some(error.code().to_owned());
        let wait = backoff(self.sync.failures, &mut rand::thread_rng());
        self.sync.retry_at = Some(
            started + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::zero()),
        );
        // Timing and errors only; the document and heads are untouched by a failure.
        let _ = self.sync.save(&self.store);
    }

    fn prepare(&mut self, recovering: bool, started: DateTime<Utc>) -> ClientResult<SyncExchange> {
        let session = self.fresh_session()?;
        let heads = if recovering {
            Vec::new()
        } else {
            self.sync.heads()
        };
        let changes = match self.store.document() {
            None => Vec::new(),
            Some(doc) if heads.is_empty() => doc.save(),
            Some(doc) => doc.save_after(&heads),
        };
        if changes.len() > MAX_REQUEST_BYTES - 1024 {
            return Err(ClientError::Invalid {
                code: "changes_too_large",
                field: "changes",
                message: "the changes waiting to be sent are larger than the server accepts".into(),
            });
        }
        let body = SyncRequest { heads, changes }
            .encode()
            .map_err(|e| ClientError::Document(e.to_string()))?;
        Ok(SyncExchange {
            http: self.http.clone(),
            url: self.url(&format!("/api/v1/families/{}/sync", session.family_id)),
            token: session.token,
            body,
            recovering,
            started,
        })
    }

    /// `Some` when done, `None` when every change must be sent again.
    fn complete(
        &mut self,
        exchange: &SyncExchange,
        reply: ClientResult<SyncReply>,
    ) -> ClientResult<Option<SyncOutcome>> {
        let reply = reply?;
        if !(200..300).contains(&reply.status) {
            let error = server_error(reply.status, &reply.bytes, true);
            if error.code() == "missing_dependencies" && !exchange.recovering {
                // The server lacks what our changes build on (it was restored from a backup):
                // send everything once.
                return Ok(None);
            }
            if matches!(error, ClientError::SessionExpired) {
                self.session = None;
            }
            return Err(error);
        }
        // A captive portal answers 200 with its own page: only our frame is believed.
        if !reply.binary {
            return Err(ClientError::UnexpectedResponse);
        }
        let answer =
            SyncResponse::decode(&reply.bytes).map_err(|_| ClientError::UnexpectedResponse)?;
        let full_document = answer.kind != ResponseKind::Changes;
        let before = self.store.document().map(Automerge::get_heads);
        self.absorb(&answer)?;
        let changed = self.store.document().map(Automerge::get_heads) != before;
        Ok(Some(SyncOutcome {
            sent_bytes: exchange.body.len(),
            received_bytes: reply.bytes.len(),
            full_document,
            changed,
        }))
    }

    /// Applies the server's answer durably, then remembers its heads.
    pub(crate) fn absorb(&mut self, answer: &SyncResponse) -> ClientResult<()> {
        match answer.kind {
            ResponseKind::Changes => {
                if self.store.document().is_none() {
                    return Err(ClientError::UnexpectedResponse);
                }
                if !answer.data.is_empty() {
                    let read_at = self.store.document().map(Automerge::get_heads);
                    let patches = self.store.absorb(&answer.data)?;
                    if let Some(read_at) = read_at {
                        self.refresh_data(&read_at, &patches);
                    }
                }
            }
            ResponseKind::FullDocument => {
                let mut fresh = load(&answer.data).ok_or(ClientError::UnexpectedResponse)?;
                if let Some(local) = self.store.document() {
                    // Keep what this device did that the server has not got (a recovery).
                    let mut local = local.fork();
                    fresh
                        .merge(&mut local)
                        .map_err(|_| ClientError::UnexpectedResponse)?;
                }
                self.store.replace_document(fresh)?;
                self.set_actor()?;
            }
            ResponseKind::Replaced => {
                // The server wrote the document anew and dropped its history (someone's data
                // was erased): nothing of ours merges into it. What this device did since its
                // last sync is done again on it, as new changes that the next sync sends.
                let mut fresh = load(&answer.data).ok_or(ClientError::UnexpectedResponse)?;
                let mut pending = Vec::new();
                if let Some(local) = self.store.document() {
                    let synced: Vec<ChangeHash> = self
                        .sync
                        .server_heads
                        .iter()
                        .filter_map(|h| h.parse().ok())
                        .filter(|h| local.get_change_meta_by_hash(h).is_some())
                        .collect();
                    if !synced.is_empty() {
                        pending = local.diff(&synced, &local.get_heads());
                    }
                }
                self.store.replace_document(fresh.fork())?;
                self.set_actor()?;
                if !pending.is_empty() {
                    if let Some(actor) = self.store.actor() {
                        fresh.set_actor(actor);
                    }
                    // Changes to what no longer exists (the erased person's) are left out.
                    crate::replay::replay(&mut fresh, &pending);
                    self.store.replace_document(fresh)?;
                }
            }
        }
        self.sync.server_heads = answer.heads.iter().map(ToString::to_string).collect();
        self.sync.save(&self.store)
    }
}

fn load(bytes: &[u8]) -> Option<Automerge> {
    std::panic::catch_unwind(|| Automerge::load(bytes).ok())
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        assert_eq!(backoff(0, &mut rng), std::time::Duration::ZERO);
        for failures in 1..40 {
            let window =
                (BASE_BACKOFF_SECS * (1_u64 << (failures - 1).min(20))).min(MAX_BACKOFF_SECS);
            for _ in 0..20 {
                let wait = backoff(failures, &mut rng).as_millis() as u64;
                assert!(
                    wait >= window * 500 && wait <= window * 1000,
                    "{failures}: {wait}"
                );
            }
        }
    }
}
