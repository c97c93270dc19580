//! The write policy: who may change what in a family document.
//!
//! The server is the authority. A family device may only *add*: open a request, append the
//! family's own intents, tick, note, answer. Everything else — members, decisions, capacity,
//! steps created by social workers, invitations, any edit or deletion of what exists — is the
//! server's. The same pure function runs on the phone before it commits a change (so a user never
//! makes an edit that sync would refuse) and on the server when it validates a sync (so a
//! modified client cannot do more).
//!
//! [`check_change`] finds the patches the new changes make (loading them into a copy of the
//! document before them, as the server does) and checks the path of every patch. Patches inside an object that the changes
//! created are not checked one by one: the object is checked whole where it was created, by
//! reading it as its schema type (and nothing more: see `shape.rs`) and checking its author, kinds and ids.
//!
//! | path (below the root) | a family device may | code otherwise |
//! |---|---|---|
//! | `schema_version`, `family_id`, `members/…` | nothing | `server_only_path` |
//! | `visit_requests/<id>` | create, opening with `requested` by itself, `requested_by` itself | `event_kind_not_allowed`, `event_author_mismatch`, `id_mismatch` |
//! | `visit_requests/<id>/events/<n>` | append `withdraw_requested`, `cancel_requested`, `proposal_accepted` by itself | `event_kind_not_allowed`, `event_author_mismatch` |
//! | `family_day_registrations/<id>` | create (opening with `requested`); append `cancel_requested` | as above |
//! | `steps/<id>/checklist/<item>/events/<n>` | append `ticked`/`unticked` if the step's owner is `family` | `step_not_family_owned` |
//! | `steps/<id>/notes/<n>` | append a note by itself, on any step | `event_author_mismatch` |
//! | `appointments/<id>` | create (opening with `proposed`); append `accepted`, `declined`, `tentative` | as above |
//! | `invitations/<id>/answers/<n>` | append an answer by itself to its own member's invitation | `not_own_invitation` |
//! | an existing event, note or answer | nothing | `existing_event_modified` |
//! | any deletion | nothing | `deletion_not_allowed` |
//! | anything else (fields of existing entries, steps, invitations…) | nothing | `server_only_path` |
//!
//! Also: every object a device creates must be exactly of its schema type
//! (`malformed_object`), event ids must be unique in their list (`duplicate_event_id`), a
//! device's events carry no `staff_account` and no `slot`, and the writing member must be in
//! `members` (`unknown_member`). The server may write anything.
//!
//! What the change's patches cannot show: an operation that changes nothing visible (writing a
//! value then deleting it in the same batch, writing into an object the server has since
//! deleted) leaves no patch and is not refused. It changes no state on any replica, now or later.
//! (The patches a phone logs while editing do show such a write: the phone may refuse more than
//! the server, never less.)

use std::collections::HashSet;

use automerge::{
    ActorId, Automerge, ChangeHash, ObjId, Patch, PatchAction, PatchLog, Prop, ROOT, ReadDoc, Value,
};

use super::schema::{
    Appointment, Author, DocRegistration, DocVisitRequest, Event, InvitationAnswer, Note,
    StepOwner, keys,
};
use super::shape;
use super::status::{
    AppointmentEventKind, ChecklistEventKind, RegistrationEventKind, VisitEventKind,
};
use crate::{ErrorBody, MemberId};

/// Who wrote a set of changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// An enrolled device of a family member; its changes are checked against the policy.
    FamilyDevice { member_id: MemberId },
    /// The server, writing decisions and staff actions; it may write anything.
    Server,
}

/// Why a change was refused: the first offending path, a stable snake_case code and a message
/// for humans.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code} at {path}: {message}")]
pub struct PolicyViolation {
    /// Slash-separated path below the document root, e.g. `visit_requests/<id>/events/2`.
    pub path: String,
    pub code: &'static str,
    pub message: String,
}

impl PolicyViolation {
    fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code,
            message: message.into(),
        }
    }

    /// The API error body for this violation: `field` carries the path.
    pub fn to_error_body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
            field: Some(self.path.clone()),
        }
    }
}

