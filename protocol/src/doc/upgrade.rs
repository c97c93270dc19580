//! Moving a family document to the current schema version.
//!
//! A document's history is kept forever, so a schema change never rewrites what exists: it adds
//! what the new version needs in one change written by the **server's actor** (devices may not
//! write `schema_version` or create root maps, and two devices upgrading concurrently would
//! create rival root maps). The server upgrades a document when it loads it for a sync, before
//! validating the device's changes; the device receives the upgrade with the reply.
//!
//! How to add version N+1:
//! 1. bump [`super::SCHEMA_VERSION`] and change the types of [`super::schema`];
//! 2. append a step `fn vN_to_vN1(tx) -> Result<(), DocError>` to `STEPS`, which only *adds*
//!    (new root maps, new fields with their defaults on existing entries) so that an app of
//!    version N still reads the document (its hydration ignores unknown keys);
//! 3. add a test that builds a version-N document by hand and upgrades it.
//!
//! An app older than the document it receives reads what it knows; an app must refuse to
//! *write* into a document whose version is newer than its own ([`DocError::SchemaTooNew`]).

use automerge::{
    Automerge, ObjType, ROOT, ReadDoc, transaction::Transactable, transaction::Transaction,
};

use super::DocError;
use super::schema::{SCHEMA_VERSION, keys, schema_version_of};

/// One upgrade step: from version `index` to `index + 1`.
type Step = fn(&mut Transaction<'_>) -> Result<(), DocError>;

/// The upgrade steps, in order: `STEPS[n]` moves version `n` to `n + 1`.
const STEPS: [Step; SCHEMA_VERSION as usize] = [v0_to_v1];

/// Version 0 was the prototype: a root with `family_id` and some collections, and no
/// `schema_version`. Version 1 adds the collections that are missing and the version.
fn v0_to_v1(tx: &mut Transaction<'_>) -> Result<(), DocError> {
    for collection in keys::COLLECTIONS {
        if tx.get(ROOT, collection)?.is_none() {
            tx.put_object(ROOT, collection, ObjType::Map)?;
        }
    }
    Ok(())
}

/// Upgrades `doc` to [`SCHEMA_VERSION`] in one change by `doc`'s actor (the server's), if it is
/// older; a document without `schema_version` is version 0. Returns the version the document
/// had. A document of a newer version is left alone and refused.
pub fn upgrade(doc: &mut Automerge) -> Result<u64, DocError> {
    let found = schema_version_of(doc)?.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(DocError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(found);
    }
    let mut tx = doc.transaction();
    let steps = STEPS
        .iter()
        .skip(usize::try_from(found).unwrap_or(usize::MAX));
    for step in steps {
        if let Err(err) = step(&mut tx) {
            tx.rollback();
            return Err(err);
        }
    }
    let version = i64::try_from(SCHEMA_VERSION).unwrap_or(i64::MAX);
    if let Err(err) = tx.put(ROOT, keys::SCHEMA_VERSION, version) {
        tx.rollback();
        return Err(err.into());
    }
    tx.commit();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::schema::{Author, Event, FamilyDoc};
    use crate::{FamilyId, MemberId};
    use automerge::ActorId;

    /// A prototype document: no `schema_version`, only `family_id`, `members` and
    /// `visit_requests`, with one request in it.
    fn version_0(family: FamilyId, member: MemberId) -> Automerge {
        let mut doc = Automerge::new().with_actor(ActorId::from(b"server".as_slice()));
        let mut tx = doc.transaction();
        tx.put(ROOT, keys::FAMILY_ID, family.to_string())
            .expect("put");
        let members = tx
            .put_object(ROOT, keys::MEMBERS, ObjType::Map)
            .expect("put");
        let amina = tx
            .put_object(&members, member.to_string(), ObjType::Map)
            .expect("put");
        tx.put(&amina, "display_name", "Amina").expect("put");
        tx.put(&amina, "relation", "mother").expect("put");
        tx.put(&amina, "language", "fr").expect("put");
        tx.put_object(ROOT, keys::VISIT_REQUESTS, ObjType::Map)
            .expect("put");
        tx.commit();
        doc
    }

    #[test]
    fn a_version_0_document_is_upgraded_once_and_then_reads_as_version_1() {
        let family = FamilyId::new();
        let member = MemberId::new();
        let mut doc = version_0(family, member);
        assert!(
            FamilyDoc::read(&doc).is_err(),
            "not readable before the upgrade"
        );
        let mut device = doc.fork().with_actor(ActorId::from(b"device".as_slice()));

        assert_eq!(upgrade(&mut doc).expect("upgrade"), 0);
        let read = FamilyDoc::read(&doc).expect("readable after");
        assert_eq!(read.schema_version, SCHEMA_VERSION);
        assert_eq!(read.family_id, family);
        assert_eq!(read.members.len(), 1);
        assert!(read.steps.is_empty() && read.invitations.is_empty());

        // Idempotent: a second upgrade writes nothing.
        let heads = doc.get_heads();
        assert_eq!(upgrade(&mut doc).expect("again"), SCHEMA_VERSION);
        assert_eq!(doc.get_heads(), heads);

        // A device that wrote offline against version 0 merges cleanly with the upgrade.
        let mut tx = device.transaction();
        let (_, requests) = tx
            .get(ROOT, keys::VISIT_REQUESTS)
            .expect("get")
            .expect("map");
        let request = tx.put_object(&requests, "r1", ObjType::Map).expect("put");
        let events = tx
            .put_object(&request, keys::EVENTS, ObjType::List)
            .expect("put");
        let event = tx.insert_object(&events, 0, ObjType::Map).expect("insert");
        let requested = Event::new("requested", 1, Author::Member(member));
        tx.put(&event, "kind", requested.kind).expect("put");
        tx.commit();
        doc.merge(&mut device).expect("merge");
        assert_eq!(
            crate::doc::schema_version_of(&doc).expect("version"),
            Some(SCHEMA_VERSION)
        );
    }

    #[test]
    fn a_newer_document_is_refused_and_left_alone() {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        tx.put(ROOT, keys::SCHEMA_VERSION, 99_i64).expect("put");
        tx.commit();
        let heads = doc.get_heads();
        let err = upgrade(&mut doc).expect_err("too new");
        assert_eq!(err.code(), "schema_too_new");
        assert_eq!(doc.get_heads(), heads);
    }
}
