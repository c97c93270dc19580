//! A signed-in phone store holding a family document of a chosen number of changes, for the
//! benchmarks of this crate and of the bindings. Not for apps.

use std::collections::BTreeMap;
use std::path::Path;

use automerge::{ActorId, Automerge};
use reguide_protocol::doc::write::{self, put_entry};
use reguide_protocol::doc::{DocError, DocMember, NextActor, Step, StepOwner, keys, new_document};
use reguide_protocol::sync::server_actor;
use reguide_protocol::{AccountId, DeviceId, FamilyId, Language, MemberId};

use crate::client::Session;
use crate::error::{ClientError, ClientResult};
use crate::store::Store;

/// The changes are notes spread over this many steps (a family follows tens of steps, each
/// with its notes), so that no list grows to thousands of elements.
pub const STEPS: usize = 100;

pub fn step_id(n: usize) -> String {
    format!("step-{n}")
}

/// A family document of `changes` changes: the server's (a member, [`STEPS`] steps), then the
/// device's (notes on the steps).
#[derive(Debug)]
pub struct Fixture {
    pub doc: Automerge,
    pub family: FamilyId,
    pub member: MemberId,
    pub actor: ActorId,
}

pub fn family_document(changes: usize) -> Result<Fixture, DocError> {
    let family = FamilyId::new();
    let member = MemberId::new();
    let mut doc = new_document(family, server_actor())?;
    let mut tx = doc.transaction();
    let person = DocMember {
        display_name: "Member".into(),
        relation: "mother".into(),
        language: Language::Fr,
    };
    write::put_member(&mut tx, member, &person)?;
    for n in 0..STEPS {
        let step = Step {
            id: step_id(n),
            title: "Apply for an eID".into(),
            category: "documents".into(),
            owner: StepOwner::Family,
            description: "At the town hall".into(),
            due_date: None,
            next_actor: NextActor::Family,
            agency: None,
            documents: Vec::new(),
            template: None,
            checklist: BTreeMap::new(),
            notes: Vec::new(),
            events: Vec::new(),
        };
        put_entry(&mut tx, keys::STEPS, &step_id(n), &step)?;
    }
    tx.commit();

    let actor = ActorId::from(&[9_u8; 16][..]);
    let mut doc = doc.with_actor(actor.clone());
    for n in 0..changes.saturating_sub(2) {
        let mut tx = doc.transaction();
        let step = step_id(n % STEPS);
        write::add_note(&mut tx, member, &step, &format!("note {n}"), n as i64)?;
        tx.commit();
    }
    Ok(Fixture {
        doc,
        family,
        member,
        actor,
    })
}

impl Fixture {
    /// Stores the document in `dir` as a phone's store holds it (compacted), signed in as
    /// the member.
    pub fn store(self, dir: &Path) -> ClientResult<()> {
        let mut store = Store::open(dir, None)?;
        store.replace_document(self.doc)?;
        let session = Session {
            token: "bench".into(),
            expires_at: chrono::Utc::now() + chrono::Duration::days(60),
            account_id: AccountId::new(),
            device_id: DeviceId::new(),
            actor_id: hex::encode(self.actor.to_bytes()),
            family_id: self.family,
            member_id: self.member,
        };
        let bytes =
            serde_json::to_vec(&session).map_err(|e| ClientError::Document(e.to_string()))?;
        store.write_record("session", &bytes)?;
        Ok(())
    }
}
