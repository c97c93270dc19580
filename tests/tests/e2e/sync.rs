//! Sync of family documents: real devices (Automerge documents with their enrolled actor ids)
//! against `POST /api/v1/families/{id}/sync`, on both backends. What is accepted, what is
//! refused and that a refusal stores nothing, idempotence, recovery, and hostile input.

use automerge::{ActorId, Automerge, ChangeHash};
use chrono::Weekday;
use reguide_tests::protocol::api::{EnrolResponse, EnrolmentCode, TokenResponse};
use reguide_tests::protocol::doc::status::{
    RegistrationEventKind, RegistrationState, VisitEventKind, registration_status,
    visit_request_status,
};
use reguide_tests::protocol::doc::write::{self, EventList, NewDocVisitRequest};
use reguide_tests::protocol::doc::{Author, Event, FamilyDoc, Writer};
use reguide_tests::protocol::sync::{ResponseKind, SyncRequest, SyncResponse};
use reguide_tests::protocol::visits::{SlotChoice, VisitRequest, VisitStatus, VisitType};
use reguide_tests::protocol::{DetaineeId, FamilyId, MemberId, PrisonId};
use reguide_tests::visits::next_weekday;
use reguide_tests::{DemoUser, TestApp, assert_error, both_backends, expect_json, member_named};
use serde_json::json;

const OCTET: &str = "application/octet-stream";

fn sync_path(family: FamilyId) -> String {
    format!("/api/v1/families/{family}/sync")
}

/// A phone: its token, its actor, its copy of the document and the server heads it last saw.
struct Device {
    token: String,
    actor: ActorId,
    member: MemberId,
    family: FamilyId,
    doc: Option<Automerge>,
    server_heads: Vec<ChangeHash>,
}

/// Fatima signs in on a new device named `name`.
async fn fatima_device(app: &TestApp, name: &str) -> Device {
    let body = json!({
        "email": DemoUser::FamilyMember.email(),
        "password": reguide_tests::DEMO_PASSWORD,
        "device_name": name,
    });
    let session: TokenResponse =
        expect_json(app.post_json("/api/v1/auth/login", None, &body).await, 200).await;
    let device = session.device.expect("a device is enrolled");
    let me = app.me(&session.token).await;
    let membership = me.member_of.first().expect("Fatima is a family member");
    Device {
        actor: ActorId::from(hex::decode(&device.actor_id).expect("hex actor id")),
        token: session.token,
        member: membership.member_id,
        family: membership.family_id,
        doc: None,
        server_heads: Vec::new(),
    }
}

impl Device {
    /// The request this device would send now.
    fn request(&self) -> Vec<u8> {
        reguide_tests::sync::request_body(self.doc.as_ref(), &self.server_heads)
    }

    /// Applies a successful response, as a client does.
    fn absorb(&mut self, response: &SyncResponse) {
        self.server_heads = reguide_tests::sync::absorb(&mut self.doc, &self.actor, response);
    }

    fn doc(&mut self) -> &mut Automerge {
        self.doc.as_mut().expect("synced once")
    }

    fn read(&self) -> FamilyDoc {
        FamilyDoc::read(self.doc.as_ref().expect("synced once")).expect("reads as FamilyDoc")
    }

    /// Opens a visit request through the policy-checked helper; returns its id.
    fn request_visit(&mut self) -> String {
        let member = self.member;
        let writer = Writer::FamilyDevice { member_id: member };
        write::checked(self.doc(), writer, |tx| {
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
        })
        .expect("a valid request")
    }
}

async fn post_sync(
    app: &TestApp,
    family: FamilyId,
    token: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.post_raw(&sync_path(family), Some(token), OCTET, body)
        .await
}

/// Syncs `device`, expecting success.
async fn sync(app: &TestApp, device: &mut Device) -> SyncResponse {
    let resp = post_sync(app, device.family, &device.token, device.request()).await;
    let status = resp.status();
    let bytes = resp.bytes().await.expect("body");
    assert_eq!(
        status,
        200,
        "sync refused: {}",
        String::from_utf8_lossy(&bytes)
    );
    let response = SyncResponse::decode(&bytes).expect("a valid response frame");
    device.absorb(&response);
    response
}

/// A device that has synced once, with the server's document.
async fn synced_device(app: &TestApp, name: &str) -> Device {
    let mut device = fatima_device(app, name).await;
    let first = sync(app, &mut device).await;
    assert_eq!(first.kind, ResponseKind::FullDocument);
    device
}

/// The server's heads now, as a fresh client sees them.
async fn server_heads(app: &TestApp, token: &str, family: FamilyId) -> Vec<ChangeHash> {
    let body = SyncRequest {
        heads: vec![],
        changes: vec![],
    }
    .encode()
    .expect("encode");
    let resp = post_sync(app, family, token, body).await;
    assert_eq!(resp.status(), 200);
    let response = SyncResponse::decode(&resp.bytes().await.expect("body")).expect("frame");
    let mut heads = response.heads;
    heads.sort();
    heads
}

