//! Family documents kept loaded between syncs, so that a sync does not parse the stored
//! document again: one instance's memory, never trusted on its own. Each entry is the document
//! as stored at a [`Version`]; a sync takes it out, checks it against the stored version under
//! the family's lock, loads only the increments stored since (another instance's syncs, a staff
//! edit) or the whole document when the snapshot changed (compaction, erasure), and puts the
//! document it stored back after its transaction committed. A sync that fails leaves nothing
//! here, and the next one loads from the database.

use std::collections::HashMap;
use std::sync::Mutex;

use automerge::Automerge;
use reguide_protocol::FamilyId;

/// Which stored state a document is: the snapshot, named by its heads (a snapshot's heads name
/// its content), and the ids of the increments appended to it, in order. Increments are only
/// appended while the snapshot stays, and ids are never reused (`AUTOINCREMENT`, a sequence),
/// so a document at a version whose increments are a prefix of the stored ones needs only the
/// rest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Version {
    pub snapshot_heads: String,
    pub increments: Vec<i64>,
}

impl Version {
    /// The increments stored after `self`, when `stored` extends it; `None` when it does not
    /// (another snapshot) and the document must be loaded anew.
    pub fn missing_from<'a>(&self, stored: &'a Version) -> Option<&'a [i64]> {
        (self.snapshot_heads == stored.snapshot_heads
            && stored.increments.starts_with(&self.increments))
        .then(|| &stored.increments[self.increments.len()..])
    }
}

/// A family's document as stored at `version`, with the snapshot's size (for compaction).
#[derive(Debug)]
pub struct Loaded {
    pub family: FamilyId,
    pub doc: Automerge,
    pub version: Version,
    pub snapshot_len: i64,
}

/// The documents of the families that synced last, at most `capacity` of them.
#[derive(Debug)]
pub struct DocCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Each document with when it was last put back (`tick`).
    docs: HashMap<FamilyId, (u64, Loaded)>,
    tick: u64,
}

impl DocCache {
    /// A cache of at most `capacity` documents; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Entries::default()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing here can be left half-changed by a panic: use what is there.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the family's document out, if it is here: a sync owns it until it puts it back.
    pub fn take(&self, family: FamilyId) -> Option<Loaded> {
        self.entries()
            .docs
            .remove(&family)
            .map(|(_, loaded)| loaded)
    }

    /// Puts a document back as stored by a committed transaction. A document already here that
    /// extends this one (a later sync of the family put it back first) stays; otherwise this
    /// one replaces it. When full, the least recently put back goes.
    pub fn put(&self, loaded: Loaded) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries();
        entries.tick += 1;
        let tick = entries.tick;
        if let Some((_, there)) = entries.docs.get(&loaded.family)
            && loaded
                .version
                .missing_from(&there.version)
                .is_some_and(|newer| !newer.is_empty())
        {
            return;
        }
        if !entries.docs.contains_key(&loaded.family) && entries.docs.len() >= self.capacity {
            let oldest = entries
                .docs
                .iter()
                .min_by_key(|(_, (tick, _))| *tick)
                .map(|(family, _)| *family);
            if let Some(oldest) = oldest {
                entries.docs.remove(&oldest);
            }
        }
        entries.docs.insert(loaded.family, (tick, loaded));
    }

    /// Forgets a family's document (its history was rewritten or the family deleted).
    pub fn forget(&self, family: FamilyId) {
        self.entries().docs.remove(&family);
    }

    /// How many documents are kept.
    pub fn len(&self) -> usize {
        self.entries().docs.len()
    }

    /// Whether no document is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(heads: &str, increments: &[i64]) -> Version {
        Version {
            snapshot_heads: heads.into(),
            increments: increments.to_vec(),
        }
    }

    fn loaded(family: FamilyId, v: Version) -> Loaded {
        Loaded {
            family,
            doc: Automerge::new(),
            version: v,
            snapshot_len: 0,
        }
    }

    #[test]
    fn a_version_is_extended_only_by_more_increments_on_the_same_snapshot() {
        let at = version("a", &[3, 7]);
        assert_eq!(at.missing_from(&version("a", &[3, 7])), Some(&[][..]));
        assert_eq!(
            at.missing_from(&version("a", &[3, 7, 9, 12])),
            Some(&[9, 12][..])
        );
        assert_eq!(at.missing_from(&version("a", &[3])), None);
        assert_eq!(at.missing_from(&version("a", &[3, 8, 9])), None);
        assert_eq!(at.missing_from(&version("b", &[3, 7, 9])), None);
        assert_eq!(at.missing_from(&version("b", &[])), None);
    }

    #[test]
    fn a_taken_document_is_gone_until_put_back() {
        let cache = DocCache::new(4);
        let family = FamilyId::new();
        cache.put(loaded(family, version("a", &[1])));
        assert!(cache.take(family).is_some());
        assert!(cache.take(family).is_none());
    }

    #[test]
    fn an_older_version_does_not_replace_a_newer_one() {
        let cache = DocCache::new(4);
        let family = FamilyId::new();
        cache.put(loaded(family, version("a", &[1, 2])));
        cache.put(loaded(family, version("a", &[1])));
        assert_eq!(
            cache.take(family).map(|l| l.version),
            Some(version("a", &[1, 2]))
        );
        cache.put(loaded(family, version("a", &[1])));
        cache.put(loaded(family, version("b", &[])));
        assert_eq!(
            cache.take(family).map(|l| l.version),
            Some(version("b", &[]))
        );
    }

    #[test]
    fn the_least_recently_put_back_goes_first_and_zero_keeps_none() {
        let cache = DocCache::new(2);
        let [a, b, c] = [FamilyId::new(), FamilyId::new(), FamilyId::new()];
        cache.put(loaded(a, version("a", &[])));
        cache.put(loaded(b, version("b", &[])));
        cache.put(loaded(a, version("a", &[1])));
        cache.put(loaded(c, version("c", &[])));
        assert_eq!(cache.len(), 2);
        assert!(cache.take(b).is_none());
        assert!(cache.take(a).is_some() && cache.take(c).is_some());
        let none = DocCache::new(0);
        none.put(loaded(a, version("a", &[])));
        assert!(none.is_empty());
    }
}
