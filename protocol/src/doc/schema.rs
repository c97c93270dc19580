//! The family document, schema version 1.
//!
//! ```text
//! {
//!   schema_version: 1,                       int
//!   family_id: "<uuid>",
//!   members:                  { <member_id>: Member }                          server-written
//!   visit_requests:           { <id>: VisitRequest  (events: [Event]) }
//!   family_day_registrations: { <id>: Registration  (events: [Event]) }
//!   steps:                    { <id>: Step (checklist: { <item_id>: { label, events } },
//!                                           notes: [Note], events: [Event]) }
//!   appointments:             { <id>: Appointment   (events: [Event]) }
//!   invitations:              { <id>: Invitation    (answers: [Answer]) }
//! }
//! ```
//!
//! Encoding, so that a client on Automerge's JavaScript implementation writes what this crate
//! reads: every string is a *scalar* string (not a collaborative `Text` object; `ImmutableString`
//! in JavaScript), every integer an `int`, entry ids are lowercase hyphenated UUIDs (event and
//! note ids are opaque strings unique within their list), dates
//! `YYYY-MM-DD`, instants integer milliseconds since the Unix epoch (UTC). Optional fields may
//! be absent or `null`. Collections are maps keyed by the entry's `id`, which the entry repeats.
//!
//! Why events: a status is never a field that two devices could overwrite concurrently. Each
//! change of state is an [`Event`] appended to an append-only list, and [`super::status`] folds
//! the set of events into the status. Event `kind`s stay plain strings in the document so that an
//! older app reads a document in which a newer server wrote kinds it does not know (it ignores
//! them); the kinds this version knows are the enums of [`super::status`].
//!
//! The root maps are created once, by the server, in [`new_document`]; a device never creates
//! them (two devices creating `visit_requests` concurrently would make two maps of which only one
//! stays visible).

use std::collections::BTreeMap;

use automerge::{ActorId, Automerge, ObjId, ROOT};
use autosurgeon::reconcile::NoKey;
use autosurgeon::{Hydrate, HydrateError, Prop, ReadDoc, Reconcile, Reconciler, hydrate_prop};
use chrono::NaiveDate;
use uuid::Uuid;

use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use super::DocError;
use crate::visits::{SlotChoice, SupportNeed, VisitType, wire_enum};
use crate::{AccountId, DetaineeId, FamilyId, Language, MemberId, PrisonId};

/// The schema version this crate reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

/// Keys of the root map.
pub mod keys {
    pub const SCHEMA_VERSION: &str = "schema_version";
    pub const FAMILY_ID: &str = "family_id";
    pub const MEMBERS: &str = "members";
    pub const VISIT_REQUESTS: &str = "visit_requests";
    pub const FAMILY_DAY_REGISTRATIONS: &str = "family_day_registrations";
    pub const STEPS: &str = "steps";
    pub const APPOINTMENTS: &str = "appointments";
    pub const INVITATIONS: &str = "invitations";
    /// The append-only list of an entry's events.
    pub const EVENTS: &str = "events";
    pub const CHECKLIST: &str = "checklist";
    pub const NOTES: &str = "notes";
    pub const ANSWERS: &str = "answers";
    /// The root maps every version-1 document has, in the order [`super::new_document`] writes
    /// them.
    pub const COLLECTIONS: [&str; 6] = [
        MEMBERS,
        VISIT_REQUESTS,
        FAMILY_DAY_REGISTRATIONS,
        STEPS,
        APPOINTMENTS,
        INVITATIONS,
    ];
}

/// What `by` holds for events the server writes.
pub const SERVER_AUTHOR: &str = "server";

/// The whole family document, typed.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct FamilyDoc {
    #[autosurgeon(with = "int_u64")]
    pub schema_version: u64,
    pub family_id: FamilyId,
    /// Keyed by member id. Written by the server from the relational members table.
    pub members: BTreeMap<String, DocMember>,
    pub visit_requests: BTreeMap<String, DocVisitRequest>,
    pub family_day_registrations: BTreeMap<String, DocRegistration>,
    pub steps: BTreeMap<String, Step>,
    pub appointments: BTreeMap<String, Appointment>,
    pub invitations: BTreeMap<String, Invitation>,
}