both_backends! {
    async fn a_new_device_gets_the_whole_document(app: TestApp) {
        let demo = app.demo_data().await;
        let device = synced_device(&app, "Phone").await;
        assert_eq!(device.family, demo.family_a);
        let doc = device.read();
        assert_eq!(doc.family_id, demo.family_a);
        let family = app.family(&device.token, demo.family_a).await;
        let fatima = member_named(&family, "Fatima Benali");
        assert_eq!(doc.members[&fatima.id.to_string()].display_name, "Fatima Benali");
        assert_eq!(doc.members.len(), family.members.len(), "every member is in the document");
    }

    async fn a_change_reaches_another_device(app: TestApp) {
        let mut phone = synced_device(&app, "Phone").await;
        let mut tablet = synced_device(&app, "Tablet").await;
        assert_ne!(phone.actor, tablet.actor, "each device has its own actor");

        let request = phone.request_visit();
        let pushed = sync(&app, &mut phone).await;
        assert_eq!(pushed.kind, ResponseKind::Changes);
        // The only news for the phone is the server's answer (the made-up prisoner is unknown).
        let events = &phone.read().visit_requests[&request].events;
        assert_eq!(visit_request_status(events), VisitStatus::Declined, "{events:?}");
        let mut phone_heads = phone.doc().get_heads();
        phone_heads.sort();
        let mut answered = pushed.heads.clone();
        answered.sort();
        assert_eq!(answered, phone_heads, "the server now has exactly the phone's document");

        let pulled = sync(&app, &mut tablet).await;
        assert_eq!(pulled.kind, ResponseKind::Changes);
        assert!(tablet.read().visit_requests.contains_key(&request));
        assert_eq!(tablet.read(), phone.read());
    }

    async fn the_same_request_twice_changes_nothing(app: TestApp) {
        let mut phone = synced_device(&app, "Phone").await;
        // The demo family's visits made at the desk are in the document already.
        let baseline = phone.read().visit_requests.len();
        phone.request_visit();
        let body = phone.request();
        let first = post_sync(&app, phone.family, &phone.token, body.clone()).await;
        assert_eq!(first.status(), 200);
        let first = SyncResponse::decode(&first.bytes().await.expect("body")).expect("frame");
        let second = post_sync(&app, phone.family, &phone.token, body).await;
        assert_eq!(second.status(), 200);
        let second = SyncResponse::decode(&second.bytes().await.expect("body")).expect("frame");
        assert_eq!(first.heads, second.heads, "the retry changed the server's document");

        let mut tablet = synced_device(&app, "Tablet").await;
        assert_eq!(tablet.read().visit_requests.len(), baseline + 1, "nothing duplicated");
        sync(&app, &mut tablet).await;
        let mut heads = tablet.doc().get_heads();
        heads.sort();
        let mut expected = second.heads.clone();
        expected.sort();
        assert_eq!(heads, expected);
    }

    async fn changes_by_another_actor_are_refused_and_not_stored(app: TestApp) {
        let mut phone = synced_device(&app, "Phone").await;
        let before = server_heads(&app, &phone.token, phone.family).await;
        // A modified client writes with an actor id of its own choosing.
        let forged = ActorId::random();
        let doc = phone.doc().fork().with_actor(forged);
        phone.doc = Some(doc);
        phone.request_visit();
        let resp = post_sync(&app, phone.family, &phone.token, phone.request()).await;
        assert_error(resp, 403, "foreign_actor").await;
        assert_eq!(server_heads(&app, &phone.token, phone.family).await, before);
    }

    async fn a_policy_violation_is_refused_with_its_path_and_not_stored(app: TestApp) {
        let mut phone = synced_device(&app, "Phone").await;
        let request = phone.request_visit();
        sync(&app, &mut phone).await;
        let before = server_heads(&app, &phone.token, phone.family).await;

        // Confirming one's own visit is the server's job.
        let member = phone.member;
        let mut tx = phone.doc().transaction();
        write::append_event(
            &mut tx,
            EventList::VisitRequest(&request),
            &Event::new("confirmed", 2_000, Author::Member(member)),
        )
        .expect("append");
        tx.commit();
        let resp = post_sync(&app, phone.family, &phone.token, phone.request()).await;
        let body = assert_error(resp, 403, "event_kind_not_allowed").await;
        let field = body.field.expect("the path is named");
        assert!(field.starts_with(&format!("visit_requests/{request}")), "{field}");
        assert_eq!(server_heads(&app, &phone.token, phone.family).await, before);

        // A server-only path.
        let mut phone = synced_device(&app, "Tablet").await;
        let mut tx = phone.doc().transaction();
        automerge::transaction::Transactable::put(&mut tx, automerge::ROOT, "family_id", "x")
            .expect("put");
        tx.commit();
        let resp = post_sync(&app, phone.family, &phone.token, phone.request()).await;
        let body = assert_error(resp, 403, "server_only_path").await;
        assert_eq!(body.field.as_deref(), Some("family_id"));
        assert_eq!(server_heads(&app, &phone.token, phone.family).await, before);
    }

    async fn unknown_heads_get_the_whole_document(app: TestApp) {
        let mut phone = synced_device(&app, "Phone").await;
        let request = phone.request_visit();
        // The phone believes in heads the server never had (a restored backup, say).
        phone.server_heads = vec![ChangeHash([7; 32])];
        let resp = sync(&app, &mut phone).await;
        assert_eq!(resp.kind, ResponseKind::FullDocument);
        // Its own change was set aside; one more round trip brings it in.
        let again = sync(&app, &mut phone).await;
        assert_eq!(again.kind, ResponseKind::Changes);
        let tablet = synced_device(&app, "Tablet").await;
        assert!(tablet.read().visit_requests.contains_key(&request));
    }

    async fn missing_dependencies_ask_for_the_whole_document(app: TestApp) {
        let mut phone = synced_device(&app, "Phone").await;
        let baseline = phone.read().visit_requests.len();
        let server_heads_now = phone.server_heads.clone();
        phone.request_visit();
        let first_heads = phone.doc().get_heads();
        phone.request_visit();
        // Only the second change, whose dependency the server lacks.
        let changes = phone.doc().save_after(&first_heads);
        let body = SyncRequest { heads: server_heads_now, changes }.encode().expect("encode");
        let resp = post_sync(&app, phone.family, &phone.token, body).await;
        assert_error(resp, 409, "missing_dependencies").await;
        // The recovery: no heads, the whole document.
        let whole = SyncRequest { heads: vec![], changes: phone.doc().save() }
            .encode()
            .expect("encode");
        let resp = post_sync(&app, phone.family, &phone.token, whole).await;
        assert_eq!(resp.status(), 200);
        let tablet = synced_device(&app, "Tablet").await;
        assert_eq!(tablet.read().visit_requests.len(), baseline + 2);
    }

    async fn malformed_input_gets_a_4xx_and_the_server_keeps_serving(app: TestApp) {
        let phone = synced_device(&app, "Phone").await;
        let (family, token) = (phone.family, phone.token.as_str());
        let heads = phone.server_heads.clone();

        let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for (body, code) in [
            (noise.clone(), "malformed_sync_request"),
            (vec![], "malformed_sync_request"),
            (vec![1, 3, 0, 0], "malformed_sync_request"),
            (vec![2, 0], "malformed_sync_request"),
        ] {
            assert_error(post_sync(&app, family, token, body).await, 400, code).await;
        }
        // A valid frame around bytes that are not Automerge, or a truncated change.
        let mut frame = SyncRequest { heads: heads.clone(), changes: noise }.encode().expect("encode");
        assert_error(post_sync(&app, family, token, frame.clone()).await, 400, "malformed_changes").await;
        let mut other = Automerge::new();
        let mut tx = other.transaction();
        automerge::transaction::Transactable::put(&mut tx, automerge::ROOT, "hello", "world")
            .expect("put");
        tx.commit();
        let saved = other.save();
        frame = SyncRequest { heads: heads.clone(), changes: saved[..saved.len() - 5].to_vec() }
            .encode()
            .expect("encode");
        let resp = post_sync(&app, family, token, frame).await;
        assert_error(resp, 400, "malformed_changes").await;

        // Valid Automerge, but another document and not our schema, by another actor…
        frame = SyncRequest { heads: heads.clone(), changes: saved }.encode().expect("encode");
        let resp = post_sync(&app, family, token, frame).await;
        assert_error(resp, 403, "foreign_actor").await;
        // …and by the device's own actor.
        let mut own = Automerge::new().with_actor(phone.actor.clone());
        let mut tx = own.transaction();
        automerge::transaction::Transactable::put(&mut tx, automerge::ROOT, "hello", "world")
            .expect("put");
        tx.commit();
        frame = SyncRequest { heads: vec![], changes: own.save() }.encode().expect("encode");
        let resp = post_sync(&app, family, token, frame).await;
        assert!(resp.status().is_client_error(), "got {}", resp.status());

        // Wrong content type, too big.
        let resp = app.post_raw(&sync_path(family), Some(token), "application/json", vec![1, 0]).await;
        assert_error(resp, 415, "unsupported_media_type").await;
        let huge = vec![0u8; 1024 * 1024 + 1];
        assert_error(post_sync(&app, family, token, huge).await, 413, "payload_too_large").await;

        app.assert_healthy().await;
        // And the family still syncs.
        let mut phone = phone;
        phone.request_visit();
        sync(&app, &mut phone).await;
    }

    async fn only_devices_of_the_family_may_sync(app: TestApp) {
        let demo = app.demo_data().await;
        let empty = SyncRequest { heads: vec![], changes: vec![] }.encode().expect("encode");

        // Fatima's plain session token.
        let session = app.login_as(DemoUser::FamilyMember).await;
        let resp = post_sync(&app, demo.family_a, &session, empty.clone()).await;
        assert_error(resp, 403, "device_required").await;

        // A device of a member of another family: Els of family B enrols.
        let social = app.login_as(DemoUser::SocialWorker).await;
        let els = member_named(&app.family(&social, demo.family_b).await, "Els Janssens").id;
        let path = format!("/api/v1/families/{}/members/{els}/enrolment-codes", demo.family_b);
        let code: EnrolmentCode = expect_json(app.post_empty(&path, Some(&social)).await, 201).await;
        let body = json!({ "code": code.code, "password": "a long enough secret", "device_name": "phone" });
        let enrolled: reguide_tests::protocol::api::EnrolResponse =
            expect_json(app.post_json("/api/v1/auth/enrol", None, &body).await, 200).await;
        let els_token = enrolled.session.token;
        let resp = post_sync(&app, demo.family_a, &els_token, empty.clone()).await;
        assert_error(resp, 404, "family_not_found").await;
        let resp = post_sync(&app, demo.family_b, &els_token, empty.clone()).await;
        assert_eq!(resp.status(), 200, "Els syncs her own family");

        // Staff, with or without a device.
        for user in [DemoUser::Admin, DemoUser::SocialWorker, DemoUser::Coordinator] {
            let token = app.login_as(user).await;
            let resp = post_sync(&app, demo.family_a, &token, empty.clone()).await;
            assert_error(resp, 403, "device_required").await;
            let body = json!({ "email": user.email(), "password": reguide_tests::DEMO_PASSWORD, "device_name": "desk" });
            let resp = app.post_json("/api/v1/auth/login", None, &body).await;
            if resp.status() == 200 {
                let session: TokenResponse = resp.json().await.expect("token");
                let resp = post_sync(&app, demo.family_a, &session.token, empty.clone()).await;
                let status = resp.status().as_u16();
                assert!(status == 403 || status == 404, "{user:?} with a device got {status}");
            }
        }
        // No token at all.
        let resp = app.post_raw(&sync_path(demo.family_a), None, OCTET, empty).await;
        assert_error(resp, 401, "unauthenticated").await;
    }
}