/// Checks every change between `before` and `after` against `writer`'s policy. `after` must
/// contain `before` (it is `before` with new changes applied); the first violation found is
/// returned (`malformed_changes` when Automerge cannot apply the changes to a copy of
/// `before`). Pure: reads both documents and nothing else, and does not panic on Automerge's
/// account.
pub fn check_change(
    writer: Writer,
    before: &Automerge,
    after: &Automerge,
) -> Result<(), PolicyViolation> {
    if writer == Writer::Server {
        return Ok(());
    }
    let before_heads = before.get_heads();
    if before_heads
        .iter()
        .any(|h| after.get_change_meta_by_hash(h).is_none())
    {
        return Err(PolicyViolation::new(
            "",
            "not_a_descendant",
            "the changed document does not contain the document it was checked against",
        ));
    }
    // The patches the new changes make, as loading them into `before` logs them (what the
    // server does with a device's changes). Automerge's `diff` leaves out some writes (a value
    // of a type it does not know) that the policy must see.
    // Automerge 0.12 panics reading back some values it wrote itself (of a type it does not
    // know): such changes are malformed, as the server finds when it loads them.
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let changes = after.get_changes(&before_heads);
        let mut copy = before.fork();
        let mut log = PatchLog::active();
        copy.apply_changes_log_patches(changes, &mut log)
            .map(|()| copy.make_patches(&mut log))
            .map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|_| Err("Automerge panicked".into()));
    let patches = applied.map_err(|e| {
        PolicyViolation::new(
            "",
            "malformed_changes",
            format!("the changes cannot be applied to the document they were made on: {e}"),
        )
    })?;
    check_patches(writer, before, after, &patches)
}

/// [`check_change`] for patches already at hand: the patches that turn `before` into `after`,
/// e.g. logged while the change was made (`Automerge::transaction_log_patches`). Computing
/// them on a copy costs what the whole document costs; a patch log costs what the change costs.
pub fn check_patches(
    writer: Writer,
    before: &Automerge,
    after: &Automerge,
    patches: &[Patch],
) -> Result<(), PolicyViolation> {
    let Some(member) = device_member(writer, patches) else {
        return Ok(());
    };
    Check {
        before: Before::Copy(before),
        after,
        member,
    }
    .run(patches)
}

/// [`check_patches`] for a document that already holds the changes: `doc` at `before_heads`
/// is the document before them. A device checks its own write this way, without copying the
/// document first (a copy costs what the whole document costs); if the write is refused, it
/// goes back to `before_heads` itself.
pub fn check_patches_since(
    writer: Writer,
    doc: &Automerge,
    before_heads: &[ChangeHash],
    patches: &[Patch],
) -> Result<(), PolicyViolation> {
    let Some(member) = device_member(writer, patches) else {
        return Ok(());
    };
    let new_ops: Vec<NewOps> = doc
        .get_changes_meta(before_heads)
        .into_iter()
        .map(|change| NewOps {
            actor: change.actor.into_owned(),
            first: change.start_op,
            last: change.max_op,
        })
        .collect();
    Check {
        before: Before::At {
            heads: before_heads,
            new_ops: &new_ops,
        },
        after: doc,
        member,
    }
    .run(patches)
}

/// The member whose device wrote `patches`, when there is something to check: the server may
/// write anything, and no patch breaks no rule.
fn device_member(writer: Writer, patches: &[Patch]) -> Option<MemberId> {
    match writer {
        Writer::FamilyDevice { member_id } if !patches.is_empty() => Some(member_id),
        _ => None,
    }
}

/// Checks that every change in `after` and not in `before` was made by `actor`: a device sends
/// only its own changes, so that nobody can forge another member's or the server's.
pub fn check_authorship(
    before: &Automerge,
    after: &Automerge,
    actor: &ActorId,
) -> Result<(), PolicyViolation> {
    match after
        .get_changes_meta(&before.get_heads())
        .iter()
        .find(|c| c.actor.as_ref() != actor)
    {
        None => Ok(()),
        Some(change) => Err(PolicyViolation::new(
            "",
            "foreign_actor",
            format!(
                "change {} was made by another actor than this device's",
                change.hash
            ),
        )),
    }
}

