//! Redoing this device's own changes on a document that replaced ours. When the server writes a
//! family's document anew (a member's data was erased) it drops the old history; changes made
//! here since the last sync cannot be merged (they build on that history), so they are read as
//! patches (what they did, path by path) and done again on the new document as new changes of
//! this device. What no longer has a place (an entry that was removed) is left out.

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, Patch, PatchAction, Prop, ROOT, ReadDoc, Value};

/// Why one patch could not be done again.
#[derive(Debug)]
struct Skipped;

impl From<automerge::AutomergeError> for Skipped {
    fn from(_: automerge::AutomergeError) -> Self {
        Skipped
    }
}

/// The object at `path` in `tx`, walked from the root by property.
fn resolve(tx: &Transaction<'_>, path: &[(ObjId, Prop)]) -> Result<ObjId, Skipped> {
    let mut at = ROOT;
    for (_, prop) in path {
        match tx.get(&at, prop.clone())? {
            Some((Value::Object(_), id)) => at = id,
            _ => return Err(Skipped),
        }
    }
    Ok(at)
}

fn put(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    prop: Prop,
    value: &Value<'_>,
) -> Result<(), Skipped> {
    match value {
        Value::Object(kind) => {
            tx.put_object(obj, prop, *kind)?;
        }
        Value::Scalar(scalar) => tx.put(obj, prop, scalar.as_ref().clone())?,
    }
    Ok(())
}

fn insert(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    index: usize,
    value: &Value<'_>,
) -> Result<(), Skipped> {
    match value {
        Value::Object(kind) => {
            tx.insert_object(obj, index, *kind)?;
        }
        Value::Scalar(scalar) => tx.insert(obj, index, scalar.as_ref().clone())?,
    }
    Ok(())
}

fn apply(tx: &mut Transaction<'_>, patch: &Patch) -> Result<(), Skipped> {
    let obj = resolve(tx, &patch.path)?;
    match &patch.action {
        PatchAction::PutMap { key, value, .. } => put(tx, &obj, key.as_str().into(), &value.0),
        PatchAction::PutSeq { index, value, .. } => {
            if *index >= tx.length(&obj) {
                return Err(Skipped);
            }
            put(tx, &obj, (*index).into(), &value.0)
        }
        PatchAction::Insert { index, values } => {
            if *index > tx.length(&obj) {
                return Err(Skipped);
            }
            for (offset, (value, _, _)) in values.iter().enumerate() {
                insert(tx, &obj, index + offset, value)?;
            }
            Ok(())
        }
        PatchAction::SpliceText { index, value, .. } => {
            tx.splice_text(&obj, *index, 0, &value.make_string())?;
            Ok(())
        }
        PatchAction::Increment { prop, value } => Ok(tx.increment(&obj, prop.clone(), *value)?),
        PatchAction::DeleteMap { key } => Ok(tx.delete(&obj, key.as_str())?),
        PatchAction::DeleteSeq { index, length } => {
            if index + length > tx.length(&obj) {
                return Err(Skipped);
            }
            for _ in 0..*length {
                tx.delete(&obj, *index)?;
            }
            Ok(())
        }
        // Conflicts, marks and flags carry no change of their own.
        _ => Ok(()),
    }
}