both_backends! {
    async fn members_added_later_reach_the_document(app: TestApp) {
        let mut phone = synced_device(&app, "Phone").await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let body = json!({ "display_name": "Sara Benali", "relation": "sibling", "preferred_language": "fr" });
        let path = format!("/api/v1/families/{}/members", phone.family);
        let resp = app.post_json(&path, Some(&social), &body).await;
        assert_eq!(resp.status(), 201);
        let pulled = sync(&app, &mut phone).await;
        assert_eq!(pulled.kind, ResponseKind::Changes);
        assert!(
            phone.read().members.values().any(|m| m.display_name == "Sara Benali"),
            "the new member is in the document"
        );
        // Nothing new: the members are up to date and no empty change is written.
        let again = sync(&app, &mut phone).await;
        assert!(again.data.is_empty());
        assert_eq!(again.heads, pulled.heads);
    }

    async fn concurrent_syncs_of_one_family_all_land(app: TestApp) {
        let mut phones = Vec::new();
        let mut baseline = 0;
        for name in ["One", "Two", "Three"] {
            let mut phone = synced_device(&app, name).await;
            baseline = phone.read().visit_requests.len();
            phone.request_visit();
            phones.push(phone);
        }
        let requests: Vec<_> = phones
            .iter()
            .map(|p| post_sync(&app, p.family, &p.token, p.request()))
            .collect();
        for resp in futures_util::future::join_all(requests).await {
            assert_eq!(resp.status(), 200);
        }
        let reader = synced_device(&app, "Reader").await;
        assert_eq!(reader.read().visit_requests.len(), baseline + 3, "every sync landed");
    }

    async fn a_long_history_survives_compaction(app: TestApp) {
        let mut phone = synced_device(&app, "Phone").await;
        let baseline = phone.read().visit_requests.len();
        for _ in 0..24 {
            phone.request_visit();
            let pushed = sync(&app, &mut phone).await;
            assert_eq!(pushed.kind, ResponseKind::Changes);
        }
        // Counts the stored increments without changing them.
        let increments =
            app.execute_sql("UPDATE family_document_increments SET created_at = created_at");
        assert!(increments < 24, "the increments were compacted ({increments} left)");
        let reader = synced_device(&app, "Reader").await;
        assert_eq!(reader.read().visit_requests.len(), baseline + 24);
        assert_eq!(reader.read(), phone.read());
    }

    /// Each instance keeps the documents it loaded between syncs: what the other instance
    /// stored meanwhile (increments, then a compacted snapshot) must reach every phone.
    async fn two_instances_keep_their_documents_in_step(app: TestApp) {
        let second = app.spawn_second_instance().await;
        let mut one = synced_device(&app, "One").await;
        let mut two = synced_device(&second, "Two").await;
        let baseline = one.read().visit_requests.len();
        for round in 1..=16 {
            one.request_visit();
            sync(&app, &mut one).await;
            two.request_visit();
            sync(&second, &mut two).await;
            // The first instance's document is behind by the second's sync.
            sync(&app, &mut one).await;
            assert_eq!(one.read().visit_requests.len(), baseline + 2 * round);
            assert_eq!(one.read(), two.read(), "round {round}");
        }
        let increments =
            app.execute_sql("UPDATE family_document_increments SET created_at = created_at");
        assert!(increments < 32, "the increments were compacted ({increments} left)");
        for instance in [&app, &second] {
            let reader = synced_device(instance, "Reader").await;
            assert_eq!(reader.read(), one.read());
        }
        sync(&second, &mut two).await;
        assert_eq!(two.read(), one.read());
    }
}

