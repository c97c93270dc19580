//! One account on one device: its store, its session with the server, its sync state.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reguide_protocol::api::{EnrolRequest, EnrolResponse, LoginRequest, TokenResponse};
use reguide_protocol::error::ErrorBody;
use reguide_protocol::{AccountId, DeviceId, FamilyId, MemberId};
use serde::{Deserialize, Serialize};

use crate::error::{ClientError, ClientResult};
use crate::ops::FamilyData;
use crate::reference::ReferenceCache;
use crate::store::Store;
use crate::sync::SyncState;

/// Timeouts of every request: a phone on a bad network must not hang.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const SESSION: &str = "session";

/// A device's token is renewed when less than this is left of it (the server gives 90 days).
pub const RENEW_WITHIN: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// What the device keeps of its sign-in.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub account_id: AccountId,
    pub device_id: DeviceId,
    /// Hex Automerge actor id the server enrolled for this device.
    pub actor_id: String,
    pub family_id: FamilyId,
    pub member_id: MemberId,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<secret>")
            .field("expires_at", &self.expires_at)
            .field("device_id", &self.device_id)
            .field("family_id", &self.family_id)
            .field("member_id", &self.member_id)
            .finish_non_exhaustive()
    }
}

/// The client of one account, with its data folder.
#[derive(Debug)]
pub struct Client {
    pub(crate) store: Store,
    pub(crate) http: reqwest::blocking::Client,
    pub(crate) server: String,
    pub(crate) session: Option<Session>,
    pub(crate) sync: SyncState,
    /// Where reminders and due dates are computed ([`Client::set_time_zone`]).
    pub(crate) time_zone: chrono_tz::Tz,
    /// The family data as last read, with the document heads it was read at: read again only
    /// when the document changed (a write, a sync).
    pub(crate) data_cache: RefCell<Option<(Vec<automerge::ChangeHash>, Arc<FamilyData>)>>,
    /// The reference cache as last read or fetched (`None` until first needed).
    pub(crate) reference_cache: RefCell<Option<Option<Arc<ReferenceCache>>>>,
}

impl Client {
    /// Opens the account's data folder (created when new) for the server at `server_url`
    /// (e.g. `https://reguide.example.org`). `key` encrypts the folder at rest.
    pub fn open(
        dir: impl AsRef<Path>,
        key: Option<&[u8; 32]>,
        server_url: &str,
    ) -> ClientResult<Self> {
        let store = Store::open(dir, key)?;
        let session = match store.read_record(SESSION)? {
            Some(bytes) => Some(
                serde_json::from_slice(&bytes)
                    .map_err(|_| ClientError::Document("the saved session".into()))?,
            ),
            None => None,
        };
        let sync = SyncState::load(&store)?;
        let http = http_client(REQUEST_TIMEOUT)?;
        let mut client = Self {
            store,
            http,
            server: server_url.trim_end_matches('/').to_owned(),
            session,
            sync,
            time_zone: reguide_protocol::time::DEFAULT_TIME_ZONE,
            data_cache: RefCell::new(None),
            reference_cache: RefCell::new(None),
        };
        if client.store.document().is_some() {
            client.set_actor()?;
        }
        Ok(client)
    }

    /// Replaces the request timeout (the default is [`REQUEST_TIMEOUT`]).
    pub fn set_timeout(&mut self, timeout: Duration) -> ClientResult<()> {
        self.http = http_client(timeout)?;
        Ok(())
    }

    /// The session, if somebody is signed in.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    pub(crate) fn require_session(&self) -> ClientResult<&Session> {
        self.session.as_ref().ok_or(ClientError::NotSignedIn)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    /// Signs in with email (or username) and password, enrolling this device.
    pub fn login(&mut self, login: &str, password: &str, device_name: &str) -> ClientResult<()> {
        let body = LoginRequest {
            // Signing in again on this device (its session ended) keeps the device and its
            // actor id, so what was changed offline meanwhile still syncs.
            device_id: self.session.as_ref().map(|s| s.device_id),
            email: login.to_owned(),
            password: password.to_owned(),
            device_name: Some(device_name.to_owned()),
        };
        let token: TokenResponse = self.post_json("/api/v1/auth/login", None, &body)?;
        let me: reguide_protocol::api::Me = self.get_json("/api/v1/me", Some(&token.token))?;
        let Some(membership) = me.member_of.first() else {
            // Staff: the device the server just enrolled is given up at once.
            let _ = self
                .http
                .post(self.url("/api/v1/auth/logout"))
                .bearer_auth(&token.token)
                .send();
            return Err(ClientError::Server {
                status: 403,
                code: "not_a_family_member".into(),
                message: "this app is for family members; staff use the web admin".into(),
                field: None,
            });
        };
        self.begin_session(token, membership.family_id, membership.member_id)
    }

    /// Redeems a one-time enrolment code from a social worker, choosing a password. Returns
    /// the username to sign in with on other devices.
    pub fn enrol(
        &mut self,
        code: &str,
        password: &str,
        device_name: &str,
        email: Option<&str>,
    ) -> ClientResult<String> {
        let body = EnrolRequest {
            code: code.trim().to_owned(),
            password: password.to_owned(),
            device_name: device_name.to_owned(),
            email: email.map(str::to_owned),
        };
        let enrolled: EnrolResponse = self.post_json("/api/v1/auth/enrol", None, &body)?;
        let username = enrolled.username.clone();
        self.begin_session(enrolled.session, enrolled.family_id, enrolled.member_id)?;
        Ok(username)
    }

