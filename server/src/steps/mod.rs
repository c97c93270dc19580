//! Administrative steps: what a family must do after release (a domicile, an identity card, an
//! income, health insurance…), with who acts next.
//!
//! Steps live in the family's document (`reguide_protocol::doc::Step`): the family ticks the
//! checklist of its own steps and adds notes offline; social workers of the family's caseload
//! create and change steps through the API, which the server writes into the document as
//! itself, each change an event naming the staff account (the step's history). Regional
//! templates (`templates.rs`) create a set of steps in one action.
//!
//! Who may do what: a social worker with the family in their caseload reads and writes; a
//! member of the family reads (and writes through the document); nobody else sees a family's
//! steps, administrators and coordinators included.

pub mod api;
pub mod templates;
pub mod write;

use chrono::{DateTime, Utc};
use reguide_protocol::FamilyId;
use reguide_protocol::doc::status::{checklist_item_ticked, step_state};
use reguide_protocol::doc::{Event, Step, keys, read_collection};
use reguide_protocol::steps::{ChecklistEntry, HistoryEntry, NoteEntry, StepDetail};

use crate::auth::principal::Principal;
use crate::error::{ApiError, ApiResult};

/// What a principal may do with a family's steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepsAccess {
    Read,
    Write,
}

/// Decides access to `family`'s steps; a family whose steps the caller may not see answers
/// as if it did not exist.
pub fn access(principal: &Principal, family: FamilyId) -> ApiResult<StepsAccess> {
    if principal.has_role(reguide_protocol::Role::SocialWorker) && principal.has_in_caseload(family)
    {
        Ok(StepsAccess::Write)
    } else if principal.member_in(family).is_some() {
        Ok(StepsAccess::Read)
    } else {
        Err(not_found())
    }
}

/// Fails unless the caller may change `family`'s steps.
pub fn require_write(principal: &Principal, family: FamilyId) -> ApiResult<()> {
    match access(principal, family)? {
        StepsAccess::Write => Ok(()),
        StepsAccess::Read => Err(ApiError::Forbidden(
            "steps are changed by the family's social workers; the family ticks and notes in \
             the app"
                .into(),
        )),
    }
}

pub fn not_found() -> ApiError {
    ApiError::not_found("family_not_found", "no such family")
}

pub fn step_not_found() -> ApiError {
    ApiError::not_found("step_not_found", "this family has no such step")
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Today in Belgium, for what is overdue.
pub fn today() -> chrono::NaiveDate {
    day_in_belgium(Utc::now())
}

/// The date in Belgium at `instant`: a day turns at local midnight, summer or winter.
pub fn day_in_belgium(instant: DateTime<Utc>) -> chrono::NaiveDate {
    instant
        .with_timezone(&reguide_protocol::time::DEFAULT_TIME_ZONE)
        .date_naive()
}

fn history_entry(event: &Event) -> HistoryEntry {
    HistoryEntry {
        at: instant(event.at),
        kind: event.kind.clone(),
        detail: event.detail.clone(),
        by: event.by.to_text(),
        staff_account: event.staff_account,
    }
}

/// A step of the document as the API shows it, its history oldest first.
pub fn detail(step: Step, today: chrono::NaiveDate) -> StepDetail {
    let (status, reason) = step_state(&step.events);
    let blocked_reason = reason.map(str::to_owned);
    let mut history: Vec<HistoryEntry> = step.events.iter().map(history_entry).collect();
    for item in step.checklist.values() {
        history.extend(item.events.iter().map(|e| HistoryEntry {
            detail: Some(item.label.clone()),
            ..history_entry(e)
        }));
    }
    history.sort_by_key(|h| h.at);
    let checklist = step
        .checklist
        .iter()
        .map(|(id, item)| ChecklistEntry {
            id: id.clone(),
            label: item.label.clone(),
            ticked: checklist_item_ticked(&item.events),
        })
        .collect();
    let mut notes: Vec<NoteEntry> = step
        .notes
        .iter()
        .map(|n| NoteEntry {
            id: n.id.clone(),
            by: n.by.to_text(),
            staff_account: n.staff_account,
            at: instant(n.at),
            text: n.text.clone(),
        })
        .collect();
    notes.sort_by_key(|n| n.at);
    StepDetail {
        overdue: status.is_open() && step.due_date.is_some_and(|due| due < today),
        id: step.id,
        title: step.title,
        category: step.category,
        owner: step.owner,
        description: step.description,
        due_date: step.due_date,
        next_actor: step.next_actor,
        agency: step.agency,
        documents: step.documents,
        status,
        blocked_reason,
        template: step.template,
        checklist,
        notes,
        history,
    }
}

/// One step of a document, as the API shows it.
pub fn one(doc: &automerge::Automerge, id: &str) -> ApiResult<StepDetail> {
    let step: Step = reguide_protocol::doc::read_entry(doc, keys::STEPS, id)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("reading a step: {e}")))?
        .ok_or_else(step_not_found)?;
    Ok(detail(step, today()))
}