// ---- Projection into the visits domain ------------------------------------------------------

/// A device of `member`, enrolled with a code from `staff`.
async fn enrolled_device(app: &TestApp, staff: &str, family: FamilyId, member: MemberId) -> Device {
    let path = format!("/api/v1/families/{family}/members/{member}/enrolment-codes");
    let code: EnrolmentCode = expect_json(app.post_empty(&path, Some(staff)).await, 201).await;
    let body = json!({
        "code": code.code,
        "password": "a long enough secret",
        "device_name": "phone",
    });
    let enrolled: EnrolResponse =
        expect_json(app.post_json("/api/v1/auth/enrol", None, &body).await, 200).await;
    let device = enrolled.session.device.expect("a device is enrolled");
    let mut device = Device {
        actor: ActorId::from(hex::decode(&device.actor_id).expect("hex actor id")),
        token: enrolled.session.token,
        member,
        family,
        doc: None,
        server_heads: Vec::new(),
    };
    sync(app, &mut device).await;
    device
}

impl Device {
    /// Asks for a table visit in the policy-checked way; returns the document's id.
    fn ask_table_visit(
        &mut self,
        detainee: DetaineeId,
        prison: PrisonId,
        preferences: Vec<SlotChoice>,
        visitors: Vec<MemberId>,
    ) -> String {
        let member = self.member;
        let writer = Writer::FamilyDevice { member_id: member };
        write::checked(self.doc(), writer, |tx| {
            let request = NewDocVisitRequest {
                detainee_id: detainee,
                prison_id: prison,
                visit_type: VisitType::Table,
                preferences,
                visitors,
                support_needs: vec![],
                support_note: None,
            };
            write::request_visit(tx, member, request, 2_000)
        })
        .expect("a valid request")
    }