impl FamilyDoc {
    /// An empty document of the current schema version for `family_id`.
    pub fn new_for_family(family_id: FamilyId) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            family_id,
            members: BTreeMap::new(),
            visit_requests: BTreeMap::new(),
            family_day_registrations: BTreeMap::new(),
            steps: BTreeMap::new(),
            appointments: BTreeMap::new(),
            invitations: BTreeMap::new(),
        }
    }

    /// Reads the whole document. Fails on a document of another shape (or of an older schema
    /// version: run [`super::upgrade()`] first).
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Self, DocError> {
        Ok(autosurgeon::hydrate(doc)?)
    }

    /// Makes the document match `self`, writing only what differs. Server only: a device writes
    /// through the helpers of [`super::write`], which touch exactly the paths it may write.
    pub fn write<D: autosurgeon::Doc>(&self, doc: &mut D) -> Result<(), DocError> {
        Ok(autosurgeon::reconcile(doc, self)?)
    }
}

/// A new family's document, as its first change by the server's actor. Every replica starts
/// from this change (a device loads the server's `save()`); nobody else creates the root maps.
pub fn new_document(family_id: FamilyId, server_actor: ActorId) -> Result<Automerge, DocError> {
    let mut doc = Automerge::new().with_actor(server_actor);
    let mut tx = doc.transaction();
    FamilyDoc::new_for_family(family_id).write(&mut tx)?;
    tx.commit();
    Ok(doc)
}

/// Reads the document's `schema_version`: `None` when there is none (a version-0 document).
pub fn schema_version_of(doc: &Automerge) -> Result<Option<u64>, DocError> {
    match automerge::ReadDoc::get(doc, ROOT, keys::SCHEMA_VERSION)? {
        None => Ok(None),
        Some((automerge::Value::Scalar(value), _)) => match value.as_ref() {
            automerge::ScalarValue::Int(v) => u64::try_from(*v)
                .map(Some)
                .map_err(|_| DocError::InvalidSchemaVersion),
            automerge::ScalarValue::Uint(v) => Ok(Some(*v)),
            _ => Err(DocError::InvalidSchemaVersion),
        },
        Some(_) => Err(DocError::InvalidSchemaVersion),
    }
}

/// Reads one root collection (`visit_requests`, `steps`…) without the rest of the document:
/// hydrating a whole document costs with its size.
pub fn read_collection<T: Hydrate, D: ReadDoc>(
    doc: &D,
    collection: &str,
) -> Result<BTreeMap<String, T>, DocError> {
    Ok(hydrate_prop(doc, &ROOT, collection)?)
}

/// The entries of the root collections that `patches` touch, as `(collection, id)` pairs;
/// `None` when a patch touches the root itself (a collection replaced, the schema version),
/// after which a reader should read everything again.
pub fn touched_entries(
    patches: &[automerge::Patch],
) -> Option<std::collections::BTreeSet<(String, String)>> {
    use automerge::{PatchAction, Prop};
    let key = |prop: &Prop| match prop {
        Prop::Map(key) => Some(key.clone()),
        Prop::Seq(_) => None,
    };
    let mut touched = std::collections::BTreeSet::new();
    for patch in patches {
        let entry = match (patch.path.first(), patch.path.get(1), &patch.action) {
            (Some((_, collection)), Some((_, id)), _) => (key(collection)?, key(id)?),
            (
                Some((_, collection)),
                None,
                PatchAction::PutMap { key: id, .. } | PatchAction::DeleteMap { key: id },
            ) => (key(collection)?, id.clone()),
            _ => return None,
        };
        touched.insert(entry);
    }
    Some(touched)
}

/// Reads the family id of a document.
pub fn read_family_id<D: ReadDoc>(doc: &D) -> Result<FamilyId, DocError> {
    Ok(hydrate_prop(doc, &ROOT, keys::FAMILY_ID)?)
}

