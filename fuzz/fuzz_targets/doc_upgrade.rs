//! `reguide_protocol::doc::upgrade` on any document.
//!
//! The first byte picks the document: even, the rest is loaded with `Automerge::load` (a panic
//! inside Automerge while loading is caught and skipped: the server only loads documents it
//! saved); odd, the rest is arbitrary edits of a version-0, version-1 or empty document, by a
//! phone or by the server's actor. Then, as `upgrade`'s documentation promises:
//!
//! - it never panics; it returns the version the document had (none is version 0);
//! - an error (a newer or invalid `schema_version`) leaves the document alone;
//! - a document already at the current version is left alone; an older one gets exactly one
//!   change, by the document's actor, after which `schema_version` is current and every root
//!   collection exists;
//! - a second upgrade is a no-op.

#![no_main]

use std::mem::ManuallyDrop;

use arbitrary::{Arbitrary, Unstructured};
use automerge::transaction::CommitOptions;
use automerge::{Automerge, ROOT, ReadDoc};
use libfuzzer_sys::fuzz_target;
use reguide_fuzz::family;
use reguide_fuzz::ops::{Editor, Op};
use reguide_fuzz::panics::{caught, in_automerge};
use reguide_protocol::doc::{DocError, SCHEMA_VERSION, keys, schema_version_of, upgrade};
use reguide_protocol::sync::server_actor;

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Base {
    Version0,
    Version1,
    Empty,
}

#[derive(Arbitrary, Debug)]
struct Edited {
    base: Base,
    by_server: bool,
    ops: Vec<Op>,
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let doc = if mode % 2 == 0 {
        match caught(|| Automerge::load(rest)) {
            Ok(Ok(doc)) => doc.with_actor(server_actor()),
            _ => return,
        }
    } else {
        let Ok(edited) = Edited::arbitrary_take_rest(Unstructured::new(rest)) else {
            return;
        };
        // Automerge panics on some sequences of edits (its bug): such an input is skipped.
        let Ok(doc) = in_automerge(|| edited_document(&edited)) else {
            return;
        };
        doc
    };
    // Reading the document can panic inside Automerge too (its bug): skipped the same way. A
    // failed check of this target panics in its own code, which stays a crash.
    let _ = in_automerge(|| check(doc));
});

fn edited_document(edited: &Edited) -> Automerge {
    let base = match edited.base {
        Base::Version0 => family::version_0_document(),
        Base::Version1 => family::server_document(),
        Base::Empty => Automerge::new(),
    };
    let actor = if edited.by_server {
        server_actor()
    } else {
        family::actor(family::DEVICE_ACTOR)
    };
    let mut doc = base.with_actor(actor);
    let mut editor = Editor::new(&doc);
    // Not dropped while unwinding from a panic inside Automerge: its rollback would panic again
    // and abort the run (`panics::in_automerge` skips the input instead).
    let mut tx = ManuallyDrop::new(doc.transaction());
    for op in edited.ops.iter().take(48) {
        editor.apply(&mut tx, op);
    }
    ManuallyDrop::into_inner(tx).commit_with(CommitOptions::default().with_time(0));
    doc.with_actor(server_actor())
}

fn check(mut doc: Automerge) {
    let heads = doc.get_heads();
    let had = schema_version_of(&doc);
    // A panic inside Automerge (not in the upgrade's own code) is Automerge's bug: skipped, its
    // place printed once.
    let Ok(upgraded) = in_automerge(|| upgrade(&mut doc)) else {
        return;
    };
    match upgraded {
        Ok(found) => {
            let expected = match had {
                Ok(version) => version.unwrap_or(0),
                Err(e) => panic!("upgraded a document whose version does not read: {e}"),
            };
            assert_eq!(found, expected, "upgrade returned another version than the document had");
            assert!(
                matches!(schema_version_of(&doc), Ok(Some(SCHEMA_VERSION))),
                "not at the current version after an upgrade"
            );
            let added = doc.get_changes_meta(&heads);
            if found == SCHEMA_VERSION {
                assert_eq!(doc.get_heads(), heads, "a current document was changed");
            } else {
                assert_eq!(added.len(), 1, "an upgrade is one change");
                assert_eq!(added[0].actor.as_ref(), &server_actor(), "by the document's actor");
                for collection in keys::COLLECTIONS {
                    assert!(
                        matches!(doc.get(ROOT, collection), Ok(Some(_))),
                        "{collection} is missing after an upgrade"
                    );
                }
            }
            let upgraded = doc.get_heads();
            assert!(
                matches!(upgrade(&mut doc), Ok(SCHEMA_VERSION)),
                "a second upgrade did not find the current version"
            );
            assert_eq!(doc.get_heads(), upgraded, "a second upgrade changed the document");
        }
        Err(err) => {
            assert!(
                matches!(err, DocError::SchemaTooNew { .. } | DocError::InvalidSchemaVersion | DocError::Automerge(_)),
                "unexpected upgrade error: {err}"
            );
            assert_eq!(doc.get_heads(), heads, "a refused upgrade changed the document");
        }
    }
}