/// One step of a patch's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> From<&'a Prop> for Seg<'a> {
    fn from(prop: &'a Prop) -> Self {
        match prop {
            Prop::Map(key) => Seg::Key(key),
            Prop::Seq(index) => Seg::Index(*index),
        }
    }
}

fn show(path: &[Seg<'_>]) -> String {
    path.iter()
        .map(|seg| match seg {
            Seg::Key(key) => (*key).to_owned(),
            Seg::Index(index) => index.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The append-only lists of the schema, by the path of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List<'a> {
    VisitEvents,
    RegistrationEvents,
    AppointmentEvents,
    StepEvents,
    ChecklistEvents { step: &'a str },
    Notes,
    Answers { invitation: &'a str },
}

fn list_at<'a>(path: &[Seg<'a>]) -> Option<List<'a>> {
    use Seg::Key as K;
    Some(match path {
        [K(keys::VISIT_REQUESTS), K(_), K(keys::EVENTS)] => List::VisitEvents,
        [K(keys::FAMILY_DAY_REGISTRATIONS), K(_), K(keys::EVENTS)] => List::RegistrationEvents,
        [K(keys::APPOINTMENTS), K(_), K(keys::EVENTS)] => List::AppointmentEvents,
        [K(keys::STEPS), K(_), K(keys::EVENTS)] => List::StepEvents,
        [
            K(keys::STEPS),
            K(step),
            K(keys::CHECKLIST),
            K(_),
            K(keys::EVENTS),
        ] => List::ChecklistEvents { step },
        [K(keys::STEPS), K(_), K(keys::NOTES)] => List::Notes,
        [K(keys::INVITATIONS), K(invitation), K(keys::ANSWERS)] => List::Answers { invitation },
        _ => return None,
    })
}

/// Whether `path` goes through an element of an append-only list (or is one).
fn inside_list_element(path: &[Seg<'_>]) -> bool {
    (0..path.len()).any(|n| list_at(&path[..n]).is_some())
}

/// The ops of one of the changes being checked: `first..=last` of `actor`.
struct NewOps {
    actor: ActorId,
    first: u64,
    last: u64,
}

/// The document as it was before the changes being checked.
#[derive(Clone, Copy)]
enum Before<'d> {
    /// A copy of it.
    Copy(&'d Automerge),
    /// The checked document as it was at these heads; `new_ops` are the changes made since.
    At {
        heads: &'d [ChangeHash],
        new_ops: &'d [NewOps],
    },
}

struct Check<'d> {
    before: Before<'d>,
    after: &'d Automerge,
    member: MemberId,
}

impl<'d> Check<'d> {
    fn run(&self, patches: &[Patch]) -> Result<(), PolicyViolation> {
        self.member_is_known()?;
        for patch in patches {
            self.patch(patch)?;
        }
        Ok(())
    }

    /// A value of the document before the changes.
    fn before_get(&self, obj: &ObjId, key: &str) -> Option<(Value<'d>, ObjId)> {
        match self.before {
            Before::Copy(doc) => doc.get(obj, key),
            Before::At { heads, .. } => self.after.get_at(obj, key, heads),
        }
        .ok()
        .flatten()
    }

    fn member_is_known(&self) -> Result<(), PolicyViolation> {
        let member = self.member.to_string();
        let known = self
            .before_get(&ROOT, keys::MEMBERS)
            .and_then(|(_, members)| self.before_get(&members, member.as_str()))
            .is_some();
        if known {
            Ok(())
        } else {
            Err(PolicyViolation::new(
                format!("{}/{member}", keys::MEMBERS),
                "unknown_member",
                "the writing member is not a member of this family's document",
            ))
        }
    }

    /// Whether `obj` was created by the changes being checked.
    fn is_new(&self, obj: &ObjId) -> bool {
        match (self.before, obj) {
            (_, ObjId::Root) => false,
            (Before::Copy(doc), _) => doc.object_type(obj).is_err(),
            (Before::At { new_ops, .. }, ObjId::Id(counter, actor, _)) => new_ops
                .iter()
                .any(|ops| ops.actor == *actor && (ops.first..=ops.last).contains(counter)),
        }
    }

    fn patch(&self, patch: &Patch) -> Result<(), PolicyViolation> {
        // Inside an object the changes created: checked whole where it was created.
        if patch.path.iter().skip(1).any(|(obj, _)| self.is_new(obj)) || self.is_new(&patch.obj) {
            return Ok(());
        }
        let mut path: Vec<Seg<'_>> = patch.path.iter().map(|(_, prop)| Seg::from(prop)).collect();
        match &patch.action {
            PatchAction::PutMap {
                key,
                value: (Value::Object(_), created),
                ..
            } if self.is_new(created) => self.created_entry(&path, key, created),
            PatchAction::Insert { index, values } => {
                for (offset, (value, created, _)) in values.iter().enumerate() {
                    let at = index + offset;
                    match value {
                        Value::Object(_) if self.is_new(created) => {
                            self.appended(&path, at, created)?;
                        }
                        _ if list_at(&path).is_some() => {
                            path.push(Seg::Index(at));
                            return Err(PolicyViolation::new(
                                show(&path),
                                "malformed_object",
                                "this list holds maps only",
                            ));
                        }
                        _ => {
                            path.push(Seg::Index(at));
                            return Err(self.refused_write(&path, "inserts a value"));
                        }
                    }
                }
                Ok(())
            }
            PatchAction::DeleteMap { key } => {
                path.push(Seg::Key(key));
                Err(PolicyViolation::new(
                    show(&path),
                    "deletion_not_allowed",
                    "only the server deletes anything from a family document",
                ))
            }
            PatchAction::DeleteSeq { index, .. } => {
                path.push(Seg::Index(*index));
                Err(PolicyViolation::new(
                    show(&path),
                    "deletion_not_allowed",
                    "only the server deletes anything from a family document",
                ))
            }
            PatchAction::PutMap { key, .. } => {
                path.push(Seg::Key(key));
                Err(self.refused_write(&path, "writes a value"))
            }
            PatchAction::PutSeq { index, .. } => {
                path.push(Seg::Index(*index));
                Err(self.refused_write(&path, "overwrites an element"))
            }
            PatchAction::Conflict { prop } => {
                path.push(Seg::from(prop));
                Err(self.refused_write(&path, "writes a value concurrently with another writer"))
            }
            PatchAction::Increment { prop, .. } => {
                path.push(Seg::from(prop));
                Err(self.refused_write(&path, "increments a counter"))
            }
            PatchAction::SpliceText { .. } | PatchAction::Mark { .. } => {
                Err(self.refused_write(&path, "edits text"))
            }
        }
    }

    /// A write a family device may not make at `path` (never a creation it may make).
    fn refused_write(&self, path: &[Seg<'_>], what: &str) -> PolicyViolation {
        if inside_list_element(path) {
            PolicyViolation::new(
                show(path),
                "existing_event_modified",
                format!("{what}: events, notes and answers are never changed once written"),
            )
        } else {
            PolicyViolation::new(
                show(path),
                "server_only_path",
                format!("{what}: only the server writes here"),
            )
        }
    }

    /// A new object put at `path/key`: only a new entry of the collections families open.
    fn created_entry(
        &self,
        path: &[Seg<'_>],
        key: &str,
        created: &ObjId,
    ) -> Result<(), PolicyViolation> {
        let mut full = path.to_vec();
        full.push(Seg::Key(key));
        let at = show(&full);
        let collection = match path {
            [
                Seg::Key(
                    c
                    @ (keys::VISIT_REQUESTS | keys::FAMILY_DAY_REGISTRATIONS | keys::APPOINTMENTS),
                ),
            ] => *c,
            _ => return Err(self.refused_write(&full, "creates an object")),
        };
        if self.exists_before(&[collection, key]) {
            return Err(PolicyViolation::new(
                at,
                "server_only_path",
                "replaces an existing entry: only the server does",
            ));
        }
        match collection {
            keys::VISIT_REQUESTS => {
                let request: DocVisitRequest = self.exact(&at, created)?;
                self.id_is_key(&at, key, &request.id)?;
                self.new_entry(
                    &at,
                    request.requested_by,
                    &request.events,
                    VisitEventKind::Requested.as_str(),
                    family_may_append_to_visit,
                )
            }
            keys::FAMILY_DAY_REGISTRATIONS => {
                let registration: DocRegistration = self.exact(&at, created)?;
                self.id_is_key(&at, key, &registration.id)?;
                self.new_entry(
                    &at,
                    registration.requested_by,
                    &registration.events,
                    RegistrationEventKind::Requested.as_str(),
                    family_may_append_to_registration,
                )
            }
            _ => {
                let appointment: Appointment = self.exact(&at, created)?;
                self.id_is_key(&at, key, &appointment.id)?;
                self.new_entry(
                    &at,
                    self.member,
                    &appointment.events,
                    AppointmentEventKind::Proposed.as_str(),
                    family_may_append_to_appointment,
                )
            }
        }
    }

    fn id_is_key(&self, at: &str, key: &str, id: &str) -> Result<(), PolicyViolation> {
        if id == key {
            Ok(())
        } else {
            Err(PolicyViolation::new(
                format!("{at}/id"),
                "id_mismatch",
                "an entry's id must be its key",
            ))
        }
    }

    /// Checks a new entry's author and events: the first is `opens_with`, the others kinds
    /// the family may append.
    fn new_entry(
        &self,
        at: &str,
        requested_by: MemberId,
        events: &[Event],
        opens_with: &str,
        may_follow: fn(&str) -> bool,
    ) -> Result<(), PolicyViolation> {
        if requested_by != self.member {
            return Err(PolicyViolation::new(
                format!("{at}/requested_by"),
                "event_author_mismatch",
                "a device opens entries in its own member's name only",
            ));
        }
        if events.is_empty() {
            return Err(PolicyViolation::new(
                format!("{at}/{}", keys::EVENTS),
                "event_kind_not_allowed",
                "a new entry opens with its first event",
            ));
        }
        let mut seen = HashSet::new();
        for (n, event) in events.iter().enumerate() {
            let path = format!("{at}/{}/{n}", keys::EVENTS);
            self.family_event(&path, event)?;
            if !seen.insert(event.id.as_str()) {
                return Err(duplicate(&path));
            }
            let allowed = if n == 0 {
                event.kind == opens_with
            } else {
                may_follow(&event.kind)
            };
            if !allowed {
                return Err(PolicyViolation::new(
                    format!("{path}/kind"),
                    "event_kind_not_allowed",
                    format!(
                        "a family device may not write a `{}` event here",
                        event.kind
                    ),
                ));
            }
        }
        Ok(())
    }

    /// What holds for every event a device writes.
    fn family_event(&self, path: &str, event: &Event) -> Result<(), PolicyViolation> {
        if event.by != Author::Member(self.member) || event.staff_account.is_some() {
            return Err(PolicyViolation::new(
                format!("{path}/by"),
                "event_author_mismatch",
                "a device writes events in its own member's name only",
            ));
        }
        if event.slot.is_some() {
            return Err(PolicyViolation::new(
                format!("{path}/slot"),
                "malformed_object",
                "slots are decided by the server",
            ));
        }
        Ok(())
    }

    /// A new object inserted at `list_path/index`.
    fn appended(
        &self,
        list_path: &[Seg<'_>],
        index: usize,
        created: &ObjId,
    ) -> Result<(), PolicyViolation> {
        let mut full = list_path.to_vec();
        full.push(Seg::Index(index));
        let at = show(&full);
        let Some(list) = list_at(list_path) else {
            return Err(self.refused_write(&full, "creates an object"));
        };
        let kind_allowed: fn(&str) -> bool = match list {
            List::Notes => {
                let note: Note = self.exact(&at, created)?;
                if note.by != Author::Member(self.member) || note.staff_account.is_some() {
                    return Err(PolicyViolation::new(
                        format!("{at}/by"),
                        "event_author_mismatch",
                        "a device writes notes in its own member's name only",
                    ));
                }
                return self.unique_id(list_path, &note.id, &at);
            }
            List::Answers { invitation } => {
                let invited = self
                    .before_scalar(&[keys::INVITATIONS, invitation, "member_id"])
                    .is_some_and(|m| m == self.member.to_string());
                if !invited {
                    return Err(PolicyViolation::new(
                        at,
                        "not_own_invitation",
                        "a device answers only its own member's invitations",
                    ));
                }
                let answer: InvitationAnswer = self.exact(&at, created)?;
                if answer.by != Author::Member(self.member) {
                    return Err(PolicyViolation::new(
                        format!("{at}/by"),
                        "event_author_mismatch",
                        "a device answers in its own member's name only",
                    ));
                }
                return Ok(());
            }
            List::ChecklistEvents { step } => {
                let owner = self.before_scalar(&[keys::STEPS, step, "owner"]);
                if owner.as_deref() != Some(StepOwner::Family.as_str()) {
                    return Err(PolicyViolation::new(
                        at,
                        "step_not_family_owned",
                        "only the checklists of the family's own steps are ticked by the family",
                    ));
                }
                |kind| ChecklistEventKind::parse(kind).is_some()
            }
            List::VisitEvents => family_may_append_to_visit,
            List::RegistrationEvents => family_may_append_to_registration,
            List::AppointmentEvents => family_may_append_to_appointment,
            List::StepEvents => {
                return Err(PolicyViolation::new(
                    at,
                    "server_only_path",
                    "a step's own events are written by the server",
                ));
            }
        };
        let event: Event = self.exact(&at, created)?;
        self.family_event(&at, &event)?;
        if !kind_allowed(&event.kind) {
            return Err(PolicyViolation::new(
                format!("{at}/kind"),
                "event_kind_not_allowed",
                format!(
                    "a family device may not write a `{}` event here",
                    event.kind
                ),
            ));
        }
        self.unique_id(list_path, &event.id, &at)
    }

    /// Reads a created object as exactly `T`.
    fn exact<T: autosurgeon::Hydrate + autosurgeon::Reconcile>(
        &self,
        at: &str,
        created: &ObjId,
    ) -> Result<T, PolicyViolation> {
        shape::exact(self.after, created).map_err(|problem| {
            PolicyViolation::new(at, "malformed_object", format!("the new object {problem}"))
        })
    }

    /// Whether `id` appears once only among the `id`s of the list at `list_path` in `after`.
    fn unique_id(&self, list_path: &[Seg<'_>], id: &str, at: &str) -> Result<(), PolicyViolation> {
        let Some(list) = self.after_obj(list_path) else {
            return Ok(());
        };
        let count = (0..self.after.length(&list))
            .filter_map(|n| self.after.get(&list, n).ok().flatten())
            .filter_map(|(_, element)| self.after.get(&element, "id").ok().flatten())
            .filter(|(value, _)| value.as_str() == Some(id))
            .count();
        if count > 1 {
            Err(duplicate(at))
        } else {
            Ok(())
        }
    }

    fn after_obj(&self, path: &[Seg<'_>]) -> Option<ObjId> {
        let mut obj = ROOT;
        for seg in path {
            let next = match seg {
                Seg::Key(key) => self.after.get(&obj, *key),
                Seg::Index(index) => self.after.get(&obj, *index),
            };
            obj = next.ok().flatten()?.1;
        }
        Some(obj)
    }

    fn exists_before(&self, path: &[&str]) -> bool {
        self.before_value(path).is_some()
    }

    fn before_scalar(&self, path: &[&str]) -> Option<String> {
        self.before_value(path)
            .and_then(|value| value.as_str().map(str::to_owned))
    }

    fn before_value(&self, path: &[&str]) -> Option<Value<'d>> {
        let mut obj = ROOT;
        let mut found = None;
        for key in path {
            let (value, next) = self.before_get(&obj, key)?;
            found = Some(value);
            obj = next;
        }
        found
    }
}

fn family_may_append_to_visit(kind: &str) -> bool {
    VisitEventKind::parse(kind).is_some_and(VisitEventKind::family_may_append)
}

fn family_may_append_to_registration(kind: &str) -> bool {
    RegistrationEventKind::parse(kind).is_some_and(RegistrationEventKind::family_may_append)
}

fn family_may_append_to_appointment(kind: &str) -> bool {
    AppointmentEventKind::parse(kind).is_some_and(AppointmentEventKind::family_may_append)
}

fn duplicate(at: &str) -> PolicyViolation {
    PolicyViolation::new(
        at,
        "duplicate_event_id",
        "another element of this list has the same id",
    )
}