    fn events(&self, request: &str) -> Vec<Event> {
        self.read().visit_requests[request].events.clone()
    }

    fn status(&self, request: &str) -> VisitStatus {
        visit_request_status(&self.events(request))
    }
}

/// A bookable table slot of a fresh session in `prison`, as the family sees it.
async fn bookable_table_slot(app: &TestApp, family_token: &str, prison: PrisonId) -> SlotChoice {
    let coordinator = app.login_as(DemoUser::Coordinator).await;
    let t = app
        .table_session(&coordinator, prison, Weekday::Fri, 2)
        .await;
    let date = next_weekday(Weekday::Fri, 3);
    let slot = app
        .slot(family_token, prison, t.id, date, VisitType::Table)
        .await;
    assert!(slot.bookable && slot.open > 0, "{slot:?}");
    SlotChoice {
        template_id: t.id,
        date,
    }
}

fn uuid_of(id: &str) -> uuid::Uuid {
    id.parse().expect("document ids are UUIDs")
}

async fn request_count(app: &TestApp, token: &str, family: FamilyId) -> usize {
    app.visit_requests(token, family).await.len()
}

both_backends! {
    async fn a_synced_request_in_haren_comes_back_confirmed(app: TestApp) {
        let v = app.visits_demo().await;
        let mut phone = synced_device(&app, "Phone").await;
        let choice = bookable_table_slot(&app, &phone.token, v.demo.haren).await;
        let fatima = v.a.member("Fatima Benali");
        let before = request_count(&app, &phone.token, v.a.id).await;

        let id = phone.ask_table_visit(v.a.detainee, v.demo.haren, vec![choice], vec![fatima]);
        assert_eq!(phone.status(&id), VisitStatus::Pending);
        let pushed = sync(&app, &mut phone).await;
        assert_eq!(pushed.kind, ResponseKind::Changes);
        assert!(!pushed.data.is_empty(), "the server's answer comes in the same round trip");
        assert_eq!(phone.status(&id), VisitStatus::Confirmed, "{:?}", phone.events(&id));
        let confirmed: Vec<Event> = phone
            .events(&id)
            .into_iter()
            .filter(|e| e.kind == VisitEventKind::Confirmed.as_str())
            .collect();
        assert_eq!(confirmed.len(), 1);
        assert_eq!((confirmed[0].by, confirmed[0].slot), (Author::Server, Some(choice)));

        let visit: VisitRequest = app.visit_request(&phone.token, uuid_of(&id)).await;
        assert_eq!((visit.id, visit.status), (uuid_of(&id), VisitStatus::Confirmed));
        let slot = visit.slot.expect("a slot");
        assert_eq!((slot.template_id, slot.date), (choice.template_id, choice.date));
        assert_eq!(request_count(&app, &phone.token, v.a.id).await, before + 1);

        // Another device sees the same.
        let tablet = synced_device(&app, "Tablet").await;
        assert_eq!(tablet.status(&id), VisitStatus::Confirmed);
        assert_eq!(tablet.read(), phone.read());
    }

    async fn a_request_outside_the_window_comes_back_declined_with_the_code(app: TestApp) {
        let v = app.visits_demo().await;
        let mut phone = synced_device(&app, "Phone").await;
        let choice = bookable_table_slot(&app, &phone.token, v.demo.haren).await;
        let far = SlotChoice { date: choice.date + chrono::Duration::weeks(104), ..choice };
        let before = request_count(&app, &phone.token, v.a.id).await;

        let id = phone.ask_table_visit(v.a.detainee, v.demo.haren, vec![far], vec![v.a.member("Fatima Benali")]);
        sync(&app, &mut phone).await;
        assert_eq!(phone.status(&id), VisitStatus::Declined);
        let declined: Vec<Event> = phone
            .events(&id)
            .into_iter()
            .filter(|e| e.kind == VisitEventKind::Declined.as_str())
            .collect();
        assert_eq!(declined.len(), 1);
        assert_eq!(declined[0].by, Author::Server);
        assert_eq!(declined[0].detail.as_deref(), Some("outside_booking_window"));
        assert_eq!(request_count(&app, &phone.token, v.a.id).await, before, "nothing stored");
        assert_error(
            app.get(&format!("/api/v1/visit-requests/{id}"), Some(&phone.token)).await,
            404,
            "visit_request_not_found",
        )
        .await;
    }

    async fn a_withdraw_intent_synced_later_withdraws_in_both_places(app: TestApp) {
        let v = app.visits_demo().await;
        let admin = app.login_as(DemoUser::Admin).await;
        let mut phone = synced_device(&app, "Phone").await;
        let choice = bookable_table_slot(&app, &phone.token, v.demo.haren).await;
        // Another family takes both places: Fatima's request waits for the coordinator.
        for n in 1..=2 {
            let other = app.new_visiting_family(&admin, v.demo.haren, &format!("Family of Haren {n}")).await;
            app.request_visit(&admin, &other.table_request(choice.template_id, choice.date)).await;
        }
        let id = phone.ask_table_visit(v.a.detainee, v.demo.haren, vec![choice], vec![v.a.member("Fatima Benali")]);
        sync(&app, &mut phone).await;
        assert_eq!(phone.status(&id), VisitStatus::Pending);
        assert_eq!(app.visit_request(&phone.token, uuid_of(&id)).await.status, VisitStatus::Pending);

        let member = phone.member;
        let intent = write::checked(phone.doc(), Writer::FamilyDevice { member_id: member }, |tx| {
            write::ask_to_withdraw_visit(tx, member, &id, 3_000)
        })
        .expect("a valid intent");
        let body = phone.request();
        sync(&app, &mut phone).await;
        assert_eq!(phone.status(&id), VisitStatus::Withdrawn);
        let answer: Vec<Event> = phone
            .events(&id)
            .into_iter()
            .filter(|e| e.by == Author::Server && e.refers_to.as_deref() == Some(intent.as_str()))
            .collect();
        assert_eq!(answer.len(), 1, "{answer:?}");
        assert_eq!(answer[0].kind, VisitEventKind::Withdrawn.as_str());
        assert_eq!(app.visit_request(&phone.token, uuid_of(&id)).await.status, VisitStatus::Withdrawn);

        // The same intent again: already answered, nothing more.
        let again = post_sync(&app, phone.family, &phone.token, body).await;
        assert_eq!(again.status(), 200);
        let reader = synced_device(&app, "Reader").await;
        let answers = reader.events(&id).iter().filter(|e| e.refers_to.as_deref() == Some(intent.as_str())).count();
        assert_eq!(answers, 1);
    }

    async fn syncing_the_same_body_twice_creates_one_request(app: TestApp) {
        let v = app.visits_demo().await;
        let mut phone = synced_device(&app, "Phone").await;
        let choice = bookable_table_slot(&app, &phone.token, v.demo.haren).await;
        let before = request_count(&app, &phone.token, v.a.id).await;
        let id = phone.ask_table_visit(v.a.detainee, v.demo.haren, vec![choice], vec![v.a.member("Fatima Benali")]);
        let body = phone.request();
        for _ in 0..2 {
            let resp = post_sync(&app, phone.family, &phone.token, body.clone()).await;
            assert_eq!(resp.status(), 200);
        }
        assert_eq!(request_count(&app, &phone.token, v.a.id).await, before + 1);
        let reader = synced_device(&app, "Reader").await;
        let confirmations = reader
            .events(&id)
            .iter()
            .filter(|e| e.kind == VisitEventKind::Confirmed.as_str())
            .count();
        assert_eq!(confirmations, 1);
        assert_eq!(reader.status(&id), VisitStatus::Confirmed);
    }

    async fn a_synced_request_in_brugge_stays_pending(app: TestApp) {
        let v = app.visits_demo().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let els = v.b.member("Els Janssens");
        let mut phone = enrolled_device(&app, &social, v.b.id, els).await;
        let choice = bookable_table_slot(&app, &phone.token, v.demo.brugge).await;
        let id = phone.ask_table_visit(v.b.detainee, v.demo.brugge, vec![choice], vec![els]);
        sync(&app, &mut phone).await;
        assert_eq!(phone.status(&id), VisitStatus::Pending, "{:?}", phone.events(&id));
        assert!(phone.events(&id).iter().all(|e| !e.by.is_server()), "no answer yet");
        let visit = app.visit_request(&phone.token, uuid_of(&id)).await;
        assert_eq!((visit.id, visit.status), (uuid_of(&id), VisitStatus::Pending));
    }
}

