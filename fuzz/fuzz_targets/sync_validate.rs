//! The write policy on arbitrary edits of a family document.
//!
//! A phone (Amina's) makes arbitrary edits of its copy of the family document of
//! `reguide_fuzz::family` in one change: raw Automerge operations anywhere and whole schema
//! objects with arbitrary fields. Optionally a second change follows, by the same phone,
//! another member's phone or the server's actor. Then:
//!
//! - on the phone, as `write::checked` and the policy tests do: the verdict on the patches
//!   logged while editing (`check_patches`) refuses at least what the change's net effect
//!   (`check_change`) refuses (it may refuse more: a value written and deleted in one change),
//!   and reading the document at its old heads (`check_patches_since`) gives the very same
//!   verdict as a copy of it;
//! - the phone's changes travel in a request frame (encoded, decoded) and the server handles
//!   them (`reguide_fuzz::server`): a phone's own change always loads (unless it holds a value
//!   of unknown type, which Automerge cannot load back); the server's verdict from its patch
//!   log agrees with `check_change` on its copy, which is the phone's net verdict exactly; a
//!   change by any other actor is refused;
//! - nothing panics.

#![no_main]

use std::mem::ManuallyDrop;

use arbitrary::Arbitrary;
use automerge::transaction::CommitOptions;
use automerge::{Automerge, PatchLog};
use libfuzzer_sys::fuzz_target;
use reguide_fuzz::family::{self, AMINA, DEVICE_ACTOR, OTHER_ACTOR};
use reguide_fuzz::ops::{Editor, Op};
use reguide_fuzz::panics::in_automerge;
use reguide_fuzz::server::{self, Outcome};
use reguide_protocol::doc::{Writer, check_change, check_patches, check_patches_since};
use reguide_protocol::sync::{SyncRequest, server_actor};

/// Operations per change: enough to build any object of the schema.
const MAX_OPS: usize = 48;

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Sender {
    SamePhone,
    OtherPhone,
    Server,
}

#[derive(Arbitrary, Debug)]
struct Input {
    ops: Vec<Op>,
    then: Option<(Sender, Vec<Op>)>,
    /// Whether the request carries the server's heads (else: a new device, whole document).
    knows_heads: bool,
}

struct Fixture {
    stored: Automerge,
    phone: Automerge,
    editor: Editor,
}

thread_local! {
    static FIXTURE: Fixture = {
        let stored = family::server_document();
        let phone = family::device_copy(&stored, DEVICE_ACTOR);
        let editor = Editor::new(&phone);
        Fixture { stored, phone, editor }
    };
}

/// Makes `ops` in one change, logging its patches; `None` when Automerge panicked on the way
/// (an Automerge bug, not the project's: the input is skipped).
fn edit(doc: &mut Automerge, editor: &mut Editor, ops: &[Op]) -> Option<Vec<automerge::Patch>> {
    in_automerge(|| {
        let Ok(tx) = doc.transaction_log_patches(PatchLog::active()) else {
            return Vec::new();
        };
        // Not dropped while unwinding from a panic inside Automerge: its rollback would panic
        // again and abort the run.
        let mut tx = ManuallyDrop::new(tx);
        for op in ops.iter().take(MAX_OPS) {
            editor.apply(&mut tx, op);
        }
        let (_, mut log) =
            ManuallyDrop::into_inner(tx).commit_with(CommitOptions::default().with_time(0));
        doc.make_patches(&mut log)
    })
    .ok()
}

fuzz_target!(|input: Input| {
    FIXTURE.with(|fx| run(fx, &input));
});

/// Whether any op of the input writes a value of a type Automerge does not know.
fn writes_unknown(input: &Input) -> bool {
    let then = input.then.iter().flat_map(|(_, ops)| ops.iter());
    input.ops.iter().chain(then).any(Op::writes_unknown)
}

