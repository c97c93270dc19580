//! Sync of family documents: `POST /api/v1/families/{family_id}/sync` (wire format in
//! `reguide_protocol::sync`, specified in `docs/SYNC.md`).
//!
//! The server holds the authoritative copy of each family's Automerge document and never trusts
//! a change from a device. One sync, inside one write transaction that holds the family's lock:
//!
//! 1. load the stored document (creating it on the family's first sync), upgrade it to the
//!    current schema and bring its members, visit requests and family-day registrations up to
//!    date with the relational tables ([`mirror`]: staff actions since the last sync), as the
//!    server's actor;
//! 2. apply the device's changes to a *copy*, under `catch_unwind` (Automerge panics on some
//!    crafted inputs); refuse changes whose dependencies are missing instead of storing a
//!    half-applied request;
//! 3. check that every new change is by the device's own actor, then check what they change (the
//!    patches logged while loading them) against the family device write policy
//!    (`reguide_protocol::doc::policy`, the same code the phone runs before it commits);
//! 4. project what the device added into the relational domains ([`projection`]: new visit
//!    requests and registrations, the family's intents on them) and write the server's answers
//!    into the copy;
//! 5. store what the copy added as one increment and answer with what the client lacks,
//!    including the server's answers.
//!
//! Any refusal returns before step 5 and the transaction rolls back: a rejected request stores
//! nothing. Loading changes the server already has is a no-op, so a retried request changes
//! nothing. All Automerge work is CPU-bound and runs on the blocking pool with the transaction.

pub mod api;
pub mod cache;
pub mod mirror;
pub mod projection;
pub mod store;

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::{ActorId, Automerge, ChangeHash, ReadDoc};
use diesel::prelude::*;
use reguide_protocol::doc;
use reguide_protocol::sync::{ResponseKind, SyncRequest, SyncResponse, server_actor};
use reguide_protocol::{AccountId, DeviceId, FamilyId, MemberId};

use self::cache::{DocCache, Loaded};
use crate::db::DbConn;
use crate::db::schema::devices;
use crate::error::{ApiError, ApiResult};

/// Who is syncing: a device of a member of the family.
#[derive(Clone, Copy, Debug)]
pub struct Syncer {
    pub family: FamilyId,
    pub member: MemberId,
    pub device: DeviceId,
    /// The account signed in on the device: the actor of what the sync does in the domains.
    pub account: AccountId,
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(anyhow::anyhow!("{what}: {e}"))
}

/// The Automerge actor id enrolled for `device`.
fn device_actor(conn: &mut DbConn, device: DeviceId) -> ApiResult<ActorId> {
    let hex_id: Option<String> = devices::table
        .find(device.to_string())
        .filter(devices::revoked_at.is_null())
        .select(devices::actor_id)
        .first(conn)
        .optional()?;
    let hex_id = hex_id.ok_or_else(|| {
        ApiError::refused("device_required", "this device is not enrolled (any more)")
    })?;
    let bytes = hex::decode(hex_id).map_err(|e| internal("a stored actor id", e))?;
    Ok(ActorId::from(bytes))
}