/// Reads one entry of a root collection (`visit_requests`, `steps`…), `None` when absent.
pub fn read_entry<T: Hydrate, D: ReadDoc>(
    doc: &D,
    collection: &str,
    id: &str,
) -> Result<Option<T>, DocError> {
    let Some((_, map)) = autosurgeon::ReadDoc::get(doc, &ROOT, collection)? else {
        return Ok(None);
    };
    match autosurgeon::ReadDoc::get(doc, &map, id)? {
        None => Ok(None),
        Some(_) => Ok(Some(hydrate_prop(doc, &map, id)?)),
    }
}

/// A member of the family as the family document shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct DocMember {
    pub display_name: String,
    /// e.g. "mother", "partner", "son": free text shown to the family and staff.
    pub relation: String,
    pub language: Language,
}

/// A family's request for a prison visit. Its fields are fixed when it is created; everything
/// that happens to it afterwards is an event.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct DocVisitRequest {
    pub id: String,
    pub detainee_id: DetaineeId,
    pub prison_id: PrisonId,
    pub visit_type: VisitType,
    /// One to three slots, most wanted first.
    pub preferences: Vec<SlotChoice>,
    pub visitors: Vec<MemberId>,
    pub support_needs: Vec<SupportNeed>,
    #[autosurgeon(missing = "Option::default")]
    pub support_note: Option<String>,
    pub requested_by: MemberId,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Append-only; see [`super::status::visit_request_status`].
    pub events: Vec<Event>,
}

/// A family's registration for a family day.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct DocRegistration {
    pub id: String,
    #[autosurgeon(with = "uuid_text")]
    pub family_day_id: Uuid,
    pub adults: i64,
    pub children: i64,
    pub requested_by: MemberId,
    /// Append-only; see [`super::status::registration_status`].
    pub events: Vec<Event>,
}

wire_enum!(
    /// Who carries out an administrative step. The family ticks the checklist of its own steps;
    /// a worker's steps are shown to the family but ticked by the worker.
    StepOwner {
        Family = "family",
        Worker = "worker",
    }
);

wire_enum!(
    /// Who must act next on a step.
    NextActor {
        Family = "family",
        SocialWorker = "social_worker",
        Agency = "agency",
    }
);

// `wire_enum!` makes the enum and derives no `Default`.
#[allow(clippy::derivable_impls)]
impl Default for NextActor {
    fn default() -> Self {
        Self::Family
    }
}

/// An administrative step (a form to send, a document to get…), created by a social worker.
/// Its fields are the server's to change (each change is also an `updated` or status event
/// naming the staff account, its history); the family ticks the checklist of its own steps and
/// adds notes.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Step {
    pub id: String,
    pub title: String,
    /// One of [`crate::steps::StepCategory`]'s names (`housing`, `identity_documents`…); a
    /// category of a newer server is kept as it is.
    pub category: String,
    pub owner: StepOwner,
    pub description: String,
    #[autosurgeon(missing = "Option::default", with = "option_date_text")]
    pub due_date: Option<NaiveDate>,
    #[autosurgeon(missing = "NextActor::default")]
    pub next_actor: NextActor,
    /// The office involved (the CPAS/OCMW, the municipality, a mutualité…), if any.
    #[autosurgeon(missing = "Option::default")]
    pub agency: Option<String>,
    /// Documents to bring or to get.
    #[autosurgeon(missing = "Vec::new")]
    pub documents: Vec<String>,
    /// The key of the template the step came from, if any.
    #[autosurgeon(missing = "Option::default")]
    pub template: Option<String>,
    /// Keyed by item id.
    pub checklist: BTreeMap<String, ChecklistItem>,
    /// Append-only: anybody of the family may add a note to any step.
    pub notes: Vec<Note>,
    /// Append-only; see [`super::status::step_status`].
    pub events: Vec<Event>,
}