fn run(fx: &Fixture, input: &Input) {
    let writer = Writer::FamilyDevice { member_id: AMINA };
    let before = &fx.phone;
    let mut after = before.fork().with_actor(family::actor(DEVICE_ACTOR));
    let mut editor = fx.editor.clone();
    let Some(logged) = edit(&mut after, &mut editor, &input.ops) else {
        return;
    };

    // On the phone. (Automerge 0.12 panics on some values it wrote itself: such an input is
    // skipped, its place printed once.)
    let Ok((on_device, from_log, in_place)) = in_automerge(|| {
        (
            check_change(writer, before, &after),
            check_patches(writer, before, &after, &logged),
            check_patches_since(writer, &after, &before.get_heads(), &logged),
        )
    }) else {
        return;
    };
    // Automerge cannot apply back a value of unknown type it wrote (see above).
    if on_device
        .as_ref()
        .is_err_and(|v| v.code == "malformed_changes")
        && writes_unknown(input)
    {
        return;
    }
    // What the phone runs before it commits (`from_log`, the patches logged while editing) may
    // be stricter than the change's net effect (`on_device`, what the server sees): a value
    // written and deleted in one change shows in the log, not in the change. It must never be
    // more lenient: what the phone lets through, the server must accept.
    assert!(
        from_log.is_err() || on_device.is_ok(),
        "the phone would commit a change its net effect breaks: {on_device:?} / {from_log:?}"
    );
    assert_eq!(from_log, in_place, "a copy and the old heads disagree");

    // A second change, by someone.
    let mut foreign = false;
    if let Some((sender, ops)) = &input.then {
        let actor = match sender {
            Sender::SamePhone => family::actor(DEVICE_ACTOR),
            Sender::OtherPhone => family::actor(OTHER_ACTOR),
            Sender::Server => server_actor(),
        };
        let heads = after.get_heads();
        after = after.with_actor(actor.clone());
        if edit(&mut after, &mut editor, ops).is_none() {
            return;
        }
        foreign = actor.to_bytes() != DEVICE_ACTOR && after.get_heads() != heads;
        after = after.with_actor(family::actor(DEVICE_ACTOR));
    }

    // To the server.
    let stored = &fx.stored;
    // Saving the phone's document can panic inside Automerge too: skipped the same way.
    let Ok(request) = in_automerge(|| {
        if input.knows_heads {
            SyncRequest {
                heads: stored.get_heads(),
                changes: after.save_after(&stored.get_heads()),
            }
        } else {
            SyncRequest {
                heads: Vec::new(),
                changes: after.save(),
            }
        }
    }) else {
        return;
    };
    let frame = request.encode().expect("a request encodes");
    let request = SyncRequest::decode(&frame).expect("a request decodes");
    let outcome = server::sync(stored, &request, &family::actor(DEVICE_ACTOR), AMINA);

    if foreign {
        // Not loaded at all (Automerge failed on its own output, see above) is refused too.
        if matches!(outcome, Outcome::CheckPanicked | Outcome::Malformed) {
            return;
        }
        assert!(
            matches!(&outcome, Outcome::Refused { violation, .. } if violation.code == "foreign_actor"),
            "a change by another actor was not refused as such: {outcome:?}"
        );
        return;
    }
    let copy = match &outcome {
        Outcome::Accepted { copy, .. } | Outcome::Refused { copy, .. } => copy,
        // A panic inside Automerge while checking, skipped as above.
        Outcome::CheckPanicked => return,
        // Automerge cannot load back a value of unknown type it wrote (see above).
        Outcome::Malformed if writes_unknown(input) => return,
        Outcome::Malformed | Outcome::MissingDependencies => {
            panic!("the server could not load a phone's own changes: {outcome:?}")
        }
    };
    if input.then.is_some() {
        // Two changes of the phone: the server's verdict is checked against `check_change`.
        let Ok(diff) = in_automerge(|| check_change(writer, stored, copy)) else {
            return;
        };
        assert_eq!(
            diff.is_ok(),
            matches!(outcome, Outcome::Accepted { .. }),
            "the server's logged patches and its net verdict disagree: {diff:?} / {outcome:?}"
        );
        return;
    }
    let Ok(on_server) = in_automerge(|| check_change(writer, stored, copy)) else {
        return;
    };
    assert_eq!(on_device, on_server, "the phone and the server disagree");
    assert_eq!(
        on_server.is_ok(),
        matches!(outcome, Outcome::Accepted { .. }),
        "the server's logged patches and its net verdict disagree: {on_server:?} / {outcome:?}"
    );
}
