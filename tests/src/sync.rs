//! What a test phone does with the sync wire format: build the request from its document and the
//! server heads it last saw, and take in the answer as a client does.

use automerge::{ActorId, Automerge, ChangeHash};
use reguide_protocol::sync::{ResponseKind, SyncRequest, SyncResponse};

/// The request body a device with `doc` (none before its first sync) sends, having last seen
/// `server_heads`.
pub fn request_body(doc: Option<&Automerge>, server_heads: &[ChangeHash]) -> Vec<u8> {
    let changes = doc
        .map(|doc| doc.save_after(server_heads))
        .unwrap_or_default();
    SyncRequest {
        heads: server_heads.to_vec(),
        changes,
    }
    .encode()
    .expect("encode")
}

/// Applies a successful response to `doc` (writing as `actor`), keeping local changes the
/// server did not have; returns the server's new heads.
pub fn absorb(
    doc: &mut Option<Automerge>,
    actor: &ActorId,
    response: &SyncResponse,
) -> Vec<ChangeHash> {
    match response.kind {
        ResponseKind::FullDocument => {
            let mut fresh = Automerge::load(&response.data)
                .expect("full document loads")
                .with_actor(actor.clone());
            if let Some(mut local) = doc.take() {
                fresh.merge(&mut local).expect("merge local changes");
            }
            *doc = Some(fresh);
        }
        // Written anew: nothing of the old history is kept (these test phones have no pending
        // changes to redo; the client core does).
        ResponseKind::Replaced => {
            *doc = Some(
                Automerge::load(&response.data)
                    .expect("the new document loads")
                    .with_actor(actor.clone()),
            );
        }
        ResponseKind::Changes => {
            doc.as_mut()
                .expect("changes come after a full document")
                .load_incremental(&response.data)
                .expect("changes load");
        }
    }
    response.heads.clone()
}
