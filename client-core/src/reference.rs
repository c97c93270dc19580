//! Reference data beside the family document: what changes often and belongs to no family (the
//! prisons with their rules and practical advice, open visit slots, family days), cached when
//! online so that the app can show it offline, with its age.
//!
//! A refresh fetches everything first and replaces the cache in one atomic write: a refresh cut
//! short leaves the previous cache whole.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use reguide_protocol::PrisonId;
use reguide_protocol::api::Family;
use reguide_protocol::family_days::FamilyDay;
use reguide_protocol::visits::{PrisonDetail, Slot};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{ClientError, ClientResult};

const REFERENCE: &str = "reference";

/// What the device knows of the world around the family, as of `fetched_at`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReferenceCache {
    pub fetched_at: DateTime<Utc>,
    /// The family as the server knows it: members and the detained people it is linked to.
    pub family: Family,
    /// One entry per prison where someone of the family is held.
    pub prisons: Vec<PrisonReference>,
}

/// A prison: rules, arrival advice and what to bring, open slots for the next four weeks,
/// upcoming family days.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrisonReference {
    pub prison: PrisonDetail,
    pub slots: Vec<Slot>,
    pub family_days: Vec<FamilyDay>,
}

impl ReferenceCache {
    /// How old the cache is at `now`.
    pub fn age(&self, now: DateTime<Utc>) -> chrono::Duration {
        now - self.fetched_at
    }

    pub fn prison(&self, id: PrisonId) -> Option<&PrisonReference> {
        self.prisons.iter().find(|p| p.prison.id == id)
    }
}

impl Client {
    /// Fetches the reference data for the family's prisons and replaces the cache; fetches
    /// the family's waiting-list entries too.
    pub fn refresh_reference(&mut self) -> ClientResult<()> {
        let session = self.fresh_session()?;
        let token = Some(session.token.as_str());
        let family: Family =
            self.get_json(&format!("/api/v1/families/{}", session.family_id), token)?;
        let prison_ids: BTreeSet<PrisonId> = family.detainees.iter().map(|d| d.prison_id).collect();
        let mut prisons = Vec::with_capacity(prison_ids.len());
        for id in prison_ids {
            let prison: PrisonDetail = self.get_json(&format!("/api/v1/prisons/{id}"), token)?;
            let slots: Vec<Slot> = self.get_json(&format!("/api/v1/prisons/{id}/slots"), token)?;
            let family_days: Vec<FamilyDay> =
                self.get_json(&format!("/api/v1/family-days?prison_id={id}"), token)?;
            prisons.push(PrisonReference {
                prison,
                slots,
                family_days,
            });
        }
        let cache = ReferenceCache {
            fetched_at: Utc::now(),
            family,
            prisons,
        };
        let bytes = serde_json::to_vec(&cache)
            .map_err(|e| ClientError::Document(format!("the reference cache: {e}")))?;
        self.store.write_record(REFERENCE, &bytes)?;
        *self.reference_cache.borrow_mut() = Some(Some(Arc::new(cache)));
        self.refresh_visit_waitlist()
    }

    /// The cached reference data, if it was ever fetched.
    pub fn reference(&self) -> ClientResult<Option<ReferenceCache>> {
        Ok(self.shared_reference()?.map(|cache| (*cache).clone()))
    }

    /// The cached reference data, read from the data folder once.
    pub(crate) fn shared_reference(&self) -> ClientResult<Option<Arc<ReferenceCache>>> {
        if let Some(cache) = &*self.reference_cache.borrow() {
            return Ok(cache.clone());
        }
        let cache = match self.store.read_record(REFERENCE)? {
            None => None,
            Some(bytes) => {
                Some(Arc::new(serde_json::from_slice(&bytes).map_err(|_| {
                    ClientError::Document("the reference cache".into())
                })?))
            }
        };
        *self.reference_cache.borrow_mut() = Some(cache.clone());
        Ok(cache)
    }
}
