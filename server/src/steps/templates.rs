//! Regional templates of steps: shipped as data (`server/step-templates/<region>.json`, in
//! Dutch, French and English), stored in the database at start, listed to social workers and
//! edited by administrators. A shipped template an administrator edited is kept as edited.

use std::collections::BTreeSet;

use diesel::prelude::*;
use reguide_protocol::steps::{Region, StepTemplate};
use reguide_protocol::visits::LocalizedText;
use reguide_protocol::{AccountId, Language};

use crate::db::schema::step_templates;
use crate::db::{DbConn, now};
use crate::error::{ApiError, ApiResult};

/// The languages every shipped or edited template is written in.
pub const LANGUAGES: [Language; 3] = [Language::Nl, Language::Fr, Language::En];

const SHIPPED: [(&str, &str); 4] = [
    (
        "brussels",
        include_str!("../../step-templates/brussels.json"),
    ),
    (
        "flanders",
        include_str!("../../step-templates/flanders.json"),
    ),
    (
        "wallonia",
        include_str!("../../step-templates/wallonia.json"),
    ),
    (
        "german_speaking",
        include_str!("../../step-templates/german_speaking.json"),
    ),
];

/// The templates shipped with this version, checked.
pub fn shipped() -> Result<Vec<StepTemplate>, String> {
    let mut all = Vec::new();
    for (file, json) in SHIPPED {
        let templates: Vec<StepTemplate> =
            serde_json::from_str(json).map_err(|e| format!("{file}.json: {e}"))?;
        for template in templates {
            check(&template).map_err(|e| format!("{file}.json, {}: {e}", template.key))?;
            if template.region.as_str() != file {
                return Err(format!(
                    "{file}.json holds {} of another region",
                    template.key
                ));
            }
            all.push(template);
        }
    }
    let keys: BTreeSet<&str> = all.iter().map(|t| t.key.as_str()).collect();
    if keys.len() != all.len() {
        return Err("two shipped templates have the same key".into());
    }
    Ok(all)
}

fn invalid(field: String, message: impl Into<String>) -> ApiError {
    ApiError::invalid("invalid_template", field, message.into())
}

fn translated(text: &LocalizedText, field: &str) -> ApiResult<()> {
    for language in LANGUAGES {
        match text.get(&language).map(|t| t.trim()) {
            Some(t) if !t.is_empty() && t.chars().count() <= 4_000 => {}
            _ => {
                return Err(invalid(
                    format!("{field}.{}", language.code()),
                    "every text is given in nl, fr and en, each 1 to 4,000 characters",
                ));
            }
        }
    }
    Ok(())
}

fn key_like(key: &str, field: &str, extra: char) -> ApiResult<()> {
    let ok = !key.is_empty()
        && key.len() <= 80
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra);
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field.to_owned(),
            "a key of lowercase letters, digits and separators",
        ))
    }
}

/// Checks a template: keys, every text in the three languages, sensible counts.
pub fn check(template: &StepTemplate) -> ApiResult<()> {
    key_like(&template.key, "key", '-')?;
    translated(&template.title, "title")?;
    translated(&template.description, "description")?;
    if template.steps.is_empty() || template.steps.len() > 30 {
        return Err(invalid("steps".into(), "a template has 1 to 30 steps"));
    }
    let mut keys = BTreeSet::new();
    for (n, step) in template.steps.iter().enumerate() {
        let at = format!("steps[{n}]");
        key_like(&step.key, &format!("{at}.key"), '_')?;
        if !keys.insert(step.key.as_str()) {
            return Err(invalid(
                format!("{at}.key"),
                "step keys are unique in a template",
            ));
        }
        translated(&step.title, &format!("{at}.title"))?;
        translated(&step.description, &format!("{at}.description"))?;
        if let Some(agency) = &step.agency {
            translated(agency, &format!("{at}.agency"))?;
        }
        if step.due_in_days.is_some_and(|d| !(1..=365).contains(&d)) {
            return Err(invalid(format!("{at}.due_in_days"), "1 to 365 days"));
        }
        if step.checklist.len() > 30 || step.documents.len() > 30 {
            return Err(invalid(at, "at most 30 checklist items and 30 documents"));
        }
        for (i, item) in step.checklist.iter().enumerate() {
            translated(item, &format!("{at}.checklist[{i}]"))?;
        }
        for (i, item) in step.documents.iter().enumerate() {
            translated(item, &format!("{at}.documents[{i}]"))?;
        }
    }
    Ok(())
}

