//! Staff changes to steps, written into the family document as the server. Every function
//! checks its input first (a clear error naming the field, nothing written) and records who
//! acted: a `created`, status or `updated` event, a tick or a note naming the staff account.

use automerge::transaction::Transaction;
use chrono::NaiveDate;
use reguide_protocol::doc::status::{ChecklistEventKind, StepEventKind, StepStatus};
use reguide_protocol::doc::write::{
    EventList, add_checklist_item, put_entry, put_step_field, server_add_note, server_event,
};
use reguide_protocol::doc::{Event, Step, StepOwner, keys, new_id, read_entry};
use reguide_protocol::steps::{NewStep, StepChanges, StepTemplate};
use reguide_protocol::visits::pick;
use reguide_protocol::{AccountId, Language};

use crate::error::{ApiError, ApiResult};
use crate::steps::step_not_found;
use crate::text::{free_text, line};

const TITLE_MAX: usize = 200;
const TEXT_MAX: usize = 4_000;
const ITEM_MAX: usize = 300;
const ITEMS_MAX: usize = 30;

fn doc_error(e: reguide_protocol::doc::DocError) -> ApiError {
    ApiError::internal(anyhow::anyhow!("writing a step: {e}"))
}

fn items(raw: &[String], field: &str) -> ApiResult<Vec<String>> {
    if raw.len() > ITEMS_MAX {
        return Err(ApiError::invalid(
            "too_many_items",
            field.to_owned(),
            format!("at most {ITEMS_MAX} items"),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(n, item)| line(item, &format!("{field}[{n}]"), ITEM_MAX))
        .collect()
}

fn due(date: NaiveDate, field: &str) -> ApiResult<NaiveDate> {
    let plausible = NaiveDate::from_ymd_opt(2000, 1, 1)..NaiveDate::from_ymd_opt(2100, 1, 1);
    match (plausible.start, plausible.end) {
        (Some(from), Some(to)) if (from..to).contains(&date) => Ok(date),
        _ => Err(ApiError::invalid(
            "invalid_date",
            field.to_owned(),
            "a due date between 2000 and 2099",
        )),
    }
}

fn event(kind: StepEventKind, detail: Option<String>, staff: AccountId, at: i64) -> Event {
    let mut event = Event::new(kind.as_str(), at, reguide_protocol::doc::Author::Server);
    event.detail = detail;
    event.staff_account = Some(staff);
    event
}

/// Creates a step; returns its id.
pub fn create(
    tx: &mut Transaction<'_>,
    step: NewStep,
    template: Option<String>,
    staff: AccountId,
    at: i64,
) -> ApiResult<String> {
    let title = line(&step.title, "title", TITLE_MAX)?;
    let description = free_text(&step.description, "description", TEXT_MAX)?;
    let agency = match step.agency.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(agency) => Some(line(agency, "agency", TITLE_MAX)?),
    };
    let due_date = step.due_date.map(|d| due(d, "due_date")).transpose()?;
    let checklist = items(&step.checklist, "checklist")?;
    let documents = items(&step.documents, "documents")?;
    let id = new_id();
    let entry = Step {
        id: id.clone(),
        title,
        category: step.category.as_str().to_owned(),
        owner: step.owner,
        description,
        due_date,
        next_actor: step.next_actor,
        agency,
        documents,
        template,
        checklist: Default::default(),
        notes: Vec::new(),
        events: vec![event(StepEventKind::Created, None, staff, at)],
    };
    put_entry(tx, keys::STEPS, &id, &entry).map_err(doc_error)?;
    for label in checklist {
        add_checklist_item(tx, &id, &new_id(), &label).map_err(doc_error)?;
    }
    Ok(id)
}

fn existing(tx: &Transaction<'_>, step_id: &str) -> ApiResult<Step> {
    read_entry::<Step, _>(tx, keys::STEPS, step_id)
        .map_err(doc_error)?
        .ok_or_else(step_not_found)
}

/// Changes a step's fields and status; records what changed.
pub fn change(
    tx: &mut Transaction<'_>,
    step_id: &str,
    changes: StepChanges,
    staff: AccountId,
    at: i64,
) -> ApiResult<()> {
    let step = existing(tx, step_id)?;
    // Everything is checked before anything is written.
    let title = changes
        .title
        .as_deref()
        .map(|t| line(t, "title", TITLE_MAX))
        .transpose()?;
    let description = changes
        .description
        .as_deref()
        .map(|t| free_text(t, "description", TEXT_MAX))
        .transpose()?;
    let agency = match changes.agency.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(agency) => Some(Some(line(agency, "agency", TITLE_MAX)?)),
    };
    if changes.clear_due_date && changes.due_date.is_some() {
        return Err(ApiError::invalid(
            "conflicting_fields",
            "clear_due_date",
            "give a due date or clear it, not both",
        ));
    }
    let due_date = match (changes.due_date, changes.clear_due_date) {
        (Some(date), _) => Some(Some(due(date, "due_date")?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let documents = changes
        .documents
        .as_deref()
        .map(|d| items(d, "documents"))
        .transpose()?;
    let added = items(&changes.add_checklist, "add_checklist")?;
    let reason = changes
        .reason
        .as_deref()
        .map(|r| line(r, "reason", ITEM_MAX))
        .transpose()?;
    if changes.status == Some(StepStatus::Blocked) && reason.is_none() {
        return Err(ApiError::invalid(
            "reason_required",
            "reason",
            "say why the step is blocked",
        ));
    }
    if reason.is_some() && changes.status.is_none() {
        return Err(ApiError::invalid(
            "reason_without_status",
            "reason",
            "a reason goes with a new status",
        ));
    }

    let mut changed = Vec::new();
    let mut put = |field: &'static str, result: Result<(), _>| -> ApiResult<()> {
        result.map_err(doc_error)?;
        changed.push(field);
        Ok(())
    };
    if let Some(title) = title.filter(|t| *t != step.title) {
        put("title", put_step_field(tx, step_id, "title", &title))?;
    }
    if let Some(description) = description.filter(|d| *d != step.description) {
        put(
            "description",
            put_step_field(tx, step_id, "description", &description),
        )?;
    }
    if let Some(category) = changes
        .category
        .map(|c| c.as_str().to_owned())
        .filter(|c| *c != step.category)
    {
        put(
            "category",
            put_step_field(tx, step_id, "category", &category),
        )?;
    }
    if let Some(next) = changes.next_actor.filter(|n| *n != step.next_actor) {
        put(
            "next_actor",
            put_step_field(tx, step_id, "next_actor", &next),
        )?;
    }
    if let Some(agency) = agency.filter(|a| *a != step.agency) {
        put("agency", put_step_field(tx, step_id, "agency", &agency))?;
    }
    if let Some(due_date) = due_date.filter(|d| *d != step.due_date) {
        let stored = due_date.map(|d| d.to_string());
        put("due_date", put_step_field(tx, step_id, "due_date", &stored))?;
    }
    if let Some(documents) = documents.filter(|d| *d != step.documents) {
        put(
            "documents",
            put_step_field(tx, step_id, "documents", &documents),
        )?;
    }
    for label in &added {
        add_checklist_item(tx, step_id, &new_id(), label).map_err(doc_error)?;
    }
    if !added.is_empty() {
        changed.push("checklist");
    }
    if !changed.is_empty() {
        let detail = Some(changed.join(", "));
        server_event(
            tx,
            EventList::Step(step_id),
            event(StepEventKind::Updated, detail, staff, at),
        )
        .map_err(doc_error)?;
    }
    if let Some(status) = changes.status {
        server_event(
            tx,
            EventList::Step(step_id),
            event(status.event_kind(), reason, staff, at),
        )
        .map_err(doc_error)?;
    }
    Ok(())
}

/// A worker ticks or unticks an item of any of the family's steps.
pub fn tick(
    tx: &mut Transaction<'_>,
    step_id: &str,
    item_id: &str,
    ticked: bool,
    staff: AccountId,
    at: i64,
) -> ApiResult<()> {
    let step = existing(tx, step_id)?;
    if !step.checklist.contains_key(item_id) {
        return Err(ApiError::not_found(
            "item_not_found",
            "this step has no such checklist item",
        ));
    }
    let kind = if ticked {
        ChecklistEventKind::Ticked
    } else {
        ChecklistEventKind::Unticked
    };
    let mut event = Event::new(kind.as_str(), at, reguide_protocol::doc::Author::Server);
    event.staff_account = Some(staff);
    server_event(
        tx,
        EventList::ChecklistItem {
            step: step_id,
            item: item_id,
        },
        event,
    )
    .map_err(doc_error)?;
    Ok(())
}

/// A worker's note on a step.
pub fn note(
    tx: &mut Transaction<'_>,
    step_id: &str,
    text_raw: &str,
    staff: AccountId,
    at: i64,
) -> ApiResult<()> {
    existing(tx, step_id)?;
    let body = free_text(text_raw, "text", 2_000)?;
    if body.is_empty() {
        return Err(ApiError::invalid(
            "invalid_value",
            "text",
            "a note says something",
        ));
    }
    server_add_note(tx, step_id, &body, staff, at).map_err(doc_error)?;
    Ok(())
}

/// Creates the steps of `template` in `language`, due counted from `today`; returns their ids.
pub fn apply_template(
    tx: &mut Transaction<'_>,
    template: &StepTemplate,
    language: Language,
    today: NaiveDate,
    staff: AccountId,
    at: i64,
) -> ApiResult<Vec<String>> {
    let say = |text: &reguide_protocol::visits::LocalizedText| {
        pick(text, language).unwrap_or_default().to_owned()
    };
    let mut ids = Vec::with_capacity(template.steps.len());
    for step in &template.steps {
        let new = NewStep {
            title: say(&step.title),
            category: step.category,
            description: say(&step.description),
            owner: StepOwner::Family,
            next_actor: step.next_actor,
            agency: step.agency.as_ref().map(say),
            due_date: step
                .due_in_days
                .and_then(|days| today.checked_add_signed(chrono::Duration::days(days))),
            checklist: step.checklist.iter().map(say).collect(),
            documents: step.documents.iter().map(say).collect(),
        };
        let template_ref = format!("{}/{}", template.key, step.key);
        ids.push(create(tx, new, Some(template_ref), staff, at)?);
    }
    Ok(ids)
}