// ---- Staff actions and other channels reach the document ------------------------------------

fn server_events(device: &Device, request: &str, kind: VisitEventKind) -> Vec<Event> {
    device
        .events(request)
        .into_iter()
        .filter(|e| e.by == Author::Server && e.kind == kind.as_str())
        .collect()
}

both_backends! {
    async fn a_coordinators_decline_reaches_the_phone_with_the_staff_account(app: TestApp) {
        let v = app.visits_demo().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let coordinator_account = app.me(&coordinator).await.account_id;
        let els = v.b.member("Els Janssens");
        let mut phone = enrolled_device(&app, &social, v.b.id, els).await;
        let choice = bookable_table_slot(&app, &phone.token, v.demo.brugge).await;
        let id = phone.ask_table_visit(v.b.detainee, v.demo.brugge, vec![choice], vec![els]);
        sync(&app, &mut phone).await;
        assert_eq!(phone.status(&id), VisitStatus::Pending);

        app.visit_action(&coordinator, uuid_of(&id), "decision",
            &json!({ "action": "decline", "reason": "no_capacity" })).await;
        let answer = sync(&app, &mut phone).await;
        assert_eq!(answer.kind, ResponseKind::Changes);
        assert_eq!(phone.status(&id), VisitStatus::Declined);
        let declined = server_events(&phone, &id, VisitEventKind::Declined);
        assert_eq!(declined.len(), 1, "{:?}", phone.events(&id));
        assert_eq!(declined[0].staff_account, Some(coordinator_account));
        assert_eq!(declined[0].detail.as_deref(), Some("no_capacity"));

        // Mirroring is idempotent: more syncs add nothing.
        let heads = phone.server_heads.clone();
        let again = sync(&app, &mut phone).await;
        assert!(again.data.is_empty(), "nothing new");
        assert_eq!(phone.server_heads, heads);
        assert_eq!(server_events(&phone, &id, VisitEventKind::Declined).len(), 1);
    }

    async fn a_request_made_at_the_desk_appears_on_the_phone(app: TestApp) {
        let v = app.visits_demo().await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let coordinator_account = app.me(&coordinator).await.account_id;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let els = v.b.member("Els Janssens");
        let mut phone = enrolled_device(&app, &social, v.b.id, els).await;
        let choice = bookable_table_slot(&app, &phone.token, v.demo.brugge).await;

        // The coordinator takes a phone call and requests for the family, then confirms.
        let body = reguide_tests::visits::request_body(
            v.b.id, v.b.detainee, "table", &[(choice.template_id, choice.date)], &[els],
        );
        let mut body = body;
        body["channel"] = json!("phone");
        let made = app.request_visit(&coordinator, &body).await;
        app.visit_action(&coordinator, made.id, "decision",
            &json!({ "action": "confirm", "rank": 1 })).await;

        sync(&app, &mut phone).await;
        let id = made.id.to_string();
        let doc = phone.read();
        let entry = doc.visit_requests.get(&id).expect("the request is in the document");
        assert_eq!((entry.detainee_id, entry.prison_id), (v.b.detainee, v.demo.brugge));
        assert_eq!(entry.preferences, vec![choice]);
        assert_eq!(entry.visitors, vec![els]);
        assert_eq!(phone.status(&id), VisitStatus::Confirmed);
        let requested = server_events(&phone, &id, VisitEventKind::Requested);
        assert_eq!(requested.len(), 1);
        assert_eq!(requested[0].staff_account, Some(coordinator_account));
        let confirmed = server_events(&phone, &id, VisitEventKind::Confirmed);
        assert_eq!(confirmed.len(), 1);
        assert_eq!(confirmed[0].slot, Some(choice));
        assert_eq!(confirmed[0].staff_account, Some(coordinator_account));

        // The family cancels on the phone; the server carries it out.
        let member = phone.member;
        let intent = write::checked(phone.doc(), Writer::FamilyDevice { member_id: member }, |tx| {
            write::ask_to_cancel_visit(tx, member, &id, 5_000)
        })
        .expect("a valid intent");
        sync(&app, &mut phone).await;
        assert_eq!(phone.status(&id), VisitStatus::Cancelled);
        let cancelled = server_events(&phone, &id, VisitEventKind::Cancelled);
        assert_eq!(cancelled.len(), 1, "{:?}", phone.events(&id));
        assert_eq!(cancelled[0].refers_to.as_deref(), Some(intent.as_str()));
        assert_eq!(cancelled[0].staff_account, None, "the family acted");
        assert_eq!(app.visit_request(&coordinator, made.id).await.status, VisitStatus::Cancelled);
    }

    async fn a_withdrawal_made_offline_beats_a_concurrent_confirmation(app: TestApp) {
        let v = app.visits_demo().await;
        let social = app.login_as(DemoUser::SocialWorker).await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let els = v.b.member("Els Janssens");
        let mut phone = enrolled_device(&app, &social, v.b.id, els).await;
        let choice = bookable_table_slot(&app, &phone.token, v.demo.brugge).await;
        let id = phone.ask_table_visit(v.b.detainee, v.demo.brugge, vec![choice], vec![els]);
        sync(&app, &mut phone).await;
        let before = app.slot(&phone.token, v.demo.brugge, choice.template_id, choice.date, VisitType::Table).await;

        // Offline, the family withdraws; meanwhile the coordinator confirms.
        let member = phone.member;
        let intent = write::checked(phone.doc(), Writer::FamilyDevice { member_id: member }, |tx| {
            write::ask_to_withdraw_visit(tx, member, &id, 6_000)
        })
        .expect("a valid intent");
        assert_eq!(phone.status(&id), VisitStatus::Withdrawn);
        app.visit_action(&coordinator, uuid_of(&id), "decision",
            &json!({ "action": "confirm", "rank": 1 })).await;

        sync(&app, &mut phone).await;
        // The visit was confirmed, so the family's "we won't come" cancels it and frees the place.
        assert_eq!(phone.status(&id), VisitStatus::Cancelled, "{:?}", phone.events(&id));
        let cancelled = server_events(&phone, &id, VisitEventKind::Cancelled);
        assert_eq!(cancelled.len(), 1);
        assert_eq!(cancelled[0].refers_to.as_deref(), Some(intent.as_str()));
        assert_eq!(server_events(&phone, &id, VisitEventKind::Confirmed).len(), 1);
        assert_eq!(app.visit_request(&coordinator, uuid_of(&id)).await.status, VisitStatus::Cancelled);
        let after = app.slot(&phone.token, v.demo.brugge, choice.template_id, choice.date, VisitType::Table).await;
        assert_eq!(after.open, before.open, "the place is free again");

        let tablet = enrolled_device(&app, &social, v.b.id, v.b.member("Els Janssens")).await;
        assert_eq!(tablet.read(), phone.read());
    }
}