    fn begin_session(
        &mut self,
        token: TokenResponse,
        family_id: FamilyId,
        member_id: MemberId,
    ) -> ClientResult<()> {
        let device = token.device.ok_or_else(|| ClientError::Server {
            status: 500,
            code: "device_not_enrolled".into(),
            message: "the server did not enrol this device".into(),
            field: None,
        })?;
        if let Some(old) = &self.session
            && (old.family_id != family_id || old.member_id != member_id)
        {
            // Another person's data must not stay in this folder.
            return Err(ClientError::Invalid {
                code: "another_account",
                field: "login",
                message: "sign out first: this device holds another member's data".into(),
            });
        }
        self.save_session(Session {
            token: token.token,
            expires_at: token.expires_at,
            account_id: token.account_id,
            device_id: device.id,
            actor_id: device.actor_id,
            family_id,
            member_id,
        })?;
        if self.store.document().is_some() {
            self.set_actor()?;
        }
        Ok(())
    }

    fn save_session(&mut self, session: Session) -> ClientResult<()> {
        let bytes = serde_json::to_vec(&session)
            .map_err(|e| ClientError::Document(format!("the session: {e}")))?;
        self.store.write_record(SESSION, &bytes)?;
        self.session = Some(session);
        Ok(())
    }

    /// The session's token for a request to the server: renewed first when less than
    /// [`RENEW_WITHIN`] of it is left (a failed renewal is tried again next time; the old token
    /// still works meanwhile). An expired session is [`ClientError::SessionExpired`] without a
    /// request: sign in again (on this device, which keeps its data and unsynced changes).
    pub(crate) fn fresh_session(&mut self) -> ClientResult<Session> {
        let session = self.require_session()?.clone();
        let now = Utc::now();
        if session.expires_at <= now {
            return Err(ClientError::SessionExpired);
        }
        if session.expires_at - now > RENEW_WITHIN {
            return Ok(session);
        }
        match self.post_json::<_, TokenResponse>(
            "/api/v1/auth/refresh",
            Some(&session.token),
            &serde_json::json!({}),
        ) {
            Ok(token) => {
                let renewed = Session {
                    token: token.token,
                    expires_at: token.expires_at,
                    ..session
                };
                self.save_session(renewed.clone())?;
                Ok(renewed)
            }
            Err(ClientError::SessionExpired) => Err(ClientError::SessionExpired),
            Err(_) => Ok(session),
        }
    }

    /// Signs out: revokes the device's token when the server is reachable, and wipes the data
    /// folder in any case. Unsynced changes are lost; [`Client::sync_status`] tells the shell
    /// to warn first.
    pub fn logout(self) -> ClientResult<()> {
        if let Some(session) = &self.session {
            let _ = self
                .http
                .post(self.url("/api/v1/auth/logout"))
                .bearer_auth(&session.token)
                .send();
        }
        self.store.wipe()?;
        Ok(())
    }

    /// Makes the in-memory document write with this device's enrolled actor id.
    pub(crate) fn set_actor(&mut self) -> ClientResult<()> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let actor = hex::decode(&session.actor_id)
            .map_err(|_| ClientError::Document("the enrolled actor id".into()))?;
        self.store.set_actor(automerge::ActorId::from(actor));
        Ok(())
    }

    pub(crate) fn post_json<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> ClientResult<T> {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read_json(request.send(), token.is_some())
    }

    /// A `DELETE` answered with no body.
    pub(crate) fn delete(&self, path: &str, token: &str) -> ClientResult<()> {
        let response = self
            .http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .map_err(network)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = response.bytes().map_err(network)?;
        Err(server_error(status.as_u16(), &bytes, true))
    }

    pub(crate) fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> ClientResult<T> {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read_json(request.send(), token.is_some())
    }
}

fn http_client(timeout: Duration) -> ClientResult<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .user_agent(concat!("reguide-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Network(e.to_string()))
}

/// Turns an HTTP answer into `T`, or into the error the server named.
fn read_json<T: serde::de::DeserializeOwned>(
    sent: reqwest::Result<reqwest::blocking::Response>,
    authenticated: bool,
) -> ClientResult<T> {
    let response = sent.map_err(network)?;
    let status = response.status();
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let bytes = response.bytes().map_err(network)?;
    if !is_json {
        return Err(ClientError::UnexpectedResponse);
    }
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|_| ClientError::UnexpectedResponse);
    }
    Err(server_error(status.as_u16(), &bytes, authenticated))
}

/// The error the server answered with (`{"error","message","field"}`); a `401` to a request
/// that carried the device's token means its session has ended.
pub(crate) fn server_error(status: u16, body: &[u8], authenticated: bool) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(_) if status == 401 && authenticated => ClientError::SessionExpired,
        Ok(body) => ClientError::Server {
            status,
            code: body.error,
            message: body.message,
            field: body.field,
        },
        Err(_) => ClientError::UnexpectedResponse,
    }
}

pub(crate) fn network(e: reqwest::Error) -> ClientError {
    // The error's text names the URL and the cause, never a body.
    ClientError::Network(e.without_url().to_string())
}
