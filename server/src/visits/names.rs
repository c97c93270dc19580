//! What people read next to a visit request's ids: the family's label, the detained person's
//! name and number, the visitors' names, the prison and the hours of a session. Loaded in one
//! query per kind for a whole list, for the web admin's queue and request pages.

use std::collections::HashMap;

use diesel::prelude::*;
use reguide_protocol::visits::{SlotChoice, VisitRequest};
use reguide_protocol::{DetaineeId, FamilyId, MemberId, PrisonId};
use uuid::Uuid;

use crate::auth::principal::parse_id;
use crate::db::DbConn;
use crate::db::schema::{detainees, families, family_members, prisons, session_templates};
use crate::error::ApiResult;

/// A session's weekday hours and room.
#[derive(Clone, Debug)]
pub struct SessionHours {
    pub starts: String,
    pub ends: String,
    pub room: String,
}

#[derive(Debug, Default)]
pub struct RequestNames {
    pub families: HashMap<FamilyId, String>,
    /// Name and prison number.
    pub detainees: HashMap<DetaineeId, (String, String)>,
    pub members: HashMap<MemberId, String>,
    pub prisons: HashMap<PrisonId, String>,
    pub sessions: HashMap<Uuid, SessionHours>,
}

impl RequestNames {
    pub fn family(&self, id: FamilyId) -> &str {
        self.families.get(&id).map(String::as_str).unwrap_or("—")
    }

    pub fn detainee(&self, id: DetaineeId) -> &str {
        self.detainees
            .get(&id)
            .map(|(name, _)| name.as_str())
            .unwrap_or("—")
    }

    pub fn detainee_number(&self, id: DetaineeId) -> &str {
        self.detainees
            .get(&id)
            .map(|(_, number)| number.as_str())
            .unwrap_or("")
    }

    pub fn member(&self, id: MemberId) -> &str {
        self.members.get(&id).map(String::as_str).unwrap_or("—")
    }

    pub fn prison(&self, id: PrisonId) -> &str {
        self.prisons.get(&id).map(String::as_str).unwrap_or("—")
    }

    /// `09:00–10:00` for a chosen slot, or empty when the session is gone.
    pub fn hours(&self, choice: &SlotChoice) -> String {
        self.sessions
            .get(&choice.template_id)
            .map(|s| format!("{}–{}", s.starts, s.ends))
            .unwrap_or_default()
    }
}

/// The names for every request of `list`.
pub fn for_requests(conn: &mut DbConn, list: &[VisitRequest]) -> ApiResult<RequestNames> {
    let ids = |f: &dyn Fn(&VisitRequest) -> Vec<String>| {
        let mut all: Vec<String> = list.iter().flat_map(f).collect();
        all.sort();
        all.dedup();
        all
    };
    let family_ids = ids(&|r| vec![r.family_id.to_string()]);
    let detainee_ids = ids(&|r| vec![r.detainee_id.to_string()]);
    let member_ids = ids(&|r| r.visitors.iter().map(|m| m.to_string()).collect());
    let prison_ids = ids(&|r| vec![r.prison_id.to_string()]);
    let template_ids = ids(&|r| {
        r.preferences
            .iter()
            .map(|p| p.template_id)
            .chain(r.slot.as_ref().map(|s| s.template_id))
            .map(|t| t.to_string())
            .collect()
    });
    let mut names = RequestNames::default();
    for (id, label) in families::table
        .filter(families::id.eq_any(&family_ids))
        .select((families::id, families::label))
        .load::<(String, String)>(conn)?
    {
        names.families.insert(parse_id(&id)?, label);
    }
    for (id, name, number) in detainees::table
        .filter(detainees::id.eq_any(&detainee_ids))
        .select((
            detainees::id,
            detainees::full_name,
            detainees::internal_number,
        ))
        .load::<(String, String, String)>(conn)?
    {
        names.detainees.insert(parse_id(&id)?, (name, number));
    }
    for (id, name) in family_members::table
        .filter(family_members::id.eq_any(&member_ids))
        .select((family_members::id, family_members::display_name))
        .load::<(String, String)>(conn)?
    {
        names.members.insert(parse_id(&id)?, name);
    }
    for (id, name) in prisons::table
        .filter(prisons::id.eq_any(&prison_ids))
        .select((prisons::id, prisons::name))
        .load::<(String, String)>(conn)?
    {
        names.prisons.insert(parse_id(&id)?, name);
    }
    for (id, starts, ends, room) in session_templates::table
        .filter(session_templates::id.eq_any(&template_ids))
        .select((
            session_templates::id,
            session_templates::starts_at,
            session_templates::ends_at,
            session_templates::room,
        ))
        .load::<(String, String, String, String)>(conn)?
    {
        names.sessions.insert(
            parse_id(&id)?,
            SessionHours {
                starts: starts.get(..5).unwrap_or(&starts).to_owned(),
                ends: ends.get(..5).unwrap_or(&ends).to_owned(),
                room,
            },
        );
    }
    Ok(names)
}