/// A step without its checklist and notes: what lists, overviews and reminders read. Reading
/// it skips the notes, which grow with every day a family follows the step.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate)]
pub struct StepSummary {
    pub id: String,
    pub title: String,
    pub category: String,
    pub owner: StepOwner,
    #[autosurgeon(missing = "Option::default", with = "option_date_text")]
    pub due_date: Option<NaiveDate>,
    #[autosurgeon(missing = "NextActor::default")]
    pub next_actor: NextActor,
    pub events: Vec<Event>,
}

/// One thing to do within a step; ticked and unticked by events.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct ChecklistItem {
    pub label: String,
    /// Append-only; see [`super::status::checklist_item_ticked`].
    pub events: Vec<Event>,
}

/// A note on a step.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Note {
    #[key]
    pub id: String,
    pub by: Author,
    pub at: i64,
    pub text: String,
    /// For a note the server writes: the staff account that wrote it.
    #[autosurgeon(missing = "Option::default")]
    pub staff_account: Option<AccountId>,
}

/// A meeting with a social worker or another professional.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Appointment {
    pub id: String,
    /// The staff account met.
    pub with_account: AccountId,
    pub starts_at: i64,
    pub place: String,
    pub purpose: String,
    /// The step this appointment is about, if any.
    #[autosurgeon(missing = "Option::default")]
    pub step_id: Option<String>,
    /// Append-only; see [`super::status::appointment_status`].
    pub events: Vec<Event>,
}

/// An invitation of one member to a Living Lab session. Created by the server.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Invitation {
    pub id: String,
    pub session_id: String,
    /// Only this member answers.
    pub member_id: MemberId,
    pub title: String,
    pub starts_at: i64,
    /// Append-only; the latest answer counts ([`super::status::invitation_answer`]).
    pub answers: Vec<InvitationAnswer>,
    /// The server's word: `held` (a place is kept) or `waiting` (the session is full; the
    /// member is on its waiting list) after an acceptance, `cancelled` when the session is
    /// called off. Absent otherwise.
    #[autosurgeon(missing = "Option::default")]
    pub place: Option<String>,
    /// After the session, for a member who attended: what was agreed and the next steps.
    #[autosurgeon(missing = "Option::default")]
    pub summary: Option<String>,
}

wire_enum!(
    /// An answer to an invitation.
    Rsvp {
        Accepted = "accepted",
        Declined = "declined",
        Tentative = "tentative",
    }
);

/// One answer to an invitation; a later answer replaces an earlier one.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate, Reconcile)]
pub struct InvitationAnswer {
    pub answer: Rsvp,
    #[autosurgeon(missing = "Option::default")]
    pub note: Option<String>,
    pub at: i64,
    pub by: Author,
}

/// Who wrote an event, a note or an answer: a member (from one of their devices) or the server
/// (for staff, recording the staff account in the event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Author {
    Member(MemberId),
    Server,
}