/// Every step of a document, by category, then due date (undated last), then title.
pub fn all(doc: &automerge::Automerge) -> ApiResult<Vec<StepDetail>> {
    let steps: std::collections::BTreeMap<String, Step> = read_collection(doc, keys::STEPS)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("reading the steps: {e}")))?;
    let today = today();
    let mut list: Vec<StepDetail> = steps.into_values().map(|s| detail(s, today)).collect();
    sort(&mut list);
    Ok(list)
}

/// By category, then due date (undated last), then title.
pub fn sort(list: &mut [StepDetail]) {
    list.sort_by(|a, b| {
        (&a.category, a.due_date.is_none(), a.due_date, &a.title).cmp(&(
            &b.category,
            b.due_date.is_none(),
            b.due_date,
            &b.title,
        ))
    });
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use reguide_protocol::doc::{Author, NextActor, StepOwner};

    use super::*;

    fn step(due: Option<NaiveDate>, events: Vec<Event>) -> Step {
        Step {
            id: "s".into(),
            title: "Register the domicile".into(),
            category: "housing".into(),
            owner: StepOwner::Family,
            description: String::new(),
            due_date: due,
            next_actor: NextActor::Family,
            agency: None,
            documents: Vec::new(),
            template: None,
            checklist: Default::default(),
            notes: Vec::new(),
            events,
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn a_step_is_overdue_from_the_day_after_its_due_date_around_month_ends() {
        for (due, today, overdue) in [
            (date(2027, 2, 28), date(2027, 2, 28), false),
            (date(2027, 2, 28), date(2027, 3, 1), true),
            (date(2028, 2, 29), date(2028, 2, 29), false),
            (date(2028, 2, 29), date(2028, 3, 1), true),
            (date(2027, 12, 31), date(2028, 1, 1), true),
            (date(2027, 4, 30), date(2027, 4, 30), false),
        ] {
            let open = detail(step(Some(due), Vec::new()), today);
            assert_eq!(open.overdue, overdue, "due {due}, today {today}");
            let done = detail(
                step(Some(due), vec![Event::new("done", 1, Author::Server)]),
                today,
            );
            assert!(!done.overdue, "a done step is not overdue");
        }
        assert!(!detail(step(None, Vec::new()), date(2030, 1, 1)).overdue);
    }

    #[test]
    fn the_day_turns_at_midnight_in_brussels_across_daylight_saving() {
        use chrono::TimeZone;
        let at = |y, m, d, h, min| {
            Utc.with_ymd_and_hms(y, m, d, h, min, 0)
                .single()
                .expect("t")
        };
        // The night summer time starts (28 March 2027): midnight is 23:00 UTC the day before.
        assert_eq!(day_in_belgium(at(2027, 3, 27, 22, 59)), date(2027, 3, 27));
        assert_eq!(day_in_belgium(at(2027, 3, 27, 23, 0)), date(2027, 3, 28));
        // In summer, midnight is 22:00 UTC; the night it ends (31 October) as well.
        assert_eq!(day_in_belgium(at(2027, 10, 30, 21, 59)), date(2027, 10, 30));
        assert_eq!(day_in_belgium(at(2027, 10, 30, 22, 0)), date(2027, 10, 31));
        // A step due on 30 October is overdue from 22:00 UTC that day, not from UTC midnight.
        let due = step(Some(date(2027, 10, 30)), Vec::new());
        assert!(detail(due.clone(), day_in_belgium(at(2027, 10, 30, 22, 30))).overdue);
        assert!(!detail(due, day_in_belgium(at(2027, 10, 30, 21, 30))).overdue);
    }
}
