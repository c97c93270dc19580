//! The server's handling of a sync request, without the database: `reguide_server::sync::sync`
//! from the point where the stored document is loaded and upgraded, through the same
//! `reguide_protocol::doc::incoming` functions: load the device's changes strictly into a copy
//! with a patch log; refuse missing dependencies; check authorship and the write policy.

use automerge::{ActorId, Automerge, ChangeHash, Patch, ReadDoc};
use reguide_protocol::MemberId;
use reguide_protocol::doc::{self, PolicyViolation};
use reguide_protocol::sync::{ResponseKind, SyncRequest, SyncResponse, server_actor};

use crate::panics::{caught, in_automerge};

/// How a sync ended.
#[derive(Debug)]
pub enum Outcome {
    /// `400 malformed_changes`.
    Malformed,
    /// `409 missing_dependencies`, or a full document for a client whose heads are unknown.
    MissingDependencies,
    /// `400 malformed_changes`: Automerge panicked while the changes were checked.
    CheckPanicked,
    /// `403` with the policy's code; the copy holds the refused changes.
    Refused { violation: PolicyViolation, copy: Automerge },
    /// Accepted: the copy with the device's changes, and the patches they made.
    Accepted { copy: Automerge, patches: Vec<Patch> },
}

/// Loads `changes` into `copy` as the server does ([`doc::incoming::load_changes`]); `None`
/// where the server answers `400 malformed_changes` (an error, or a panic inside Automerge).
pub fn apply(copy: &mut Automerge, changes: &[u8]) -> Option<Vec<Patch>> {
    match caught(|| doc::incoming::load_changes(copy, changes)) {
        Ok(Ok(patches)) => Some(patches),
        Ok(Err(_)) | Err(()) => None,
    }
}

/// Authorship and write policy as the server checks them. The server catches any panic here;
/// the targets catch only those raised inside Automerge: the policy promises not to panic on
/// document data.
pub use reguide_protocol::doc::incoming::check_device_changes as validate;

/// One sync of `request` by `member`'s device `actor` against the stored document `stored`.
pub fn sync(stored: &Automerge, request: &SyncRequest, actor: &ActorId, member: MemberId) -> Outcome {
    let mut base = stored.fork().with_actor(server_actor());
    if doc::upgrade(&mut base).is_err() {
        return Outcome::Malformed;
    }
    let mut copy = base.fork().with_actor(server_actor());
    let patches = if request.changes.is_empty() {
        Vec::new()
    } else {
        match apply(&mut copy, &request.changes) {
            Some(patches) => patches,
            None => return Outcome::Malformed,
        }
    };
    if !copy.get_missing_deps(&[]).is_empty() {
        return Outcome::MissingDependencies;
    }
    let Ok(verdict) = in_automerge(|| validate(&base, &copy, &patches, actor, member)) else {
        return Outcome::CheckPanicked;
    };
    match verdict {
        Ok(()) => {
            respond(&base, &copy, request);
            Outcome::Accepted { copy, patches }
        }
        Err(violation) => Outcome::Refused { violation, copy },
    }
}

/// The server's answer to an accepted sync must encode, decode to itself, and bring the device
/// to the server's heads.
fn respond(base: &Automerge, copy: &Automerge, request: &SyncRequest) {
    let client_knows_heads = !request.heads.is_empty()
        && request
            .heads
            .iter()
            .all(|h| base.get_change_meta_by_hash(h).is_some());
    let mut has: Vec<ChangeHash> = request.heads.clone();
    has.extend(copy.get_changes_meta(&base.get_heads()).iter().map(|c| c.hash));
    let (kind, data) = if client_knows_heads {
        (ResponseKind::Changes, copy.save_after(&has))
    } else {
        (ResponseKind::FullDocument, copy.save())
    };
    let response = SyncResponse {
        kind,
        heads: copy.get_heads(),
        data,
    };
    let frame = match response.encode() {
        Ok(frame) => frame,
        Err(e) => panic!(
            "an accepted sync cannot be answered ({e}): the family's document has {} heads",
            copy.get_heads().len()
        ),
    };
    assert_eq!(SyncResponse::decode(&frame).as_ref(), Ok(&response));
}
