//! Arbitrary edits of an Automerge document: raw operations on any object (puts, inserts,
//! deletions, counters, text, marks) and typed writes of whole schema objects with arbitrary
//! fields, so that the fuzzer reaches both the path checks and the shape checks of the policy.

use arbitrary::Arbitrary;
use automerge::marks::{ExpandMark, Mark};
use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, Prop, ReadDoc, ScalarValue, Value};
use reguide_protocol::doc::write::{self, EventList};
use reguide_protocol::doc::{Author, InvitationAnswer, Note, Rsvp, keys};
use reguide_protocol::visits::SlotChoice;
use reguide_protocol::MemberId;

use crate::family::{self, AMINA, STAFF, YOUSSEF};

/// A word: one of the [`family::vocabulary`] (most useful) or any text.
#[derive(Arbitrary, Clone, Debug)]
pub enum Word {
    Known(u8),
    Text(String),
}

#[derive(Arbitrary, Clone, Debug)]
pub enum Key {
    Word(Word),
    Index(u8),
}

#[derive(Arbitrary, Clone, Debug)]
pub enum Scalar {
    Word(Word),
    Int(i64),
    Uint(u64),
    F64(f64),
    Bool(bool),
    Null,
    Counter(i64),
    Timestamp(i64),
    Bytes(Vec<u8>),
    Unknown { type_code: u8, bytes: Vec<u8> },
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Kind {
    Map,
    List,
    Text,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Who {
    Amina,
    Youssef,
    Server,
    Nobody,
}

impl Who {
    fn author(self) -> Author {
        match self {
            Self::Amina => Author::Member(AMINA),
            Self::Youssef => Author::Member(YOUSSEF),
            Self::Server => Author::Server,
            // A member of no family.
            Self::Nobody => Author::Member(MemberId(uuid::Uuid::from_u128(0x99))),
        }
    }

    fn member(self) -> MemberId {
        match self.author() {
            Author::Member(m) => m,
            Author::Server => AMINA,
        }
    }
}

/// An event with arbitrary fields, written as the schema writes events.
#[derive(Arbitrary, Clone, Debug)]
pub struct EventSpec {
    pub id: Word,
    pub kind: Word,
    pub at: i64,
    pub by: Who,
    pub staff: bool,
    pub detail: Option<String>,
    pub refers_to: Option<Word>,
    pub slot: bool,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum ListChoice {
    Visit,
    Registration,
    Appointment,
    StepEvents,
    Checklist { worker_step: bool },
}

/// A schema object written whole, the way the write helpers and the server write them.
#[derive(Arbitrary, Clone, Debug)]
pub enum Typed {
    VisitRequest { key: Word, id: Option<Word>, by: Who, events: Vec<EventSpec> },
    Registration { key: Word, id: Option<Word>, by: Who, events: Vec<EventSpec> },
    Appointment { key: Word, id: Option<Word>, events: Vec<EventSpec> },
    Event { list: ListChoice, id: Option<Word>, event: EventSpec },
    Note { step: Word, id: Word, by: Who, staff: bool, text: String },
    Answer { invitation: Word, answer: u8, by: Who, note: Option<String> },
    Member { id: Word, name: String },
    Step { id: Word, worker: bool },
    ChecklistItem { step: Word, item: Word, label: String },
}

#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    Put { obj: u8, key: Key, value: Scalar },
    PutObject { obj: u8, key: Key, kind: Kind },
    Insert { obj: u8, index: u8, value: Scalar },
    InsertObject { obj: u8, index: u8, kind: Kind },
    Delete { obj: u8, key: Key },
    Increment { obj: u8, key: Key, by: i16 },
    SpliceText { obj: u8, pos: u8, del: i8, text: String },
    Mark { obj: u8, start: u8, end: u8, name: Word, value: Scalar, expand: u8 },
    Typed(Typed),
}

impl Op {
    /// Whether the op writes a value of a type Automerge does not know: Automerge 0.12 cannot
    /// load back a change holding one (the server answers `malformed_changes`).
    pub fn writes_unknown(&self) -> bool {
        match self {
            Op::Put { value, .. } | Op::Insert { value, .. } | Op::Mark { value, .. } => {
                matches!(value, Scalar::Unknown { .. })
            }
            _ => false,
        }
    }
}

/// Applies arbitrary [`Op`]s to a document in a transaction; errors are expected and skipped.
#[derive(Clone, Debug)]
pub struct Editor {
    words: Vec<String>,
    objects: Vec<ObjId>,
}

impl Editor {
    /// An editor for `doc` as it is now (the objects ops may name are read from it).
    pub fn new<D: ReadDoc>(doc: &D) -> Self {
        Self {
            words: family::vocabulary(),
            objects: family::objects(doc, 256),
        }
    }

    fn word(&self, word: &Word) -> String {
        match word {
            Word::Known(n) => self.words[usize::from(*n) % self.words.len()].clone(),
            Word::Text(text) => text.clone(),
        }
    }

    fn obj(&self, n: u8) -> ObjId {
        self.objects[usize::from(n) % self.objects.len()].clone()
    }

    fn scalar(&self, value: &Scalar) -> ScalarValue {
        match value {
            Scalar::Word(w) => ScalarValue::Str(self.word(w).into()),
            Scalar::Int(v) => ScalarValue::Int(*v),
            Scalar::Uint(v) => ScalarValue::Uint(*v),
            Scalar::F64(v) => ScalarValue::F64(*v),
            Scalar::Bool(v) => ScalarValue::Boolean(*v),
            Scalar::Null => ScalarValue::Null,
            Scalar::Counter(v) => ScalarValue::counter(*v),
            Scalar::Timestamp(v) => ScalarValue::Timestamp(*v),
            Scalar::Bytes(v) => ScalarValue::Bytes(v.clone()),
            Scalar::Unknown { type_code, bytes } => ScalarValue::Unknown {
                type_code: *type_code,
                bytes: bytes.clone(),
            },
        }
    }

    /// A property of `obj`: a key for a map, an index (within bounds, mostly) for a list.
    fn prop<D: ReadDoc>(&self, doc: &D, obj: &ObjId, key: &Key, extra: usize) -> Prop {
        let len = doc.length(obj);
        match (doc.object_type(obj), key) {
            (Ok(ObjType::List | ObjType::Text), Key::Index(i)) => {
                Prop::Seq(usize::from(*i) % (len + extra).max(1))
            }
            (Ok(ObjType::List | ObjType::Text), Key::Word(_)) => Prop::Seq(len),
            (_, Key::Word(w)) => Prop::Map(self.word(w)),
            (_, Key::Index(i)) => Prop::Map(i.to_string()),
        }
    }

    fn remember(&mut self, created: Result<ObjId, automerge::AutomergeError>) {
        if let Ok(obj) = created {
            if self.objects.len() < 1024 {
                self.objects.push(obj);
            }
        }
    }

    fn obj_type(kind: Kind) -> ObjType {
        match kind {
            Kind::Map => ObjType::Map,
            Kind::List => ObjType::List,
            Kind::Text => ObjType::Text,
        }
    }

    /// Applies `op`, ignoring what Automerge or the schema refuses.
    pub fn apply(&mut self, tx: &mut Transaction<'_>, op: &Op) {
        match op {
            Op::Put { obj, key, value } => {
                let obj = self.obj(*obj);
                let prop = self.prop(tx, &obj, key, 0);
                let _ = tx.put(&obj, prop, self.scalar(value));
            }
            Op::PutObject { obj, key, kind } => {
                let obj = self.obj(*obj);
                let prop = self.prop(tx, &obj, key, 0);
                let created = tx.put_object(&obj, prop, Self::obj_type(*kind));
                self.remember(created);
            }
            Op::Insert { obj, index, value } => {
                let obj = self.obj(*obj);
                let at = usize::from(*index) % (tx.length(&obj) + 1);
                let _ = tx.insert(&obj, at, self.scalar(value));
            }
            Op::InsertObject { obj, index, kind } => {
                let obj = self.obj(*obj);
                let at = usize::from(*index) % (tx.length(&obj) + 1);
                let created = tx.insert_object(&obj, at, Self::obj_type(*kind));
                self.remember(created);
            }
            Op::Delete { obj, key } => {
                let obj = self.obj(*obj);
                let prop = self.prop(tx, &obj, key, 0);
                let _ = tx.delete(&obj, prop);
            }
            Op::Increment { obj, key, by } => {
                let obj = self.obj(*obj);
                let prop = self.prop(tx, &obj, key, 0);
                let _ = tx.increment(&obj, prop, i64::from(*by));
            }
            Op::SpliceText { obj, pos, del, text } => {
                let obj = self.obj(*obj);
                let len = tx.length(&obj);
                let pos = usize::from(*pos) % (len + 1);
                let del = isize::from(*del).clamp(-(pos as isize), (len - pos) as isize);
                let _ = tx.splice_text(&obj, pos, del, text);
            }
            Op::Mark {
                obj,
                start,
                end,
                name,
                value,
                expand,
            } => {
                let obj = self.obj(*obj);
                let len = tx.length(&obj) + 1;
                let (start, end) = (usize::from(*start) % len, usize::from(*end) % len);
                let expand = match expand % 4 {
                    0 => ExpandMark::Before,
                    1 => ExpandMark::After,
                    2 => ExpandMark::Both,
                    _ => ExpandMark::None,
                };
                let mark = Mark::new(self.word(name), self.scalar(value), start.min(end), start.max(end));
                let _ = tx.mark(&obj, mark, expand);
            }
            Op::Typed(typed) => self.typed(tx, typed),
        }
        // Objects created by typed writes become targets of the ops that follow.
        if let Op::Typed(_) = op {
            self.objects = family::objects(&*tx, 1024);
        }
    }

    fn event(&self, spec: &EventSpec) -> reguide_protocol::doc::Event {
        reguide_protocol::doc::Event {
            id: self.word(&spec.id),
            kind: self.word(&spec.kind),
            at: spec.at,
            by: spec.by.author(),
            staff_account: spec.staff.then_some(STAFF),
            detail: spec.detail.clone(),
            refers_to: spec.refers_to.as_ref().map(|w| self.word(w)),
            slot: spec.slot.then(family::slot),
        }
    }

    fn events(&self, specs: &[EventSpec]) -> Vec<reguide_protocol::doc::Event> {
        specs.iter().take(8).map(|s| self.event(s)).collect()
    }

    fn typed(&self, doc: &mut Transaction<'_>, typed: &Typed) {
        match typed {
            Typed::VisitRequest { key, id, by, events } => {
                let key = self.word(key);
                let mut entry = family::visit_request(&key, by.member());
                if let Some(id) = id {
                    entry.id = self.word(id);
                }
                entry.events = self.events(events);
                let _ = write::put_entry(doc, keys::VISIT_REQUESTS, &key, &entry);
            }
            Typed::Registration { key, id, by, events } => {
                let key = self.word(key);
                let mut entry = family::registration(&key, by.member());
                if let Some(id) = id {
                    entry.id = self.word(id);
                }
                entry.events = self.events(events);
                let _ = write::put_entry(doc, keys::FAMILY_DAY_REGISTRATIONS, &key, &entry);
            }
            Typed::Appointment { key, id, events } => {
                let key = self.word(key);
                let mut entry = family::appointment(&key, family::event("x", "proposed", 0, Author::Server));
                if let Some(id) = id {
                    entry.id = self.word(id);
                }
                entry.events = self.events(events);
                let _ = write::put_entry(doc, keys::APPOINTMENTS, &key, &entry);
            }
            Typed::Event { list, id, event } => {
                let id = id.as_ref().map(|w| self.word(w));
                let list = match list {
                    ListChoice::Visit => EventList::VisitRequest(id.as_deref().unwrap_or(family::REQUEST)),
                    ListChoice::Registration => {
                        EventList::Registration(id.as_deref().unwrap_or(family::REGISTRATION))
                    }
                    ListChoice::Appointment => {
                        EventList::Appointment(id.as_deref().unwrap_or(family::APPOINTMENT))
                    }
                    ListChoice::StepEvents => EventList::Step(id.as_deref().unwrap_or(family::FAMILY_STEP)),
                    ListChoice::Checklist { worker_step } => EventList::ChecklistItem {
                        step: if *worker_step { family::WORKER_STEP } else { family::FAMILY_STEP },
                        item: id.as_deref().unwrap_or(if *worker_step { "call" } else { "form" }),
                    },
                };
                let _ = write::append_event(doc, list, &self.event(event));
            }
            Typed::Note { step, id, by, staff, text } => {
                let note = Note {
                    id: self.word(id),
                    by: by.author(),
                    at: 5,
                    text: text.clone(),
                    staff_account: staff.then_some(STAFF),
                };
                let step = self.word(step);
                if let Ok(Some((_, steps))) = doc.get(&automerge::ROOT, keys::STEPS) {
                    if let Ok(Some((_, entry))) = doc.get(&steps, step.as_str()) {
                        if let Ok(Some((Value::Object(_), notes))) = doc.get(&entry, keys::NOTES) {
                            let len = doc.length(&notes);
                            let _ = autosurgeon::reconcile_insert(doc, notes, len, &note);
                        }
                    }
                }
            }
            Typed::Answer { invitation, answer, by, note } => {
                let answer = InvitationAnswer {
                    answer: match answer % 3 {
                        0 => Rsvp::Accepted,
                        1 => Rsvp::Declined,
                        _ => Rsvp::Tentative,
                    },
                    note: note.clone(),
                    at: 6,
                    by: by.author(),
                };
                let invitation = self.word(invitation);
                if let Ok(Some((_, invitations))) = doc.get(&automerge::ROOT, keys::INVITATIONS) {
                    if let Ok(Some((_, entry))) = doc.get(&invitations, invitation.as_str()) {
                        if let Ok(Some((Value::Object(_), answers))) = doc.get(&entry, keys::ANSWERS) {
                            let len = doc.length(&answers);
                            let _ = autosurgeon::reconcile_insert(doc, answers, len, &answer);
                        }
                    }
                }
            }
            Typed::Member { id, name } => {
                let member = reguide_protocol::doc::DocMember {
                    display_name: name.clone(),
                    relation: "family".into(),
                    language: reguide_protocol::Language::Nl,
                };
                let _ = write::put_entry(doc, keys::MEMBERS, &self.word(id), &member);
            }
            Typed::Step { id, worker } => {
                let id = self.word(id);
                let step = reguide_protocol::doc::Step {
                    id: id.clone(),
                    title: "t".into(),
                    category: "c".into(),
                    owner: if *worker {
                        reguide_protocol::doc::StepOwner::Worker
                    } else {
                        reguide_protocol::doc::StepOwner::Family
                    },
                    description: String::new(),
                    due_date: None,
                    next_actor: reguide_protocol::doc::NextActor::Family,
                    agency: None,
                    documents: Vec::new(),
                    template: None,
                    checklist: Default::default(),
                    notes: Vec::new(),
                    events: Vec::new(),
                };
                let _ = write::put_entry(doc, keys::STEPS, &id, &step);
            }
            Typed::ChecklistItem { step, item, label } => {
                let _ = write::add_checklist_item(doc, &self.word(step), &self.word(item), label);
            }
        }
    }
}

/// A slot of arbitrary content, for typed writes that carry one.
pub fn any_slot(template: u128, days: i32) -> SlotChoice {
    SlotChoice {
        template_id: uuid::Uuid::from_u128(template),
        date: chrono::NaiveDate::from_num_days_from_ce_opt(days).unwrap_or_default(),
    }
}
