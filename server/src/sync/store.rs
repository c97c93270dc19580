//! Where family documents are kept: a compacted snapshot (`save()`) plus the increments that
//! syncs appended since (`save_after(heads before the sync)`), so that a sync writes the few
//! bytes it added instead of the whole document. When the increments grow past
//! [`COMPACT_AFTER_BYTES`] or half the snapshot, the next sync writes a fresh snapshot and drops
//! them.
//!
//! Every function here runs inside the caller's write transaction; [`lock_or_create`] takes the
//! family's row lock first (PostgreSQL), so syncs of one family run one after the other, even
//! across server instances, while other families go on in parallel.

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::{Automerge, ChangeHash};
use diesel::prelude::*;
use reguide_protocol::FamilyId;
use reguide_protocol::doc::{self, DocMember, FamilyDoc};
use reguide_protocol::sync::server_actor;

use super::cache::{Layout, Loaded, Version};
use crate::db::schema::{
    family_document_increments, family_documents, family_members, retired_changes,
};
use crate::db::{DbConn, now};
use crate::error::{ApiError, ApiResult};

/// Increments are folded into a new snapshot past this total size…
pub const COMPACT_AFTER_BYTES: i64 = 64 * 1024;
/// …or past half the snapshot, but not for less than this (tiny documents would otherwise be
/// rewritten on every sync).
const COMPACT_MIN_BYTES: i64 = 4 * 1024;

/// A family's document as stored, loaded for one sync.
#[derive(Debug)]
pub struct Stored {
    /// The document, with the server's actor.
    pub doc: Automerge,
    /// Its heads as stored: new increments are `save_after` these.
    pub heads: Vec<ChangeHash>,
    layout: Layout,
}