impl Author {
    /// As stored in `by`: the member id, or `"server"`.
    pub fn to_text(self) -> String {
        match self {
            Self::Member(id) => id.to_string(),
            Self::Server => SERVER_AUTHOR.to_owned(),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        if text == SERVER_AUTHOR {
            Some(Self::Server)
        } else {
            text.parse().ok().map(Self::Member)
        }
    }

    pub fn is_server(self) -> bool {
        self == Self::Server
    }
}

/// One change of state. Events are appended and never changed or removed.
///
/// Absent optional fields are not written at all (rather than as `null`): an event is what most
/// syncs carry, and every byte of it travels to every device.
#[derive(Clone, Debug, PartialEq, Eq, Hydrate)]
pub struct Event {
    /// Unique within its list (a UUID); breaks ties between events of the same instant.
    pub id: String,
    /// What happened: one of the kinds of [`super::status`] for this kind of entry.
    pub kind: String,
    /// Milliseconds since the Unix epoch, by the writer's clock.
    pub at: i64,
    pub by: Author,
    /// For server events: the staff account that acted, if one did.
    #[autosurgeon(missing = "Option::default")]
    pub staff_account: Option<AccountId>,
    /// Free text or a reason code (e.g. the decline reason).
    #[autosurgeon(missing = "Option::default")]
    pub detail: Option<String>,
    /// The id of the event this one answers, e.g. the `cancel_requested` an `intent_refused`
    /// refuses, or the `proposed` a `proposal_accepted` accepts.
    #[autosurgeon(missing = "Option::default")]
    pub refers_to: Option<String>,
    /// For visit events that decide a slot (`proposed`, `confirmed`, `amended`…).
    #[autosurgeon(missing = "Option::default")]
    pub slot: Option<SlotChoice>,
}

impl Event {
    /// A new event with a fresh id and no optional fields.
    pub fn new(kind: impl Into<String>, at: i64, by: Author) -> Self {
        Self {
            id: new_event_id(),
            kind: kind.into(),
            at,
            by,
            staff_account: None,
            detail: None,
            refers_to: None,
            slot: None,
        }
    }
}

impl Reconcile for Event {
    type Key<'a> = std::borrow::Cow<'a, String>;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        use autosurgeon::reconcile::MapReconciler;
        let mut map = reconciler.map()?;
        map.put("id", &self.id)?;
        map.put("kind", &self.kind)?;
        map.put("at", self.at)?;
        map.put("by", self.by)?;
        fn optional<M: MapReconciler, T: Reconcile>(
            map: &mut M,
            key: &str,
            value: Option<&T>,
        ) -> Result<(), M::Error> {
            match value {
                Some(value) => map.put(key, value),
                None if map.entry(key).is_some() => map.delete(key),
                None => Ok(()),
            }
        }
        optional(&mut map, "staff_account", self.staff_account.as_ref())?;
        optional(&mut map, "detail", self.detail.as_ref())?;
        optional(&mut map, "refers_to", self.refers_to.as_ref())?;
        optional(&mut map, "slot", self.slot.as_ref())?;
        Ok(())
    }

    /// Events in a list are matched by id when a whole value is reconciled.
    fn key(&self) -> autosurgeon::reconcile::LoadKey<Self::Key<'_>> {
        autosurgeon::reconcile::LoadKey::Found(std::borrow::Cow::Borrowed(&self.id))
    }

    fn hydrate_key<'a, D: ReadDoc>(
        doc: &D,
        obj: &ObjId,
        prop: Prop<'_>,
    ) -> Result<autosurgeon::reconcile::LoadKey<Self::Key<'a>>, autosurgeon::ReconcileError> {
        let key = autosurgeon::reconcile::hydrate_key::<_, String>(doc, obj, prop, "id".into())?;
        Ok(key.map(std::borrow::Cow::Owned))
    }
}

/// A fresh id for an entry (a visit request, a registration…): a UUID, which the server's
/// tables use as the entry's key.
pub fn new_id() -> String {
    Uuid::new_v4().to_string()
}

/// A fresh id for an event or a note: 122 random bits as 22 base64url characters. Events are
/// what most syncs carry, and this is 14 bytes shorter than a UUID's text. Only unique within
/// its list; readers compare it as an opaque string (events the server mirrors from its own
/// history keep that row's UUID).
pub fn new_event_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = u128::from_be_bytes(*Uuid::new_v4().as_bytes());
    (0..22)
        .map(|i| char::from(ALPHABET[((bits >> (i * 6)) & 63) as usize]))
        .collect()
}

// ---- How our value types are stored -------------------------------------------------------
//
// Ids, enums and dates are stored as scalar strings, never as bytes, so that other Automerge
// implementations read them as they read any text.

macro_rules! stored_as_text {
    ($($ty:ty: $expected:literal, |$v:ident| $to:expr, |$s:ident| $parse:expr;)*) => {$(
        impl Reconcile for $ty {
            type Key<'a> = NoKey;
            fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
                let $v = self;
                reconciler.str($to)
            }
        }

        impl Hydrate for $ty {
            fn hydrate_string($s: &'_ str) -> Result<Self, HydrateError> {
                $parse.ok_or_else(|| HydrateError::unexpected($expected, format!("{:?}", $s)))
            }
        }
    )*};
}

