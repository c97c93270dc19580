//! Writes the seeds made of real encodings into the checked-in corpus:
//!
//! - `corpus/sync_request/`: request frames a phone sends for the family document of
//!   `reguide_fuzz::family` (writes the policy accepts, writes it refuses, another actor's
//!   change, missing dependencies, a new device's whole document) and response frames;
//! - `corpus/doc_upgrade/`: saved documents (byte `0` then `save()`): version 0, 1, newer,
//!   an invalid `schema_version`, concurrent versions, root collections of the wrong type.
//!
//! `cargo run --example seeds [corpus-dir]` (default: `corpus` next to this crate's manifest).
//! The other targets' seeds are inputs of the `arbitrary` crate's format, kept from fuzz runs
//! (see README.md).

use std::path::{Path, PathBuf};

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue};
use reguide_fuzz::family::{
    self, AMINA, AMINA_INVITATION, APPOINTMENT, DEVICE_ACTOR, FAMILY_STEP, OTHER_ACTOR, REQUEST,
    YOUSSEF_INVITATION, commit, event,
};
use reguide_protocol::doc::write::{self, EventList};
use reguide_protocol::doc::{Author, InvitationAnswer, Note, Rsvp, keys};
use reguide_protocol::sync::{HASH_LEN, ResponseKind, SyncRequest, SyncResponse, server_actor};

