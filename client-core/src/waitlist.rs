//! Waiting lists of full visit slots.
//!
//! A place on a waiting list is a position in the prison's live queue, so joining one,
//! accepting the place it offers and leaving it are done online: offline they fail with
//! `network_unavailable` and change nothing. The family's entries are kept in the data folder
//! with the time they were fetched, so that the app shows them offline. An accepted offer is a
//! confirmed visit, which reaches the family document at the next sync (the client syncs right
//! away when it can).

use chrono::{DateTime, Utc};
use reguide_protocol::visits::{
    NewWaitlistEntry, SlotChoice, VisitRequest, VisitType, WaitlistEntry,
};
use reguide_protocol::{DetaineeId, MemberId};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{ClientError, ClientResult};

const WAITLIST: &str = "waitlist";

/// What to wait for: a slot that is full, for a detained person, with the family members who
/// would come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWaitlistRequest {
    pub detainee_id: DetaineeId,
    pub visit_type: VisitType,
    pub slot: SlotChoice,
    pub visitors: Vec<MemberId>,
}

/// The family's waiting-list entries as of `fetched_at`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WaitlistCache {
    pub fetched_at: DateTime<Utc>,
    pub entries: Vec<WaitlistEntry>,
}

impl Client {
    /// Joins the waiting list of a full slot; the entry says the family's position.
    pub fn join_visit_waitlist(
        &mut self,
        request: NewWaitlistRequest,
    ) -> ClientResult<WaitlistEntry> {
        if request.visitors.is_empty() {
            return Err(ClientError::Invalid {
                code: "invalid_value",
                field: "visitors",
                message: "name who will visit".into(),
            });
        }
        let session = self.fresh_session()?;
        let body = NewWaitlistEntry {
            family_id: session.family_id,
            detainee_id: request.detainee_id,
            visit_type: request.visit_type,
            slot: request.slot,
            visitors: request.visitors,
        };
        let entry: WaitlistEntry =
            self.post_json("/api/v1/waitlist", Some(&session.token), &body)?;
        self.remember(&entry)?;
        Ok(entry)
    }

    /// Takes the place a waiting list offers; returns the confirmed visit's request id.
    pub fn accept_waitlist_offer(&mut self, entry_id: uuid::Uuid) -> ClientResult<String> {
        let session = self.fresh_session()?;
        let visit: VisitRequest = self.post_json(
            &format!("/api/v1/waitlist/{entry_id}/accept"),
            Some(&session.token),
            &serde_json::json!({}),
        )?;
        self.refetch(entry_id)?;
        // The visit reaches the document at the next sync; a failure here is the scheduler's.
        let _ = self.sync_now();
        Ok(visit.id.to_string())
    }

    /// Leaves a waiting list (an offered place goes to the next family).
    pub fn leave_visit_waitlist(&mut self, entry_id: uuid::Uuid) -> ClientResult<()> {
        let session = self.fresh_session()?;
        self.delete(&format!("/api/v1/waitlist/{entry_id}"), &session.token)?;
        self.refetch(entry_id)
    }

    /// Fetches the family's waiting-list entries (also done by
    /// [`Client::refresh_reference`]).
    pub fn refresh_visit_waitlist(&mut self) -> ClientResult<()> {
        let session = self.fresh_session()?;
        let entries: Vec<WaitlistEntry> = self.get_json(
            &format!("/api/v1/waitlist?family_id={}", session.family_id),
            Some(&session.token),
        )?;
        self.save_waitlist(&WaitlistCache {
            fetched_at: Utc::now(),
            entries,
        })
    }

    /// The family's waiting-list entries as last fetched, if ever.
    pub fn visit_waitlist(&self) -> ClientResult<Option<WaitlistCache>> {
        match self.store.read_record(WAITLIST)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| ClientError::Document("the waiting lists".into())),
        }
    }

    fn refetch(&mut self, entry_id: uuid::Uuid) -> ClientResult<()> {
        let session = self.fresh_session()?;
        let entry: WaitlistEntry = self.get_json(
            &format!("/api/v1/waitlist/{entry_id}"),
            Some(&session.token),
        )?;
        self.remember(&entry)
    }

    /// Puts one entry, as the server just gave it, into the kept list.
    fn remember(&mut self, entry: &WaitlistEntry) -> ClientResult<()> {
        let mut cache = self.visit_waitlist()?.unwrap_or(WaitlistCache {
            fetched_at: Utc::now(),
            entries: Vec::new(),
        });
        cache.entries.retain(|e| e.id != entry.id);
        cache.entries.push(entry.clone());
        cache.entries.sort_by_key(|e| e.created_at);
        self.save_waitlist(&cache)
    }

    fn save_waitlist(&self, cache: &WaitlistCache) -> ClientResult<()> {
        let bytes = serde_json::to_vec(cache)
            .map_err(|e| ClientError::Document(format!("the waiting lists: {e}")))?;
        self.store.write_record(WAITLIST, &bytes)?;
        Ok(())
    }
}