// ---- Family-day registrations through the document ------------------------------------------

async fn family_day(
    app: &TestApp,
    token: &str,
    prison: PrisonId,
    families: i32,
) -> serde_json::Value {
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    let deadline = (date - chrono::Duration::days(2))
        .and_hms_opt(12, 0, 0)
        .expect("time")
        .and_utc();
    let body = json!({
        "title": "Family day",
        "date": date,
        "starts_at": "10:00",
        "ends_at": "16:00",
        "programme": "Games, lunch together",
        "capacity_families": families,
        "capacity_people": families * 6,
        "registration_deadline": deadline,
    });
    expect_json(
        app.post_json(
            &format!("/api/v1/prisons/{prison}/family-days"),
            Some(token),
            &body,
        )
        .await,
        201,
    )
    .await
}

fn day_id(day: &serde_json::Value) -> uuid::Uuid {
    day["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a day id")
}

impl Device {
    fn register(&mut self, day: uuid::Uuid, adults: i64, children: i64) -> String {
        let member = self.member;
        write::checked(
            self.doc(),
            Writer::FamilyDevice { member_id: member },
            |tx| {
                write::register_for_family_day(
                    tx,
                    member,
                    write::NewDocRegistration {
                        family_day_id: day,
                        adults,
                        children,
                    },
                    7_000,
                )
            },
        )
        .expect("a valid registration")
    }