impl Stored {
    fn new(doc: Automerge, layout: Layout) -> Self {
        Self {
            heads: doc.get_heads(),
            doc,
            layout,
        }
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(anyhow::anyhow!("{what}: {e}"))
}

fn heads_text(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Locks the family's document row for the rest of the transaction, creating the document
/// first if the family has none yet, and loads it.
pub fn lock_or_create(conn: &mut DbConn, family: FamilyId) -> ApiResult<Stored> {
    lock_or_create_from(conn, family, None)
}

/// [`lock_or_create`], starting from `kept`, the document as loaded by an earlier transaction,
/// when the stored version extends it (see [`super::cache`]).
pub fn lock_or_create_from(
    conn: &mut DbConn,
    family: FamilyId,
    kept: Option<Loaded>,
) -> ApiResult<Stored> {
    if let Some(stored) = load_stored(conn, family, true, kept)? {
        return Ok(stored);
    }
    let mut created = doc::new_document(family, server_actor())
        .map_err(|e| internal("creating a family document", e))?;
    put_members(conn, family, &mut created)?;
    let snapshot = created.save();
    let row = (
        family_documents::family_id.eq(family.to_string()),
        family_documents::snapshot.eq(&snapshot),
        family_documents::snapshot_heads.eq(heads_text(&created.get_heads())),
        family_documents::increments_bytes.eq(0_i64),
        family_documents::updated_at.eq(now()),
    );
    match conn {
        // Two instances may create the same family's document at once: the second insert waits
        // for the first to commit, then does nothing, and both go on with the stored row.
        DbConn::Postgres(pg) => diesel::insert_into(family_documents::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg)?,
        // SQLite's write transactions are serialised: nobody can have inserted meanwhile.
        DbConn::Sqlite(lite) => diesel::insert_into(family_documents::table)
            .values(row)
            .execute(lite)?,
    };
    load_stored(conn, family, true, None)?
        .ok_or_else(|| internal("family document", "missing right after its creation"))
}

/// A family's document as stored, for reading (no lock); `None` before its first sync.
pub fn load(conn: &mut DbConn, family: FamilyId) -> ApiResult<Option<Automerge>> {
    Ok(load_stored(conn, family, false, None)?.map(|stored| stored.doc))
}

/// What `read` sees in a family's document: nothing before the family's first document.
pub fn view<T>(
    conn: &mut DbConn,
    family: FamilyId,
    read: impl FnOnce(&Automerge) -> ApiResult<Vec<T>>,
) -> ApiResult<Vec<T>> {
    match load(conn, family)? {
        Some(doc) => read(&doc),
        None => Ok(Vec::new()),
    }
}

/// Runs a staff change on a family's document as the server, inside the caller's write
/// transaction: locks the document (creating it if the family has none yet), brings it to the
/// current schema and members, lets `edit` write in one change, and stores what it added. On
/// an error nothing is stored.
pub fn edit_as_server<T>(
    conn: &mut DbConn,
    family: FamilyId,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> ApiResult<T>,
) -> ApiResult<T> {
    edit_as_server_then(conn, family, edit, |_, out| Ok(out))
}

/// [`edit_as_server`], then `read` on the document as stored (what the caller answers with),
/// without loading it again.
pub fn edit_as_server_then<T, R>(
    conn: &mut DbConn,
    family: FamilyId,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> ApiResult<T>,
    read: impl FnOnce(&Automerge, T) -> ApiResult<R>,
) -> ApiResult<R> {
    let mut stored = lock_or_create(conn, family)?;
    let mut doc = std::mem::take(&mut stored.doc);
    doc::upgrade(&mut doc).map_err(|e| internal("upgrading a family document", e))?;
    put_members(conn, family, &mut doc)?;
    let mut tx = doc.transaction();
    let out = match edit(&mut tx) {
        Ok(out) => out,
        Err(e) => {
            tx.rollback();
            return Err(e);
        }
    };
    tx.commit();
    save(conn, family, &stored, &doc)?;
    read(&doc, out)
}

fn load_stored(
    conn: &mut DbConn,
    family: FamilyId,
    lock: bool,
    kept: Option<Loaded>,
) -> ApiResult<Option<Stored>> {
    if let Some(kept) = kept
        && let Some(stored) = catch_up(conn, family, lock, kept)?
    {
        return Ok(Some(stored));
    }
    let id = family.to_string();
    let query = family_documents::table.find(&id).select((
        family_documents::snapshot,
        family_documents::snapshot_heads,
        family_documents::increments_bytes,
    ));
    let row: Option<(Vec<u8>, String, i64)> = match conn {
        DbConn::Postgres(pg) if lock => query.for_update().first(pg).optional()?,
        DbConn::Postgres(pg) => query.first(pg).optional()?,
        DbConn::Sqlite(lite) => query.first(lite).optional()?,
    };
    let Some((snapshot, snapshot_heads, increments_bytes)) = row else {
        return Ok(None);
    };
    let rows: Vec<(i64, Vec<u8>)> = family_document_increments::table
        .filter(family_document_increments::family_id.eq(&id))
        .order(family_document_increments::id.asc())
        .select((
            family_document_increments::id,
            family_document_increments::bytes,
        ))
        .load(conn)?;
    let (increments, bytes): (Vec<i64>, Vec<Vec<u8>>) = rows.into_iter().unzip();
    let doc = parse(
        || Automerge::load(&snapshot).map_err(|e| e.to_string()),
        &bytes,
    )?;
    let layout = Layout {
        version: Version {
            snapshot_heads,
            increments,
        },
        snapshot_len: i64::try_from(snapshot.len()).unwrap_or(i64::MAX),
        increments_bytes,
    };
    Ok(Some(Stored::new(doc, layout)))
}

/// `kept` brought up to what is stored, reading only the stored version and the increments
/// `kept` lacks; `None` when it cannot be (another snapshot, no document any more): the caller
/// loads the document whole.
fn catch_up(
    conn: &mut DbConn,
    family: FamilyId,
    lock: bool,
    kept: Loaded,
) -> ApiResult<Option<Stored>> {
    let id = family.to_string();
    let query = family_documents::table.find(&id).select((
        family_documents::snapshot_heads,
        family_documents::increments_bytes,
    ));
    let row: Option<(String, i64)> = match conn {
        DbConn::Postgres(pg) if lock => query.for_update().first(pg).optional()?,
        DbConn::Postgres(pg) => query.first(pg).optional()?,
        DbConn::Sqlite(lite) => query.first(lite).optional()?,
    };
    let Some((snapshot_heads, increments_bytes)) = row else {
        return Ok(None);
    };
    let increments: Vec<i64> = family_document_increments::table
        .filter(family_document_increments::family_id.eq(&id))
        .order(family_document_increments::id.asc())
        .select(family_document_increments::id)
        .load(conn)?;
    let version = Version {
        snapshot_heads,
        increments,
    };
    let Some(missing) = kept.layout.version.missing_from(&version) else {
        return Ok(None);
    };
    let after = kept
        .layout
        .version
        .increments
        .last()
        .copied()
        .unwrap_or(i64::MIN);
    let bytes: Vec<Vec<u8>> = if missing.is_empty() {
        Vec::new()
    } else {
        family_document_increments::table
            .filter(family_document_increments::family_id.eq(&id))
            .filter(family_document_increments::id.gt(after))
            .order(family_document_increments::id.asc())
            .select(family_document_increments::bytes)
            .load(conn)?
    };
    // Read under the family's lock, these are the missing increments; otherwise (a commit came
    // between the queries) the document is loaded whole.
    if bytes.len() != missing.len() {
        return Ok(None);
    }
    let doc = parse(|| Ok(kept.doc), &bytes)?;
    let layout = Layout {
        version,
        snapshot_len: kept.layout.snapshot_len,
        increments_bytes,
    };
    Ok(Some(Stored::new(doc, layout)))
}

/// The document `start` gives with `increments` loaded, as the server's actor.
fn parse(
    start: impl FnOnce() -> Result<Automerge, String>,
    increments: &[Vec<u8>],
) -> ApiResult<Automerge> {
    // What is stored was validated before it was stored; a panic here would still be a bug of
    // ours or of Automerge, and must not take the worker down.
    let loaded = catch_unwind(AssertUnwindSafe(move || -> Result<Automerge, String> {
        let mut doc = start()?;
        for increment in increments {
            doc.load_incremental(increment).map_err(|e| e.to_string())?;
        }
        Ok(doc)
    }));
    match loaded {
        Ok(Ok(doc)) => Ok(doc.with_actor(server_actor())),
        Ok(Err(e)) => Err(internal("loading a stored family document", e)),
        Err(_) => Err(internal("loading a stored family document", "panicked")),
    }
}

/// Writes the family's members from the relational table into `doc`, as the server, in one
/// change (none when they are up to date). Members are the server's: devices read them, and the
/// write policy refuses changes by a member the document does not know.
pub fn put_members(conn: &mut DbConn, family: FamilyId, doc: &mut Automerge) -> ApiResult<()> {
    let rows: Vec<(String, String, String, String)> = family_members::table
        .filter(family_members::family_id.eq(family.to_string()))
        .order(family_members::created_at.asc())
        .select((
            family_members::id,
            family_members::display_name,
            family_members::relation,
            family_members::preferred_language,
        ))
        .load(conn)?;
    let mut members = Vec::with_capacity(rows.len());
    for (id, display_name, relation, language) in rows {
        let id = id.parse().map_err(|e| internal("a stored member id", e))?;
        let language = reguide_protocol::Language::from_code(&language)
            .ok_or_else(|| internal("a stored member language", "unknown code"))?;
        members.push((
            id,
            DocMember {
                display_name,
                relation,
                language,
            },
        ));
    }
    let mut tx = doc.transaction();
    for (id, member) in &members {
        if let Err(e) = doc::write::put_member(&mut tx, *id, member) {
            tx.rollback();
            return Err(internal("writing members into a family document", e));
        }
    }
    tx.commit();
    Ok(())
}

/// Stores what `doc` added to `stored`: one increment, or a new snapshot when the increments
/// have grown enough. Nothing is written when nothing was added. Returns where the document
/// stands in storage now.
pub fn save(
    conn: &mut DbConn,
    family: FamilyId,
    stored: &Stored,
    doc: &Automerge,
) -> ApiResult<Layout> {
    let mut heads = doc.get_heads();
    let mut old = stored.heads.clone();
    heads.sort();
    old.sort();
    if heads == old {
        return Ok(stored.layout.clone());
    }
    let id = family.to_string();
    let increment = doc.save_after(&stored.heads);
    let len = i64::try_from(increment.len()).unwrap_or(i64::MAX);
    let total = stored.layout.increments_bytes.saturating_add(len);
    let compact = total > COMPACT_AFTER_BYTES
        || (total > COMPACT_MIN_BYTES && total > stored.layout.snapshot_len / 2);
    if compact {
        let snapshot = doc.save();
        let snapshot_heads = heads_text(&heads);
        diesel::delete(
            family_document_increments::table.filter(family_document_increments::family_id.eq(&id)),
        )
        .execute(conn)?;
        diesel::update(family_documents::table.find(&id))
            .set((
                family_documents::snapshot.eq(&snapshot),
                family_documents::snapshot_heads.eq(&snapshot_heads),
                family_documents::increments_bytes.eq(0_i64),
                family_documents::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(Layout {
            version: Version {
                snapshot_heads,
                increments: Vec::new(),
            },
            snapshot_len: i64::try_from(snapshot.len()).unwrap_or(i64::MAX),
            increments_bytes: 0,
        })
    } else {
        let values = (
            family_document_increments::family_id.eq(&id),
            family_document_increments::bytes.eq(&increment),
            family_document_increments::created_at.eq(now()),
        );
        let insert = diesel::insert_into(family_document_increments::table)
            .values(values)
            .returning(family_document_increments::id);
        let new_id: i64 = match conn {
            DbConn::Postgres(pg) => insert.get_result(pg)?,
            DbConn::Sqlite(lite) => insert.get_result(lite)?,
        };
        diesel::update(family_documents::table.find(&id))
            .set((
                family_documents::increments_bytes.eq(total),
                family_documents::updated_at.eq(now()),
            ))
            .execute(conn)?;
        let mut version = stored.layout.version.clone();
        version.increments.push(new_id);
        Ok(Layout {
            version,
            snapshot_len: stored.layout.snapshot_len,
            increments_bytes: total,
        })
    }
}

/// Writes a family's document anew as `fresh` (a single snapshot), dropping the old history.
/// The hashes of the dropped changes are kept so that a device still on them is told to
/// replace its document ([`is_retired`]).
pub fn replace(
    conn: &mut DbConn,
    family: FamilyId,
    old: &Automerge,
    fresh: &Automerge,
) -> ApiResult<()> {
    let id = family.to_string();
    let hashes: Vec<String> = old
        .get_changes_meta(&[])
        .iter()
        .map(|c| c.hash.to_string())
        .collect();
    for chunk in hashes.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|hash| {
                (
                    retired_changes::family_id.eq(&id),
                    retired_changes::hash.eq(hash),
                )
            })
            .collect();
        match conn {
            DbConn::Postgres(pg) => diesel::insert_into(retired_changes::table)
                .values(&rows)
                .on_conflict_do_nothing()
                .execute(pg)?,
            DbConn::Sqlite(lite) => diesel::insert_or_ignore_into(retired_changes::table)
                .values(&rows)
                .execute(lite)?,
        };
    }
    diesel::delete(
        family_document_increments::table.filter(family_document_increments::family_id.eq(&id)),
    )
    .execute(conn)?;
    diesel::update(family_documents::table.find(&id))
        .set((
            family_documents::snapshot.eq(fresh.save()),
            family_documents::snapshot_heads.eq(heads_text(&fresh.get_heads())),
            family_documents::increments_bytes.eq(0_i64),
            family_documents::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes a family's document anew from its current state changed by `edit` (a member or old
/// visits taken out), as one snapshot by the server, and drops the old history ([`replace`]).
pub fn rewrite(
    conn: &mut DbConn,
    family: FamilyId,
    old: &Automerge,
    edit: impl FnOnce(&mut FamilyDoc),
) -> ApiResult<()> {
    let mut current = old.fork().with_actor(server_actor());
    doc::upgrade(&mut current).map_err(|e| internal("upgrading a family document", e))?;
    let mut data =
        FamilyDoc::read(&current).map_err(|e| internal("reading a family document", e))?;
    edit(&mut data);
    let mut fresh = Automerge::new().with_actor(server_actor());
    let mut tx = fresh.transaction();
    if let Err(e) = data.write(&mut tx) {
        tx.rollback();
        return Err(internal("writing a family document anew", e));
    }
    tx.commit();
    replace(conn, family, old, &fresh)
}

/// Whether any of `heads` is a change of a history dropped by [`replace`].
pub fn is_retired(conn: &mut DbConn, family: FamilyId, heads: &[ChangeHash]) -> ApiResult<bool> {
    let wanted: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    let found: i64 = retired_changes::table
        .filter(retired_changes::family_id.eq(family.to_string()))
        .filter(retired_changes::hash.eq_any(&wanted))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}