stored_as_text!(
    FamilyId: "a family id", |v| v.to_string(), |s| s.parse().ok();
    MemberId: "a member id", |v| v.to_string(), |s| s.parse().ok();
    DetaineeId: "a detainee id", |v| v.to_string(), |s| s.parse().ok();
    PrisonId: "a prison id", |v| v.to_string(), |s| s.parse().ok();
    AccountId: "an account id", |v| v.to_string(), |s| s.parse().ok();
    Author: "a member id or \"server\"", |v| v.to_text(), |s| Author::parse(s);
    Language: "a language code", |v| v.code(), |s| Language::from_code(s);
    VisitType: "a visit type", |v| v.as_str(), |s| VisitType::parse(s);
    SupportNeed: "a support need", |v| v.as_str(), |s| SupportNeed::parse(s);
    StepOwner: "\"family\" or \"worker\"", |v| v.as_str(), |s| StepOwner::parse(s);
    NextActor: "family, social_worker or agency", |v| v.as_str(), |s| NextActor::parse(s);
    Rsvp: "accepted, declined or tentative", |v| v.as_str(), |s| Rsvp::parse(s);
);

/// A slot choice is stored as `{template_id, date}`.
impl Reconcile for SlotChoice {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        use autosurgeon::reconcile::MapReconciler;
        let mut map = reconciler.map()?;
        map.put("template_id", self.template_id.to_string())?;
        map.put("date", self.date.to_string())?;
        Ok(())
    }
}

impl Hydrate for SlotChoice {
    fn hydrate_map<D: ReadDoc>(doc: &D, obj: &ObjId) -> Result<Self, HydrateError> {
        Ok(Self {
            template_id: uuid_text::hydrate(doc, obj, "template_id".into())?,
            date: date_text::hydrate(doc, obj, "date".into())?,
        })
    }
}

/// A UUID as its lowercase hyphenated text.
pub(crate) mod uuid_text {
    use super::*;

    pub fn reconcile<R: Reconciler>(value: &Uuid, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(value.to_string())
    }

    pub fn hydrate<D: ReadDoc>(doc: &D, obj: &ObjId, prop: Prop<'_>) -> Result<Uuid, HydrateError> {
        let text = String::hydrate(doc, obj, prop)?;
        Uuid::parse_str(&text).map_err(|_| HydrateError::unexpected("a UUID", format!("{text:?}")))
    }
}

/// A date as `YYYY-MM-DD`.
pub(crate) mod date_text {
    use super::*;

    pub fn hydrate<D: ReadDoc>(
        doc: &D,
        obj: &ObjId,
        prop: Prop<'_>,
    ) -> Result<NaiveDate, HydrateError> {
        let text = String::hydrate(doc, obj, prop)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map_err(|_| HydrateError::unexpected("a date YYYY-MM-DD", format!("{text:?}")))
    }
}

/// An optional date as `YYYY-MM-DD` or null.
pub(crate) mod option_date_text {
    use super::*;

    pub fn reconcile<R: Reconciler>(
        value: &Option<NaiveDate>,
        mut reconciler: R,
    ) -> Result<(), R::Error> {
        match value {
            Some(date) => reconciler.str(date.to_string()),
            None => reconciler.none(),
        }
    }

    pub fn hydrate<D: ReadDoc>(
        doc: &D,
        obj: &ObjId,
        prop: Prop<'_>,
    ) -> Result<Option<NaiveDate>, HydrateError> {
        match Option::<String>::hydrate(doc, obj, prop)? {
            None => Ok(None),
            Some(text) => NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| HydrateError::unexpected("a date YYYY-MM-DD", format!("{text:?}"))),
        }
    }
}

/// A non-negative integer stored as an Automerge `int` (what JavaScript writes for a number),
/// read from `int` or `uint`.
pub(crate) mod int_u64 {
    use super::*;

    pub fn reconcile<R: Reconciler>(value: &u64, mut reconciler: R) -> Result<(), R::Error> {
        // Schema versions are small; saturate rather than wrap should one ever not be.
        reconciler.i64(i64::try_from(*value).unwrap_or(i64::MAX))
    }