    fn registration_state(&self, id: &str) -> RegistrationState {
        registration_status(&self.read().family_day_registrations[id].events)
    }

    fn registration_events(&self, id: &str) -> Vec<Event> {
        self.read().family_day_registrations[id].events.clone()
    }
}

async fn family_registrations(
    app: &TestApp,
    token: &str,
    family: FamilyId,
) -> Vec<serde_json::Value> {
    expect_json(
        app.get(
            &format!("/api/v1/families/{family}/family-day-registrations"),
            Some(token),
        )
        .await,
        200,
    )
    .await
}

both_backends! {
    async fn a_registration_made_offline_is_registered_then_cancelled(app: TestApp) {
        let v = app.visits_demo().await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let mut phone = synced_device(&app, "Phone").await;
        let day = family_day(&app, &coordinator, v.demo.haren, 1).await;

        let id = phone.register(day_id(&day), 2, 1);
        assert_eq!(phone.registration_state(&id), RegistrationState::Requested);
        sync(&app, &mut phone).await;
        assert_eq!(phone.registration_state(&id), RegistrationState::Registered, "{:?}", phone.registration_events(&id));
        let listed = family_registrations(&app, &phone.token, v.a.id).await;
        let row = listed.iter().find(|r| r["id"] == id.as_str()).expect("registered relationally");
        assert_eq!((row["status"].as_str(), row["adults"].as_i64(), row["children"].as_i64()), (Some("registered"), Some(2), Some(1)));

        // Another family fills the day while the first cancels offline: the other gets the place.
        let admin = app.login_as(DemoUser::Admin).await;
        let other = app.new_visiting_family(&admin, v.demo.haren, "Family of Haren W").await;
        let waiting: serde_json::Value = expect_json(app.post_json(
            &format!("/api/v1/family-days/{}/registrations", day_id(&day)),
            Some(&admin),
            &json!({ "family_id": other.id, "adults": 1, "children": 0, "wait_if_full": true }),
        ).await, 201).await;
        assert_eq!(waiting["status"], "waiting");

        let member = phone.member;
        let intent = write::checked(phone.doc(), Writer::FamilyDevice { member_id: member }, |tx| {
            write::ask_to_cancel_registration(tx, member, &id, 8_000)
        })
        .expect("a valid intent");
        sync(&app, &mut phone).await;
        assert_eq!(phone.registration_state(&id), RegistrationState::Cancelled);
        let answers: Vec<Event> = phone.registration_events(&id).into_iter()
            .filter(|e| e.by == Author::Server && e.refers_to.as_deref() == Some(intent.as_str()))
            .collect();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].kind, RegistrationEventKind::Cancelled.as_str());
        let listed = family_registrations(&app, &admin, other.id).await;
        assert_eq!(listed[0]["status"], "registered", "the waiting family moved up");
    }

    async fn a_full_day_waits_and_a_bad_registration_is_declined_with_its_code(app: TestApp) {
        let v = app.visits_demo().await;
        let coordinator = app.login_as(DemoUser::Coordinator).await;
        let admin = app.login_as(DemoUser::Admin).await;
        let mut phone = synced_device(&app, "Phone").await;
        let day = family_day(&app, &coordinator, v.demo.haren, 1).await;
        let other = app.new_visiting_family(&admin, v.demo.haren, "Family of Haren F").await;
        let _: serde_json::Value = expect_json(app.post_json(
            &format!("/api/v1/family-days/{}/registrations", day_id(&day)),
            Some(&admin),
            &json!({ "family_id": other.id, "adults": 1, "children": 0 }),
        ).await, 201).await;

        let waiting = phone.register(day_id(&day), 1, 0);
        let none = phone.register(day_id(&day), 0, 2);
        sync(&app, &mut phone).await;
        assert_eq!(phone.registration_state(&waiting), RegistrationState::Waiting);
        assert_eq!(phone.registration_state(&none), RegistrationState::Declined);
        let declined = phone.registration_events(&none).into_iter()
            .find(|e| e.kind == RegistrationEventKind::Declined.as_str())
            .expect("declined");
        assert_eq!(declined.detail.as_deref(), Some("invalid_value"));

        // The coordinator cancels the day: the phone learns it, with who did it.
        let coordinator_account = app.me(&coordinator).await.account_id;
        let resp = app.post_empty(&format!("/api/v1/family-days/{}/cancel", day_id(&day)), Some(&coordinator)).await;
        assert_eq!(resp.status(), 200);
        sync(&app, &mut phone).await;
        assert_eq!(phone.registration_state(&waiting), RegistrationState::Cancelled);
        let cancelled = phone.registration_events(&waiting).into_iter()
            .find(|e| e.kind == RegistrationEventKind::Cancelled.as_str())
            .expect("cancelled");
        assert_eq!(cancelled.staff_account, Some(coordinator_account));
    }
}