fn body(template: &StepTemplate) -> ApiResult<String> {
    serde_json::to_string(template).map_err(ApiError::internal)
}

fn parse(json: &str) -> ApiResult<StepTemplate> {
    serde_json::from_str(json)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("a stored step template: {e}")))
}

/// Inserts the shipped templates whose key is missing; returns how many.
pub fn seed(conn: &mut DbConn) -> ApiResult<usize> {
    let templates = shipped().map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let existing: BTreeSet<String> = step_templates::table
        .select(step_templates::key)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut added = 0;
    for template in templates.iter().filter(|t| !existing.contains(&t.key)) {
        diesel::insert_into(step_templates::table)
            .values((
                step_templates::key.eq(&template.key),
                step_templates::region.eq(template.region.as_str()),
                step_templates::body.eq(body(template)?),
                step_templates::updated_at.eq(now()),
            ))
            .execute(conn)?;
        added += 1;
    }
    Ok(added)
}

/// The templates, of one region or all, by region and key.
pub fn list(conn: &mut DbConn, region: Option<Region>) -> ApiResult<Vec<StepTemplate>> {
    let mut query = step_templates::table
        .order((step_templates::region.asc(), step_templates::key.asc()))
        .select(step_templates::body)
        .into_boxed();
    if let Some(region) = region {
        query = query.filter(step_templates::region.eq(region.as_str()));
    }
    query
        .load::<String>(conn)?
        .iter()
        .map(|json| parse(json))
        .collect()
}

pub fn get(conn: &mut DbConn, key: &str) -> ApiResult<StepTemplate> {
    let json: Option<String> = step_templates::table
        .find(key)
        .select(step_templates::body)
        .first(conn)
        .optional()?;
    match json {
        Some(json) => parse(&json),
        None => Err(ApiError::not_found(
            "template_not_found",
            "there is no step template with this key",
        )),
    }
}

/// Creates or replaces a template (an administrator's edit). Returns whether it was new.
pub fn put(conn: &mut DbConn, template: &StepTemplate, admin: AccountId) -> ApiResult<bool> {
    check(template)?;
    let updated = diesel::update(step_templates::table.find(&template.key))
        .set((
            step_templates::region.eq(template.region.as_str()),
            step_templates::body.eq(body(template)?),
            step_templates::updated_at.eq(now()),
            step_templates::updated_by.eq(Some(admin.to_string())),
        ))
        .execute(conn)?;
    if updated > 0 {
        return Ok(false);
    }
    diesel::insert_into(step_templates::table)
        .values((
            step_templates::key.eq(&template.key),
            step_templates::region.eq(template.region.as_str()),
            step_templates::body.eq(body(template)?),
            step_templates::updated_at.eq(now()),
            step_templates::updated_by.eq(Some(admin.to_string())),
        ))
        .execute(conn)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_templates_are_whole_in_every_language_and_region() {
        let templates = shipped().unwrap_or_else(|e| panic!("{e}"));
        for region in Region::ALL {
            assert!(
                templates.iter().filter(|t| t.region == *region).count() >= 2,
                "{region:?} has its templates"
            );
        }
        // Untranslated texts would have failed `check`; list what each region covers.
        use reguide_protocol::steps::StepCategory as C;
        for region in Region::ALL {
            let covered: BTreeSet<C> = templates
                .iter()
                .filter(|t| t.region == *region)
                .flat_map(|t| t.steps.iter().map(|s| s.category))
                .collect();
            for needed in [
                C::Housing,
                C::IdentityDocuments,
                C::Income,
                C::HealthInsurance,
                C::Employment,
                C::Bank,
            ] {
                assert!(covered.contains(&needed), "{region:?} lacks {needed:?}");
            }
        }
    }

    #[test]
    fn a_template_missing_a_language_names_the_text() {
        let mut template = shipped().expect("shipped").remove(0);
        template.steps[0].title.remove(&Language::Fr);
        let err = check(&template).expect_err("refused");
        match err {
            ApiError::Invalid { field, .. } => {
                assert_eq!(field.as_deref(), Some("steps[0].title.fr"));
            }
            other => panic!("{other:?}"),
        }
    }
}