/// Does `patches` again on `doc`, in one change of `doc`'s actor; answers how many had no
/// place any more and were left out.
pub(crate) fn replay(doc: &mut Automerge, patches: &[Patch]) -> usize {
    if patches.is_empty() {
        return 0;
    }
    let mut tx = doc.transaction();
    let skipped = patches
        .iter()
        .filter(|patch| apply(&mut tx, patch).is_err())
        .count();
    tx.commit();
    skipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{ActorId, ObjType};

    fn doc_with(actor: u8, edit: impl FnOnce(&mut Transaction<'_>)) -> Automerge {
        let mut doc = Automerge::new().with_actor(ActorId::from(vec![actor; 16]));
        let mut tx = doc.transaction();
        edit(&mut tx);
        tx.commit();
        doc
    }

    #[test]
    fn local_changes_are_done_again_on_a_document_written_anew() {
        // The old document, then this device's changes on it.
        let mut old = doc_with(1, |tx| {
            let steps = tx.put_object(ROOT, "steps", ObjType::Map).expect("steps");
            let step = tx.put_object(&steps, "s1", ObjType::Map).expect("step");
            tx.put(&step, "title", "Housing").expect("title");
            tx.put_object(&step, "notes", ObjType::List).expect("notes");
            tx.put(ROOT, "gone", "erased data").expect("gone");
        });
        let synced = old.get_heads();
        old.set_actor(ActorId::from(vec![2; 16]));
        let mut tx = old.transaction();
        let steps = tx.get(ROOT, "steps").expect("get").expect("steps").1;
        let step = tx.get(&steps, "s1").expect("get").expect("step").1;
        let notes = tx.get(&step, "notes").expect("get").expect("notes").1;
        let note = tx.insert_object(&notes, 0, ObjType::Map).expect("note");
        tx.put(&note, "text", "Called the CPAS").expect("text");
        tx.put(&step, "status", "done").expect("status");
        let answers = tx
            .put_object(ROOT, "gone_answers", ObjType::List)
            .expect("answers");
        tx.insert(&answers, 0, "yes").expect("answer");
        tx.commit();
        let patches = old.diff(&synced, &old.get_heads());

        // The server's new document: the same content without what was erased, no history.
        let mut fresh = doc_with(9, |tx| {
            let steps = tx.put_object(ROOT, "steps", ObjType::Map).expect("steps");
            let step = tx.put_object(&steps, "s1", ObjType::Map).expect("step");
            tx.put(&step, "title", "Housing").expect("title");
            tx.put_object(&step, "notes", ObjType::List).expect("notes");
        });
        fresh.set_actor(ActorId::from(vec![2; 16]));
        let skipped = replay(&mut fresh, &patches);
        assert_eq!(skipped, 0);

        let steps = fresh.get(ROOT, "steps").expect("get").expect("steps").1;
        let step = fresh.get(&steps, "s1").expect("get").expect("step").1;
        let status = fresh.get(&step, "status").expect("get").expect("status").0;
        assert_eq!(status.as_str(), Some("done"));
        let notes = fresh.get(&step, "notes").expect("get").expect("notes").1;
        let note = fresh.get(&notes, 0).expect("get").expect("note").1;
        let text = fresh.get(&note, "text").expect("get").expect("text").0;
        assert_eq!(text.as_str(), Some("Called the CPAS"));
        assert!(
            fresh.get(ROOT, "gone").expect("get").is_none(),
            "nothing of the old history"
        );
        // The redone changes are this device's, on top of the new document.
        let last = fresh.get_changes(&[]).last().map(|c| c.actor_id().clone());
        assert_eq!(last, Some(ActorId::from(vec![2; 16])));
    }

    #[test]
    fn changes_to_what_was_removed_are_left_out() {
        let mut old = doc_with(1, |tx| {
            let invitations = tx
                .put_object(ROOT, "invitations", ObjType::Map)
                .expect("map");
            tx.put_object(&invitations, "i1", ObjType::Map)
                .expect("invitation");
        });
        let synced = old.get_heads();
        let mut tx = old.transaction();
        let invitations = tx.get(ROOT, "invitations").expect("get").expect("map").1;
        let invitation = tx.get(&invitations, "i1").expect("get").expect("inv").1;
        tx.put(&invitation, "answer", "accepted").expect("answer");
        tx.commit();
        let patches = old.diff(&synced, &old.get_heads());
        let mut fresh = doc_with(9, |tx| {
            tx.put_object(ROOT, "invitations", ObjType::Map)
                .expect("map");
        });
        assert_eq!(replay(&mut fresh, &patches), 1);
        let invitations = fresh.get(ROOT, "invitations").expect("get").expect("map").1;
        assert_eq!(fresh.length(&invitations), 0);
    }
}
