//! A device's changes as the server takes them in, without storage: loaded strictly into a copy
//! of the family's document, then checked for authorship and against the write policy. The
//! server runs these (catching any panic as the device's fault); the fuzz targets run the very
//! same code.

use automerge::{ActorId, Automerge, AutomergeError, LoadOptions, OnPartialLoad, Patch, PatchLog};

use super::{PolicyViolation, Writer, check_authorship, check_patches};
use crate::MemberId;

/// Loads `changes` into `copy` and returns the patches they make (logged while loading: a diff
/// of the documents afterwards would walk the whole document).
///
/// `load_incremental` silently skips chunks it cannot parse (a partial load), so the bytes are
/// first parsed strictly on their own: every chunk must be valid. Dependencies missing there
/// are expected (the changes build on the server's document); the caller checks them after.
pub fn load_changes(copy: &mut Automerge, changes: &[u8]) -> Result<Vec<Patch>, AutomergeError> {
    let strict = LoadOptions::new().on_partial_load(OnPartialLoad::Error);
    match Automerge::load_with_options(changes, strict) {
        Ok(_) | Err(AutomergeError::MissingDeps) => {}
        Err(e) => return Err(e),
    }
    let mut log = PatchLog::active();
    copy.load_incremental_log_patches(changes, &mut log)?;
    Ok(copy.make_patches(&mut log))
}

/// Authorship (every new change is by the device's `actor`) and the write policy of a family
/// member's device, for everything `copy` has that `base` has not.
pub fn check_device_changes(
    base: &Automerge,
    copy: &Automerge,
    patches: &[Patch],
    actor: &ActorId,
    member: MemberId,
) -> Result<(), PolicyViolation> {
    check_authorship(base, copy, actor)?;
    check_patches(
        Writer::FamilyDevice { member_id: member },
        base,
        copy,
        patches,
    )
}
