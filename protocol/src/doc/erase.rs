//! Erasing a member from a family document (GDPR art. 17): what the family's shared file keeps
//! once a person is erased. Their entry and their Living Lab invitations go, they leave the
//! visitor lists, their notes go, and what they wrote in events is cleared. The events
//! themselves stay (a visit was requested, a step was ticked) under an id that no longer points
//! to anyone, so the family's history still adds up.
//!
//! The server writes the result into a fresh document (the old history, which still holds
//! everything, is dropped: see the server's `privacy` module and the sync's `Replaced` answer).

use super::schema::{Author, Event, FamilyDoc};
use crate::MemberId;

fn clear(events: &mut [Event], member: MemberId) {
    for event in events.iter_mut() {
        if event.by == Author::Member(member) {
            event.detail = None;
        }
    }
}

/// `doc` without `member`.
pub fn erase_member(doc: &mut FamilyDoc, member: MemberId) {
    doc.members.remove(&member.to_string());
    doc.invitations.retain(|_, i| i.member_id != member);
    for request in doc.visit_requests.values_mut() {
        request.visitors.retain(|v| *v != member);
        if request.requested_by == member {
            request.support_note = None;
        }
        clear(&mut request.events, member);
    }
    for registration in doc.family_day_registrations.values_mut() {
        clear(&mut registration.events, member);
    }
    for step in doc.steps.values_mut() {
        step.notes.retain(|n| n.by != Author::Member(member));
        clear(&mut step.events, member);
        for item in step.checklist.values_mut() {
            clear(&mut item.events, member);
        }
    }
    for appointment in doc.appointments.values_mut() {
        clear(&mut appointment.events, member);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::schema::{DocMember, DocVisitRequest, Invitation, Note, Step, StepOwner};
    use crate::visits::VisitType;
    use crate::{DetaineeId, FamilyId, Language, PrisonId};

    fn member(name: &str) -> DocMember {
        DocMember {
            display_name: name.into(),
            relation: "mother".into(),
            language: Language::Fr,
        }
    }

    #[test]
    fn an_erased_member_leaves_no_words_and_no_entry() {
        let (gone, stays) = (MemberId::new(), MemberId::new());
        let mut doc = FamilyDoc::new_for_family(FamilyId::new());
        doc.members.insert(gone.to_string(), member("Gone"));
        doc.members.insert(stays.to_string(), member("Stays"));
        let mut said = Event::new("cancel_requested", 1, Author::Member(gone));
        said.detail = Some("I am ill".into());
        let mut other = Event::new("requested", 2, Author::Member(stays));
        other.detail = Some("kept".into());
        doc.visit_requests.insert(
            "r".into(),
            DocVisitRequest {
                id: "r".into(),
                detainee_id: DetaineeId::new(),
                prison_id: PrisonId::new(),
                visit_type: VisitType::Table,
                preferences: Vec::new(),
                visitors: vec![gone, stays],
                support_needs: Vec::new(),
                support_note: Some("my wheelchair".into()),
                requested_by: gone,
                created_at: 0,
                events: vec![said, other],
            },
        );
        let note = |by, text: &str| Note {
            id: text.into(),
            by: Author::Member(by),
            at: 0,
            text: text.into(),
            staff_account: None,
        };
        doc.steps.insert(
            "s".into(),
            Step {
                id: "s".into(),
                title: "Housing".into(),
                category: "housing".into(),
                owner: StepOwner::Family,
                description: String::new(),
                due_date: None,
                next_actor: Default::default(),
                agency: None,
                documents: Vec::new(),
                template: None,
                checklist: Default::default(),
                notes: vec![note(gone, "mine"), note(stays, "theirs")],
                events: Vec::new(),
            },
        );
        doc.invitations.insert(
            "i".into(),
            Invitation {
                id: "i".into(),
                session_id: "lab".into(),
                member_id: gone,
                title: "Living Lab".into(),
                starts_at: 0,
                answers: Vec::new(),
                place: None,
                summary: None,
            },
        );

        erase_member(&mut doc, gone);

        assert!(!doc.members.contains_key(&gone.to_string()));
        assert!(doc.members.contains_key(&stays.to_string()));
        assert!(doc.invitations.is_empty());
        let request = &doc.visit_requests["r"];
        assert_eq!(request.visitors, vec![stays]);
        assert_eq!(request.support_note, None);
        assert_eq!(request.events.len(), 2, "what happened stays");
        assert_eq!(request.events[0].detail, None);
        assert_eq!(request.events[1].detail.as_deref(), Some("kept"));
        let notes: Vec<&str> = doc.steps["s"]
            .notes
            .iter()
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(notes, ["theirs"]);
    }
}