type Edit = fn(&mut Transaction<'_>);

fn obj(tx: &Transaction<'_>, path: &[&str]) -> automerge::ObjId {
    let mut obj = ROOT;
    for key in path {
        obj = match tx.get(&obj, *key) {
            Ok(Some((_, id))) => id,
            _ => panic!("the fixture has {path:?}"),
        };
    }
    obj
}

/// Changes a phone makes, each as one change on top of the server's document.
fn edits() -> Vec<(&'static str, Edit)> {
    vec![
        ("accept-new-visit-request", |tx| {
            let id = "4e000000-0000-4000-8000-000000000004";
            write::put_entry(tx, keys::VISIT_REQUESTS, id, &family::visit_request(id, AMINA))
                .expect("request");
        }),
        ("accept-withdraw-requested", |tx| {
            let e = event("ev-withdraw", "withdraw_requested", 20, Author::Member(AMINA));
            write::append_event(tx, EventList::VisitRequest(REQUEST), &e).expect("event");
        }),
        ("accept-proposal-accepted", |tx| {
            let e = reguide_protocol::doc::Event {
                refers_to: Some(family::PROPOSAL.to_owned()),
                ..event("ev-accept", "proposal_accepted", 21, Author::Member(AMINA))
            };
            write::append_event(tx, EventList::VisitRequest(REQUEST), &e).expect("event");
        }),
        ("accept-tick", |tx| {
            let e = event("ev-tick", "ticked", 22, Author::Member(AMINA));
            let list = EventList::ChecklistItem { step: FAMILY_STEP, item: "form" };
            write::append_event(tx, list, &e).expect("tick");
        }),
        ("accept-note", |tx| {
            let note = Note {
                id: "note-1".into(),
                by: Author::Member(AMINA),
                at: 23,
                text: "Sent the form; waiting.".into(),
                staff_account: None,
            };
            let notes = obj(tx, &[keys::STEPS, FAMILY_STEP, keys::NOTES]);
            let len = tx.length(&notes);
            autosurgeon::reconcile_insert(tx, notes, len, &note).expect("note");
        }),
        ("accept-answer", |tx| {
            let answer = InvitationAnswer {
                answer: Rsvp::Accepted,
                note: Some("with my son".into()),
                at: 24,
                by: Author::Member(AMINA),
            };
            let answers = obj(tx, &[keys::INVITATIONS, AMINA_INVITATION, keys::ANSWERS]);
            let len = tx.length(&answers);
            autosurgeon::reconcile_insert(tx, answers, len, &answer).expect("answer");
        }),
        ("accept-appointment-tentative", |tx| {
            let e = event("ev-tentative", "tentative", 25, Author::Member(AMINA));
            write::append_event(tx, EventList::Appointment(APPOINTMENT), &e).expect("event");
        }),
        ("refuse-schema-version", |tx| {
            tx.put(ROOT, keys::SCHEMA_VERSION, 2_i64).expect("put");
        }),
        ("refuse-confirm-own-visit", |tx| {
            let e = event("ev-confirmed", "confirmed", 26, Author::Member(AMINA));
            write::append_event(tx, EventList::VisitRequest(REQUEST), &e).expect("event");
        }),
        ("refuse-delete-event", |tx| {
            let events = obj(tx, &[keys::VISIT_REQUESTS, REQUEST, keys::EVENTS]);
            tx.delete(&events, 0).expect("delete");
        }),
        ("refuse-edit-event", |tx| {
            let events = obj(tx, &[keys::VISIT_REQUESTS, REQUEST, keys::EVENTS]);
            let first = match tx.get(&events, 0) {
                Ok(Some((_, id))) => id,
                _ => panic!("an event"),
            };
            tx.put(&first, "kind", "confirmed").expect("put");
        }),
        ("refuse-other-invitation", |tx| {
            let answers = obj(tx, &[keys::INVITATIONS, YOUSSEF_INVITATION, keys::ANSWERS]);
            let answer = tx.insert_object(&answers, 1, ObjType::Map).expect("insert");
            tx.put(&answer, "answer", "declined").expect("put");
            tx.put(&answer, "at", 27_i64).expect("put");
            tx.put(&answer, "by", AMINA.to_string()).expect("put");
        }),
        ("refuse-extra-field", |tx| {
            let id = "5e000000-0000-4000-8000-000000000005";
            write::put_entry(tx, keys::VISIT_REQUESTS, id, &family::visit_request(id, AMINA))
                .expect("request");
            let entry = obj(tx, &[keys::VISIT_REQUESTS, id]);
            tx.put(&entry, "approved", true).expect("put");
        }),
        ("refuse-text-object", |tx| {
            let events = obj(tx, &[keys::VISIT_REQUESTS, REQUEST, keys::EVENTS]);
            let e = tx.insert_object(&events, 2, ObjType::Map).expect("insert");
            tx.put(&e, "id", "ev-text").expect("put");
            let kind = tx.put_object(&e, "kind", ObjType::Text).expect("text");
            tx.splice_text(&kind, 0, 0, "cancel_requested").expect("splice");
            tx.put(&e, "at", 28_i64).expect("put");
            tx.put(&e, "by", AMINA.to_string()).expect("put");
        }),
        ("refuse-counter", |tx| {
            let members = obj(tx, &[keys::MEMBERS]);
            tx.put(&members, "visits", ScalarValue::counter(1)).expect("put");
        }),
    ]
}

fn request(heads: Vec<ChangeHash>, changes: Vec<u8>) -> Vec<u8> {
    SyncRequest { heads, changes }.encode().expect("encodes")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("writable corpus");
}

fn sync_request(dir: &Path) {
    let stored = family::server_document();
    let heads = stored.get_heads();
    write(dir, "empty-request", &request(Vec::new(), Vec::new()));
    write(dir, "nothing-new", &request(heads.clone(), Vec::new()));
    for (name, edit) in edits() {
        let mut phone = family::device_copy(&stored, DEVICE_ACTOR);
        let mut tx = phone.transaction();
        edit(&mut tx);
        commit(tx);
        write(dir, name, &request(heads.clone(), phone.save_after(&heads)));
    }

    // A new device: no heads, the whole document with its change.
    let mut phone = family::device_copy(&stored, DEVICE_ACTOR);
    let mut tx = phone.transaction();
    let e = event("ev-cancel", "cancel_requested", 30, Author::Member(AMINA));
    write::append_event(&mut tx, EventList::Registration(family::REGISTRATION), &e).expect("event");
    commit(tx);
    write(dir, "new-device-whole-document", &request(Vec::new(), phone.save()));

    // Two changes, of which only the second is sent.
    let mut tx = phone.transaction();
    let e = event("ev-cancel-2", "cancel_requested", 31, Author::Member(AMINA));
    write::append_event(&mut tx, EventList::VisitRequest(REQUEST), &e).expect("event");
    commit(tx);
    let first = phone.get_heads();
    let mut tx = phone.transaction();
    let e = event("ev-cancel-3", "cancel_requested", 32, Author::Member(AMINA));
    write::append_event(&mut tx, EventList::VisitRequest(REQUEST), &e).expect("event");
    commit(tx);
    write(dir, "missing-dependencies", &request(heads.clone(), phone.save_after(&first)));

    // Another member's phone, and heads the server never had.
    let mut other = family::device_copy(&stored, OTHER_ACTOR);
    let mut tx = other.transaction();
    let e = event("ev-other", "withdraw_requested", 33, Author::Member(AMINA));
    write::append_event(&mut tx, EventList::VisitRequest(REQUEST), &e).expect("event");
    commit(tx);
    write(dir, "foreign-actor", &request(heads.clone(), other.save_after(&heads)));
    write(dir, "unknown-heads", &request(vec![ChangeHash([7; HASH_LEN])], Vec::new()));

    for (name, kind) in [
        ("response-changes", ResponseKind::Changes),
        ("response-full-document", ResponseKind::FullDocument),
        ("response-replaced", ResponseKind::Replaced),
    ] {
        let data = match kind {
            ResponseKind::Changes => other.save_after(&heads),
            _ => stored.save(),
        };
        let frame = SyncResponse {
            kind,
            heads: stored.get_heads(),
            data,
        }
        .encode()
        .expect("encodes");
        write(dir, name, &frame);
    }
}

fn saved(doc: &Automerge) -> Vec<u8> {
    let mut bytes = vec![0];
    bytes.extend(doc.save());
    bytes
}

fn with(edit: impl FnOnce(&mut Transaction<'_>)) -> Automerge {
    let mut doc = Automerge::new().with_actor(server_actor());
    let mut tx = doc.transaction();
    edit(&mut tx);
    commit(tx);
    doc
}

fn doc_upgrade(dir: &Path) {
    write(dir, "version-0", &saved(&family::version_0_document()));
    write(dir, "version-1", &saved(&family::server_document()));
    write(dir, "empty", &saved(&Automerge::new()));
    write(dir, "newer", &saved(&with(|tx| {
        tx.put(ROOT, keys::SCHEMA_VERSION, 99_i64).expect("put");
    })));
    write(dir, "negative-version", &saved(&with(|tx| {
        tx.put(ROOT, keys::SCHEMA_VERSION, -1_i64).expect("put");
    })));
    write(dir, "text-version", &saved(&with(|tx| {
        tx.put(ROOT, keys::SCHEMA_VERSION, "1").expect("put");
    })));
    write(dir, "uint-version-0", &saved(&with(|tx| {
        tx.put(ROOT, keys::SCHEMA_VERSION, 0_u64).expect("put");
    })));
    write(dir, "collections-of-another-type", &saved(&with(|tx| {
        tx.put(ROOT, keys::MEMBERS, "none").expect("put");
        tx.put_object(ROOT, keys::STEPS, ObjType::List).expect("put");
        tx.put_object(ROOT, keys::INVITATIONS, ObjType::Text).expect("put");
    })));
    // Two replicas wrote `schema_version` concurrently: a conflict.
    let mut a = family::version_0_document();
    let mut b = a.fork().with_actor(family::actor(OTHER_ACTOR));
    let mut tx = a.transaction();
    tx.put(ROOT, keys::SCHEMA_VERSION, 1_i64).expect("put");
    commit(tx);
    let mut tx = b.transaction();
    tx.put(ROOT, keys::SCHEMA_VERSION, 2_i64).expect("put");
    commit(tx);
    a.merge(&mut b).expect("merge");
    write(dir, "concurrent-versions", &saved(&a));
}

fn main() {
    let root: PathBuf = std::env::args_os()
        .nth(1)
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"), PathBuf::from);
    for (target, make) in [
        ("sync_request", sync_request as fn(&Path)),
        ("doc_upgrade", doc_upgrade),
    ] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("a corpus directory");
        make(&dir);
        println!("{}", dir.display());
    }
}