/// Runs one sync; call inside a write transaction. Starts from the family's document in `docs`
/// when it is there and still what is stored, and answers with the document as it stored it,
/// for the caller to put back into `docs` once the transaction has committed.
pub fn sync(
    conn: &mut DbConn,
    docs: &DocCache,
    who: Syncer,
    request: SyncRequest,
) -> ApiResult<(SyncResponse, Loaded)> {
    let actor = device_actor(conn, who.device)?;
    let mut stored = store::lock_or_create_from(conn, who.family, docs.take(who.family))?;

    // The server's own changes first: they are stored with the device's, or not at all.
    let mut base = std::mem::take(&mut stored.doc);
    doc::upgrade(&mut base).map_err(|e| internal("upgrading a family document", e))?;
    store::put_members(conn, who.family, &mut base)?;
    mirror::mirror(conn, who.family, &mut base, mirror::Scope::Family)?;

    let client_knows_heads = !request.heads.is_empty()
        && request
            .heads
            .iter()
            .all(|h| base.get_change_meta_by_hash(h).is_some());

    // A device still on a history dropped since (a member's data was erased): it replaces its
    // document with this one and redoes its own changes on it; what it sent now is set aside.
    if !request.heads.is_empty()
        && !client_knows_heads
        && store::is_retired(conn, who.family, &request.heads)?
    {
        return store_and_respond(conn, who.family, &stored, base, ResponseKind::Replaced, &[]);
    }

    let mut copy = base.fork().with_actor(server_actor());
    let patches = if request.changes.is_empty() {
        Vec::new()
    } else {
        apply(&mut copy, &request.changes)?
    };
    if !copy.get_missing_deps(&[]).is_empty() {
        if request.heads.is_empty() || client_knows_heads {
            return Err(ApiError::conflict(
                "missing_dependencies",
                "the changes depend on changes the server does not have: send your whole \
                 document with no heads",
            ));
        }
        // Recovery: the client's heads are unknown here (the server was restored from a backup,
        // say). Its changes are set aside; it gets the whole document, merges, and syncs again.
        return store_and_respond(
            conn,
            who.family,
            &stored,
            base,
            ResponseKind::FullDocument,
            &[],
        );
    }

    validate(&base, &copy, &patches, &actor, who.member)?;

    // What the client has now: the heads it sent and the changes it just sent (not the
    // server's answers the projection is about to add).
    let mut has: Vec<ChangeHash> = request.heads.clone();
    has.extend(
        copy.get_changes_meta(&base.get_heads())
            .iter()
            .map(|c| c.hash),
    );
    projection::project(conn, who, &base, &mut copy, &patches, chrono::Utc::now())?;
    if client_knows_heads {
        store_and_respond(conn, who.family, &stored, copy, ResponseKind::Changes, &has)
    } else {
        store_and_respond(
            conn,
            who.family,
            &stored,
            copy,
            ResponseKind::FullDocument,
            &[],
        )
    }
}

/// Stores what `doc` adds to `stored` ([`store::save`]) and answers with `kind`, handing `doc`
/// back as stored, for the cache.
fn store_and_respond(
    conn: &mut DbConn,
    family: FamilyId,
    stored: &store::Stored,
    doc: Automerge,
    kind: ResponseKind,
    has: &[ChangeHash],
) -> ApiResult<(SyncResponse, Loaded)> {
    let layout = store::save(conn, family, stored, &doc)?;
    let response = respond(&doc, kind, has)?;
    Ok((
        response,
        Loaded {
            family,
            doc,
            layout,
        },
    ))
}

/// Loads `changes` into `copy` ([`doc::incoming::load_changes`]), turning errors and panics
/// into `400 malformed_changes`, and returns the patches they make.
fn apply(copy: &mut Automerge, changes: &[u8]) -> ApiResult<Vec<automerge::Patch>> {
    let malformed = |detail: String| {
        ApiError::bad_request(
            "malformed_changes",
            format!("the changes are not valid Automerge data{detail}"),
        )
    };
    match catch_unwind(AssertUnwindSafe(|| {
        doc::incoming::load_changes(copy, changes)
    })) {
        Ok(Ok(patches)) => Ok(patches),
        Ok(Err(e)) => Err(malformed(format!(": {e}"))),
        Err(_) => Err(malformed(String::new())),
    }
}

/// Authorship and write policy of everything `copy` has that `base` has not
/// ([`doc::incoming::check_device_changes`]); a panic is the device's malformed data.
fn validate(
    base: &Automerge,
    copy: &Automerge,
    patches: &[automerge::Patch],
    actor: &ActorId,
    member: MemberId,
) -> ApiResult<()> {
    let verdict = catch_unwind(AssertUnwindSafe(|| {
        doc::incoming::check_device_changes(base, copy, patches, actor, member)
    }));
    match verdict {
        Ok(Ok(())) => Ok(()),
        Ok(Err(violation)) => Err(ApiError::Refused {
            code: violation.code,
            field: (!violation.path.is_empty()).then(|| violation.path.clone()),
            message: violation.message.into(),
        }),
        Err(_) => Err(ApiError::bad_request(
            "malformed_changes",
            "the changes could not be checked against the document",
        )),
    }
}

fn respond(doc: &Automerge, kind: ResponseKind, has: &[ChangeHash]) -> ApiResult<SyncResponse> {
    let data = match kind {
        ResponseKind::FullDocument | ResponseKind::Replaced => doc.save(),
        ResponseKind::Changes => doc.save_after(has),
    };
    Ok(SyncResponse {
        kind,
        heads: doc.get_heads(),
        data,
    })
}

