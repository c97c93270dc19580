//! The sync wire frames from arbitrary bytes, then the server's handling of a decoded request.
//!
//! - `SyncRequest::decode` and `SyncResponse::decode` never panic; whatever decodes encodes
//!   back to the very same bytes and decodes to the same value.
//! - A decoded request goes through the server's sync against a family document: its changes
//!   are loaded as the server loads them (a panic inside Automerge while loading is caught, as
//!   the server catches it), then authorship and the write policy are checked, which must not
//!   panic; an accepted sync must be answerable (see `reguide_fuzz::server`).
//!
//! Seeds are real frames: changes a phone makes on the family document of
//! `reguide_fuzz::family`, accepted and refused ones (`cargo run --example seeds`).

#![no_main]

use automerge::Automerge;
use libfuzzer_sys::fuzz_target;
use reguide_fuzz::family::{self, AMINA, DEVICE_ACTOR};
use reguide_fuzz::server;
use reguide_protocol::sync::{SyncRequest, SyncResponse};

thread_local! {
    static STORED: Automerge = family::server_document();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = SyncResponse::decode(data) {
        let frame = response.encode().expect("a decoded response encodes");
        assert_eq!(frame, data, "a response frame does not encode back to itself");
        assert_eq!(SyncResponse::decode(&frame), Ok(response));
    }
    let Ok(request) = SyncRequest::decode(data) else {
        return;
    };
    let frame = request.encode().expect("a decoded request encodes");
    assert_eq!(frame, data, "a request frame does not encode back to itself");
    assert_eq!(SyncRequest::decode(&frame).as_ref(), Ok(&request));

    STORED.with(|stored| {
        let device = family::actor(DEVICE_ACTOR);
        if let server::Outcome::Accepted { copy, .. } = server::sync(stored, &request, &device, AMINA) {
            // Whatever was accepted is the device's own: nobody else's change gets in.
            for change in copy.get_changes_meta(&stored.get_heads()) {
                assert_eq!(change.actor.as_ref(), &device, "a change of another actor was accepted");
            }
        }
    });
});
