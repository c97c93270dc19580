//! A coordinator's day list: the visits of one prison on one date, by session and room, with
//! visitors and support needs. As JSON, and as CSV for spreadsheets.

use chrono::NaiveDate;
use diesel::prelude::*;
use reguide_protocol::visits::{DaySession, DayView, DayVisit, DayVisitor, SupportNeed, VisitType};

use crate::auth::principal::parse_id;
use crate::db::DbConn;
use crate::db::schema::{
    detainees, families, family_members, prisons, visit_request_visitors, visit_requests,
    visit_slots,
};
use crate::error::ApiResult;
use crate::visits::requests::age_on;
use crate::visits::rules::PrisonRef;
use crate::visits::slots::{self, local_instant, parse_uuid};

pub fn day_view(conn: &mut DbConn, prison: &PrisonRef, date: NaiveDate) -> ApiResult<DayView> {
    let prison_name: String = prisons::table
        .find(prison.id.to_string())
        .select(prisons::name)
        .first(conn)?;
    let templates = slots::load_templates(conn, &prison.id.to_string())?;
    let blocked = crate::db::schema::blocked_dates::table
        .filter(crate::db::schema::blocked_dates::prison_id.eq(prison.id.to_string()))
        .filter(crate::db::schema::blocked_dates::date.eq(date))
        .select(crate::db::schema::blocked_dates::template_id)
        .load::<Option<String>>(conn)?;
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        bool,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<Row> = visit_requests::table
        .inner_join(visit_slots::table)
        .inner_join(families::table)
        .inner_join(detainees::table)
        .filter(visit_slots::prison_id.eq(prison.id.to_string()))
        .filter(visit_slots::date.eq(date))
        .filter(visit_requests::status.eq("confirmed"))
        .order((families::label.asc(), visit_requests::reference.asc()))
        .select((
            visit_requests::id,
            visit_requests::reference,
            visit_requests::visit_type,
            visit_requests::support_needs,
            visit_requests::support_note,
            visit_requests::flagged,
            visit_slots::template_id,
            families::label,
            detainees::full_name,
            detainees::internal_number,
        ))
        .load(conn)?;
    let mut sessions: Vec<DaySession> = templates
        .iter()
        .filter(|t| t.runs_on(date))
        .map(|t| DaySession {
            template_id: t.id,
            starts_at: local_instant(prison.tz, date, t.starts_at),
            ends_at: local_instant(prison.tz, date, t.ends_at),
            room: t.room.clone(),
            blocked: blocked
                .iter()
                .any(|b| b.as_deref().is_none_or(|b| b == t.id.to_string())),
            visits: Vec::new(),
        })
        .collect();
    for (id, reference, visit_type, needs, note, flagged, template, family, detainee, number) in
        rows
    {
        let visitors = visit_request_visitors::table
            .inner_join(family_members::table)
            .filter(visit_request_visitors::request_id.eq(&id))
            .order(family_members::display_name.asc())
            .select((
                family_members::id,
                family_members::display_name,
                family_members::birth_date,
            ))
            .load::<(String, String, Option<NaiveDate>)>(conn)?
            .into_iter()
            .map(|(member, name, birth)| {
                Ok(DayVisitor {
                    member_id: parse_id(&member)?,
                    display_name: name,
                    age: birth.map(|b| age_on(b, date)),
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let template = parse_uuid(&template)?;
        let visit = DayVisit {
            request_id: parse_uuid(&id)?,
            reference,
            visit_type: VisitType::parse(&visit_type).unwrap_or(VisitType::Table),
            family_label: family,
            detainee_name: detainee,
            detainee_number: number,
            visitors,
            support_needs: needs.split(',').filter_map(SupportNeed::parse).collect(),
            support_note: note,
            flagged,
        };
        // A visit whose session no longer runs that day still shows, under its own heading.
        match sessions.iter_mut().find(|s| s.template_id == template) {
            Some(session) => session.visits.push(visit),
            None => {
                if let Some(t) = templates.iter().find(|t| t.id == template) {
                    sessions.push(DaySession {
                        template_id: t.id,
                        starts_at: local_instant(prison.tz, date, t.starts_at),
                        ends_at: local_instant(prison.tz, date, t.ends_at),
                        room: t.room.clone(),
                        blocked: false,
                        visits: vec![visit],
                    });
                }
            }
        }
    }
    sessions.sort_by(|a, b| (a.starts_at, a.room.as_str()).cmp(&(b.starts_at, b.room.as_str())));
    Ok(DayView {
        prison_id: prison.id,
        prison_name,
        date,
        sessions,
    })
}

pub fn day_csv(view: &DayView) -> String {
    let mut out = String::from(
        "date,start,end,room,reference,visit_type,detained_person,number,family,visitors,support_needs,support_note,flagged\r\n",
    );
    for session in &view.sessions {
        for visit in &session.visits {
            let visitors = visit
                .visitors
                .iter()
                .map(|v| match v.age {
                    Some(age) => format!("{} ({age})", v.display_name),
                    None => v.display_name.clone(),
                })
                .collect::<Vec<_>>()
                .join("; ");
            let needs = visit
                .support_needs
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let fields = [
                view.date.to_string(),
                session.starts_at.format("%H:%M").to_string(),
                session.ends_at.format("%H:%M").to_string(),
                session.room.clone(),
                visit.reference.clone(),
                visit.visit_type.as_str().to_owned(),
                visit.detainee_name.clone(),
                visit.detainee_number.clone(),
                visit.family_label.clone(),
                visitors,
                needs,
                visit.support_note.clone().unwrap_or_default(),
                visit.flagged.to_string(),
            ];
            out.push_str(
                &fields
                    .iter()
                    .map(|f| crate::csv::typed(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push_str("\r\n");
        }
    }
    out
}
