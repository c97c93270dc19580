//! Prisons: the reference data families and coordinators work against. Visit rules, session
//! templates and slots join this module with the visits work.

pub mod api;

use diesel::prelude::*;
use reguide_protocol::PrisonId;
use reguide_protocol::api::Prison;

use crate::auth::principal::parse_id;
use crate::db::schema::prisons;
use crate::db::{DbConn, now};
use crate::error::{ApiError, ApiResult};

/// Checks an IANA time zone name.
pub fn time_zone(raw: &str) -> ApiResult<chrono_tz::Tz> {
    raw.parse::<chrono_tz::Tz>().map_err(|_| {
        ApiError::invalid(
            "invalid_time_zone",
            "time_zone",
            "use an IANA time zone such as Europe/Brussels",
        )
    })
}

pub fn create_prison(
    conn: &mut DbConn,
    name: &str,
    city: &str,
    tz: chrono_tz::Tz,
) -> ApiResult<Prison> {
    let id = PrisonId::new();
    diesel::insert_into(prisons::table)
        .values((
            prisons::id.eq(id.to_string()),
            prisons::name.eq(name),
            prisons::city.eq(city),
            prisons::time_zone.eq(tz.name()),
            prisons::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(Prison {
        id,
        name: name.to_owned(),
        city: city.to_owned(),
        time_zone: tz.name().to_owned(),
    })
}

pub fn list_prisons(conn: &mut DbConn) -> ApiResult<Vec<Prison>> {
    prisons::table
        .order(prisons::name.asc())
        .select((
            prisons::id,
            prisons::name,
            prisons::city,
            prisons::time_zone,
        ))
        .load::<(String, String, String, String)>(conn)?
        .into_iter()
        .map(to_prison)
        .collect()
}

pub fn load_prison(conn: &mut DbConn, id: PrisonId) -> ApiResult<Prison> {
    let row = prisons::table
        .find(id.to_string())
        .select((
            prisons::id,
            prisons::name,
            prisons::city,
            prisons::time_zone,
        ))
        .first::<(String, String, String, String)>(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("prison_not_found", "no prison has this id"))?;
    to_prison(row)
}

fn to_prison((id, name, city, time_zone): (String, String, String, String)) -> ApiResult<Prison> {
    Ok(Prison {
        id: parse_id(&id)?,
        name,
        city,
        time_zone,
    })
}