    pub fn hydrate<D: ReadDoc>(doc: &D, obj: &ObjId, prop: Prop<'_>) -> Result<u64, HydrateError> {
        match autosurgeon::ReadDoc::get(doc, obj, &prop)? {
            Some((automerge::Value::Scalar(value), _)) => match value.as_ref() {
                automerge::ScalarValue::Int(v) if *v >= 0 => Ok(v.unsigned_abs()),
                automerge::ScalarValue::Uint(v) => Ok(*v),
                other => Err(HydrateError::unexpected(
                    "a non-negative integer",
                    format!("{other:?}"),
                )),
            },
            other => Err(HydrateError::unexpected(
                "a non-negative integer",
                format!("{other:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_short_opaque_and_unique() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_event_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            assert_eq!(id.len(), 22);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
    }

    fn sample_request(member: MemberId) -> DocVisitRequest {
        DocVisitRequest {
            id: new_id(),
            detainee_id: DetaineeId::new(),
            prison_id: PrisonId::new(),
            visit_type: VisitType::Table,
            preferences: vec![SlotChoice {
                template_id: Uuid::new_v4(),
                date: NaiveDate::from_ymd_opt(2026, 3, 5).expect("date"),
            }],
            visitors: vec![member],
            support_needs: vec![SupportNeed::Wheelchair],
            support_note: None,
            requested_by: member,
            created_at: 1_700_000_000_000,
            events: vec![Event::new(
                "requested",
                1_700_000_000_000,
                Author::Member(member),
            )],
        }
    }

    #[test]
    fn a_new_document_reads_back_as_an_empty_family_doc_of_the_current_version() {
        let family = FamilyId::new();
        let doc = new_document(family, ActorId::random()).expect("new document");
        let read = FamilyDoc::read(&doc).expect("read");
        assert_eq!(read, FamilyDoc::new_for_family(family));
        assert_eq!(
            schema_version_of(&doc).expect("version"),
            Some(SCHEMA_VERSION)
        );
        // Stored as an int, as JavaScript writes numbers.
        let (value, _) = doc
            .get(&ROOT, keys::SCHEMA_VERSION)
            .expect("get")
            .expect("present");
        assert_eq!(value.as_i64(), Some(1));
        assert!(matches!(value, automerge::Value::Scalar(ref s) if s.is_int()));
    }

    #[test]
    fn every_field_round_trips_and_ids_are_stored_as_text() {
        let family = FamilyId::new();
        let member = MemberId::new();
        let mut typed = FamilyDoc::new_for_family(family);
        typed.members.insert(
            member.to_string(),
            DocMember {
                display_name: "Amina".into(),
                relation: "mother".into(),
                language: Language::Ar,
            },
        );
        let request = sample_request(member);
        typed
            .visit_requests
            .insert(request.id.clone(), request.clone());
        let step_id = new_id();
        let mut checklist = BTreeMap::new();
        checklist.insert(
            "id-card".to_owned(),
            ChecklistItem {
                label: "Renew the identity card".into(),
                events: vec![Event::new("ticked", 5, Author::Member(member))],
            },
        );
        typed.steps.insert(
            step_id.clone(),
            Step {
                id: step_id,
                title: "Housing benefit".into(),
                category: "housing".into(),
                owner: StepOwner::Family,
                description: "Ask the CPAS".into(),
                due_date: NaiveDate::from_ymd_opt(2026, 4, 1),
                next_actor: NextActor::Family,
                agency: None,
                documents: Vec::new(),
                template: None,
                checklist,
                notes: vec![Note {
                    id: new_id(),
                    by: Author::Server,
                    at: 3,
                    text: "Bring the lease".into(),
                    staff_account: None,
                }],
                events: vec![Event {
                    staff_account: Some(AccountId::new()),
                    detail: Some("created by the social worker".into()),
                    ..Event::new("created", 1, Author::Server)
                }],
            },
        );
        let invitation_id = new_id();
        typed.invitations.insert(
            invitation_id.clone(),
            Invitation {
                id: invitation_id,
                session_id: "lab-7".into(),
                member_id: member,
                title: "Living Lab".into(),
                starts_at: 9,
                answers: vec![InvitationAnswer {
                    answer: Rsvp::Tentative,
                    note: Some("if I find a sitter".into()),
                    at: 10,
                    by: Author::Member(member),
                }],
                place: None,
                summary: None,
            },
        );

        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        typed.write(&mut tx).expect("write");
        tx.commit();
        assert_eq!(FamilyDoc::read(&doc).expect("read"), typed);

        let (_, requests) = doc
            .get(&ROOT, keys::VISIT_REQUESTS)
            .expect("get")
            .expect("map");
        let (_, stored) = doc
            .get(&requests, request.id.as_str())
            .expect("get")
            .expect("entry");
        let (requested_by, _) = doc
            .get(&stored, "requested_by")
            .expect("get")
            .expect("field");
        assert_eq!(requested_by.as_str(), Some(member.to_string().as_str()));
        let (visit_type, _) = doc.get(&stored, "visit_type").expect("get").expect("field");
        assert_eq!(visit_type.as_str(), Some("table"));
        let read: Option<DocVisitRequest> =
            read_entry(&doc, keys::VISIT_REQUESTS, &request.id).expect("read entry");
        assert_eq!(read, Some(request));
        let none: Option<DocVisitRequest> =
            read_entry(&doc, keys::VISIT_REQUESTS, "nope").expect("read entry");
        assert_eq!(none, None);
    }

    #[test]
    fn optional_fields_may_be_absent_as_other_implementations_write_them() {
        use automerge::transaction::Transactable;
        let member = MemberId::new();
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let event = tx
            .put_object(ROOT, "event", automerge::ObjType::Map)
            .expect("put");
        tx.put(&event, "id", "e1").expect("put");
        tx.put(&event, "kind", "requested").expect("put");
        tx.put(&event, "at", 42_i64).expect("put");
        tx.put(&event, "by", member.to_string()).expect("put");
        tx.commit();
        let read: Event = hydrate_prop(&doc, &ROOT, "event").expect("hydrate");
        assert_eq!(
            read,
            Event {
                id: "e1".into(),
                ..Event::new("requested", 42, Author::Member(member))
            }
        );
    }

    #[test]
    fn an_event_writes_only_the_fields_it_has() {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let mut event = Event::new("ticked", 1, Author::Server);
        autosurgeon::reconcile_prop(&mut tx, ROOT, "event", &event).expect("write");
        let (_, obj) = automerge::ReadDoc::get(&tx, ROOT, "event")
            .expect("get")
            .expect("event");
        let written: Vec<String> = automerge::ReadDoc::keys(&tx, &obj).collect();
        assert_eq!(written, ["at", "by", "id", "kind"]);
        // Reconciling a value without a field the document has removes it.
        event.detail = Some("x".into());
        autosurgeon::reconcile_prop(&mut tx, ROOT, "event", &event).expect("write");
        event.detail = None;
        autosurgeon::reconcile_prop(&mut tx, ROOT, "event", &event).expect("write");
        assert_eq!(automerge::ReadDoc::keys(&tx, &obj).count(), 4);
        tx.commit();
        assert_eq!(
            hydrate_prop::<_, Event, _, _>(&doc, &ROOT, "event").expect("read"),
            event
        );
    }

    #[test]
    fn malformed_values_are_schema_errors_not_panics() {
        use automerge::transaction::Transactable;
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        tx.put(ROOT, "by", "not-a-member").expect("put");
        tx.put(ROOT, "owner", "nobody").expect("put");
        tx.put(ROOT, "schema_version", -1_i64).expect("put");
        tx.commit();
        assert!(hydrate_prop::<_, Author, _, _>(&doc, &ROOT, "by").is_err());
        assert!(hydrate_prop::<_, StepOwner, _, _>(&doc, &ROOT, "owner").is_err());
        assert!(matches!(
            schema_version_of(&doc),
            Err(DocError::InvalidSchemaVersion)
        ));
        let err = FamilyDoc::read(&doc).expect_err("not a family doc");
        assert_eq!(err.code(), "schema_mismatch");
    }
}