#[cfg(test)]
mod tests {
    //! Hostile bytes against the validation pipeline, without a database: whatever a device
    //! sends, `apply` and `validate` answer with a client error or accept it, never panic and
    //! never fail as the server's fault, and the stored document (`base`) is never touched.

    use automerge::{ActorId, Automerge, ReadDoc};
    use proptest::prelude::*;
    use reguide_protocol::doc::write::{self, NewDocVisitRequest};
    use reguide_protocol::doc::{DocMember, Writer};
    use reguide_protocol::sync::server_actor;
    use reguide_protocol::visits::{SlotChoice, VisitType};
    use reguide_protocol::{DetaineeId, FamilyId, Language, MemberId, PrisonId};

    use super::{apply, validate};
    use crate::error::ApiError;

    struct Fixture {
        base: Automerge,
        device: ActorId,
        member: MemberId,
        /// A valid change of the device: a new visit request.
        change: Vec<u8>,
    }

    fn fixture() -> Fixture {
        let member = MemberId::new();
        let mut base = reguide_protocol::doc::new_document(FamilyId::new(), server_actor())
            .expect("a new document");
        let mut tx = base.transaction();
        let fatima = DocMember {
            display_name: "Member".into(),
            relation: "mother".into(),
            language: Language::Fr,
        };
        write::put_member(&mut tx, member, &fatima).expect("member");
        tx.commit();
        let device = ActorId::from(&[7_u8; 16][..]);
        let mut phone = base.fork().with_actor(device.clone());
        write::checked(
            &mut phone,
            Writer::FamilyDevice { member_id: member },
            |tx| {
                let request = NewDocVisitRequest {
                    detainee_id: DetaineeId::new(),
                    prison_id: PrisonId::new(),
                    visit_type: VisitType::Table,
                    preferences: vec![SlotChoice {
                        template_id: uuid::Uuid::new_v4(),
                        date: chrono::NaiveDate::from_ymd_opt(2030, 1, 7).expect("date"),
                    }],
                    visitors: vec![member],
                    support_needs: vec![],
                    support_note: None,
                };
                write::request_visit(tx, member, request, 1_000)
            },
        )
        .expect("a valid request");
        let change = phone.save_after(&base.get_heads());
        Fixture {
            base,
            device,
            member,
            change,
        }
    }

    /// Runs the pipeline on `bytes`; fails the property on a server-side error.
    fn check(fixture: &Fixture, bytes: &[u8]) -> Result<bool, TestCaseError> {
        let heads = fixture.base.get_heads();
        let mut copy = fixture.base.fork().with_actor(server_actor());
        let outcome = apply(&mut copy, bytes).and_then(|patches| {
            if copy.get_missing_deps(&[]).is_empty() {
                validate(
                    &fixture.base,
                    &copy,
                    &patches,
                    &fixture.device,
                    fixture.member,
                )
            } else {
                Ok(())
            }
        });
        prop_assert_eq!(
            fixture.base.get_heads(),
            heads,
            "the stored document changed"
        );
        match outcome {
            Ok(()) => Ok(true),
            Err(
                ApiError::Invalid { .. } | ApiError::Refused { .. } | ApiError::Conflict { .. },
            ) => Ok(false),
            Err(e) => Err(TestCaseError::fail(format!("a server error: {e:?}"))),
        }
    }

    #[test]
    fn the_valid_change_passes() {
        let fixture = fixture();
        assert!(matches!(check(&fixture, &fixture.change), Ok(true)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn random_bytes_are_refused_as_client_errors(
            bytes in proptest::collection::vec(any::<u8>(), 0..1024),
        ) {
            let fixture = fixture();
            check(&fixture, &bytes)?;
        }

        #[test]
        fn truncated_changes_are_refused(cut in 0.0_f64..1.0) {
            let fixture = fixture();
            let at = (fixture.change.len() as f64 * cut) as usize;
            let accepted = check(&fixture, &fixture.change[..at])?;
            // Only the empty prefix (no change at all) is acceptable.
            prop_assert!(!accepted || at == 0, "a truncated change of {at} bytes was accepted");
        }

        #[test]
        fn changes_with_a_flipped_byte_never_break_the_server(
            position in 0.0_f64..1.0,
            flip in 1_u8..=255,
        ) {
            let fixture = fixture();
            let mut bytes = fixture.change.clone();
            let at = ((bytes.len() - 1) as f64 * position) as usize;
            bytes[at] ^= flip;
            check(&fixture, &bytes)?;
        }
    }
}
