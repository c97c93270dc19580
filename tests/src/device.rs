//! A simulated phone that speaks the sync wire format itself (no client core): it makes small
//! changes to its family document through the family write helpers and syncs them, as the
//! benchmarks and the fault tests need many of them, cheaply; and a family set up for it through
//! the API.

use automerge::transaction::Transaction;
use automerge::{ActorId, Automerge, ChangeHash};
use reguide_protocol::api::{EnrolResponse, EnrolmentCode, Family, Member, TokenResponse};
use reguide_protocol::doc::status::AppointmentEventKind;
use reguide_protocol::doc::write::{self, NewDocAppointment};
use reguide_protocol::doc::{DocError, Writer};
use reguide_protocol::sync::{CONTENT_TYPE, SyncResponse};
use reguide_protocol::{AccountId, FamilyId, MemberId};
use serde_json::json;

use crate::{TestApp, expect_json};

/// 2030-01-01 00:00 UTC: the instants the benchmarks write into events.
pub const BASE_MS: i64 = 1_893_456_000_000;

/// A phone: its token, its actor, its copy of the document and the server heads it last saw.
#[derive(Debug)]
pub struct Device {
    pub token: String,
    pub actor: ActorId,
    pub member: MemberId,
    pub family: FamilyId,
    pub doc: Option<Automerge>,
    pub server_heads: Vec<ChangeHash>,
    /// The staff account appointments are proposed with.
    pub staff: AccountId,
    /// Ids of the appointments the device proposed.
    pub entries: Vec<String>,
    pub changes_made: usize,
}

impl Device {
    pub fn new(
        session: TokenResponse,
        member: MemberId,
        family: FamilyId,
        staff: AccountId,
    ) -> Self {
        let device = session.device.expect("a device is enrolled");
        Self {
            actor: ActorId::from(hex::decode(&device.actor_id).expect("hex actor id")),
            token: session.token,
            member,
            family,
            doc: None,
            server_heads: Vec::new(),
            staff,
            entries: Vec::new(),
            changes_made: 0,
        }
    }

    /// The family's sync endpoint.
    pub fn path(&self) -> String {
        format!("/api/v1/families/{}/sync", self.family)
    }

    pub fn doc(&self) -> &Automerge {
        self.doc.as_ref().expect("synced once")
    }

    /// The request this device would send now.
    pub fn request(&self) -> Vec<u8> {
        crate::sync::request_body(self.doc.as_ref(), &self.server_heads)
    }

    /// Applies a successful response, as a client does.
    pub fn absorb(&mut self, response: &SyncResponse) {
        self.server_heads = crate::sync::absorb(&mut self.doc, &self.actor, response);
    }

    /// Whether the device's document and the server's (as last answered) are the same.
    pub fn in_step(&self) -> bool {
        sorted(self.doc().get_heads()) == sorted(self.server_heads.clone())
    }

    /// One small change through the family write helpers, as the app makes it: an appointment
    /// proposed now and then (when `n % 25 == 12`, or when there is none), otherwise the family's
    /// answer to one of the last four proposed. `checked` runs it through `write::checked`, the
    /// policy check the app makes before every commit (a fork and a diff of the whole document);
    /// without it the change goes into a plain transaction (the server checks it either way).
    pub fn small_change(&mut self, checked: bool) {
        let (member, staff, n) = (self.member, self.staff, self.changes_made);
        let at = BASE_MS + i64::try_from(n).unwrap_or(0) * 60_000;
        let len = self.entries.len();
        let target =
            (len > 0 && n % 25 != 12).then(|| self.entries[len - 1 - n % len.min(4)].clone());
        let edit = |tx: &mut Transaction<'_>| -> Result<Option<String>, DocError> {
            match &target {
                None => {
                    let appointment = NewDocAppointment {
                        with_account: staff,
                        starts_at: at + 7 * 86_400_000,
                        place: "Maison de justice, bureau 2".into(),
                        purpose: "Dossier de visite".into(),
                        step_id: None,
                    };
                    write::propose_appointment(tx, member, appointment, at).map(Some)
                }
                Some(id) => {
                    let answer = [
                        AppointmentEventKind::Accepted,
                        AppointmentEventKind::Tentative,
                        AppointmentEventKind::Declined,
                    ][n % 3];
                    write::answer_appointment(tx, member, id, answer, at).map(|_| None)
                }
            }
        };
        let doc = self.doc.as_mut().expect("synced once");
        let opened = if checked {
            write::checked(doc, Writer::FamilyDevice { member_id: member }, edit)
        } else {
            let mut tx = doc.transaction();
            let opened = edit(&mut tx);
            tx.commit();
            opened
        };
        self.entries
            .extend(opened.expect("a change the write policy accepts"));
        self.changes_made += 1;
    }

    /// Syncs over the harness's HTTP client, expecting success.
    pub async fn sync(&mut self, app: &TestApp) -> SyncResponse {
        let resp = app
            .post_raw(
                &self.path(),
                Some(&self.token),
                CONTENT_TYPE,
                self.request(),
            )
            .await;
        let status = resp.status();
        let bytes = resp.bytes().await.expect("body");
        assert_eq!(
            status,
            200,
            "sync refused: {}",
            String::from_utf8_lossy(&bytes)
        );
        let response = SyncResponse::decode(&bytes).expect("a valid response frame");
        self.absorb(&response);
        response
    }
}

pub fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

/// A family made through the API as an administrator does (the family, a member, an enrolment
/// code), whose member enrols a phone that syncs once, proposes an appointment with `staff`
/// and syncs it.
pub async fn enrolled_family(app: &TestApp, admin: &str, staff: AccountId, label: &str) -> Device {
    let (family, member) = new_family(app, admin, label).await;
    enrolled_device(app, admin, family, member, staff).await
}

/// A family with one member (a parent), made through the API by an administrator.
pub async fn new_family(app: &TestApp, admin: &str, label: &str) -> (FamilyId, MemberId) {
    let family: Family = expect_json(
        app.post_json("/api/v1/families", Some(admin), &json!({ "label": label }))
            .await,
        201,
    )
    .await;
    let member: Member = expect_json(
        app.post_json(
            &format!("/api/v1/families/{}/members", family.id),
            Some(admin),
            &json!({
                "display_name": format!("Member of {label}"),
                "relation": "parent",
                "preferred_language": "fr",
                "birth_date": "1980-05-01",
            }),
        )
        .await,
        201,
    )
    .await;
    (family.id, member.id)
}

/// `member` of `family` enrols a phone with a code an administrator makes; the phone syncs
/// once, proposes an appointment with `staff` and syncs it.
pub async fn enrolled_device(
    app: &TestApp,
    admin: &str,
    family: FamilyId,
    member: MemberId,
    staff: AccountId,
) -> Device {
    let mut device = enrol(app, admin, family, member, staff).await;
    device.small_change(true);
    device.sync(app).await;
    device
}

/// `member` of `family` enrols a phone with a code an administrator makes; the phone syncs once.
pub async fn enrol(
    app: &TestApp,
    admin: &str,
    family: FamilyId,
    member: MemberId,
    staff: AccountId,
) -> Device {
    let path = format!("/api/v1/families/{family}/members/{member}/enrolment-codes");
    let code: EnrolmentCode = expect_json(app.post_empty(&path, Some(admin)).await, 201).await;
    let body = json!({
        "code": code.code,
        "password": "a long enough secret",
        "device_name": "phone",
    });
    let enrolled: EnrolResponse =
        expect_json(app.post_json("/api/v1/auth/enrol", None, &body).await, 200).await;
    let mut device = Device::new(enrolled.session, member, family, staff);
    device.sync(app).await;
    device
}
