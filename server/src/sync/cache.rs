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

/// Where a document stands in storage: its [`Version`], the snapshot's size (compaction weighs
/// the increments against it) and the increments' total size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub version: Version,
    pub snapshot_len: i64,
    pub increments_bytes: i64,
}

impl Layout {
    /// The whole stored size: snapshot and increments.
    pub fn stored_bytes(&self) -> i64 {
        self.snapshot_len.saturating_add(self.increments_bytes)
    }
}

/// A family's document as stored at `layout`.
#[derive(Debug)]
pub struct Loaded {
    pub family: FamilyId,
    pub doc: Automerge,
    pub layout: Layout,
}

/// How much of the documents' stored size (compressed, as in the database) the cache keeps at
/// most. A loaded document takes many times its stored size in memory, and large histories
/// are rare: a document over an eighth of this is not kept (its syncs load it, as without a
/// cache).
pub const MAX_STORED_BYTES: i64 = 8 * 1024 * 1024;

/// The documents of the families that synced last: at most `capacity` of them, and at most
/// [`MAX_STORED_BYTES`] of stored size together.
#[derive(Debug)]
pub struct DocCache {
    capacity: usize,
    max_bytes: i64,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Each document with when it was last put back (`tick`).
    docs: HashMap<FamilyId, (u64, Loaded)>,
    tick: u64,
    /// The stored size of the documents kept.
    bytes: i64,
}

impl Entries {
    fn remove(&mut self, family: FamilyId) -> Option<Loaded> {
        let (_, loaded) = self.docs.remove(&family)?;
        self.bytes -= loaded.layout.stored_bytes();
        Some(loaded)
    }
}

impl DocCache {
    /// A cache of at most `capacity` documents; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        Self::bounded(capacity, MAX_STORED_BYTES)
    }

    /// A cache of at most `capacity` documents and `max_bytes` of their stored size.
    pub fn bounded(capacity: usize, max_bytes: i64) -> Self {
        Self {
            capacity,
            max_bytes,
            inner: Mutex::new(Entries::default()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing here can be left half-changed by a panic: use what is there.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the family's document out, if it is here: a sync owns it until it puts it back.
    pub fn take(&self, family: FamilyId) -> Option<Loaded> {
        self.entries().remove(family)
    }

    /// Puts a document back as stored by a committed transaction. A document already here that
    /// extends this one (a later sync of the family put it back first) stays; otherwise this
    /// one replaces it. When full, the least recently put back go; a document over an eighth of
    /// the bound on stored size is not kept.
    pub fn put(&self, loaded: Loaded) {
        let mut entries = self.entries();
        if let Some((_, there)) = entries.docs.get(&loaded.family)
            && loaded
                .layout
                .version
                .missing_from(&there.layout.version)
                .is_some_and(|newer| !newer.is_empty())
        {
            return;
        }
        entries.remove(loaded.family);
        let bytes = loaded.layout.stored_bytes();
        if self.capacity == 0 || bytes > self.max_bytes / 8 {
            return;
        }
        while entries.docs.len() >= self.capacity || entries.bytes + bytes > self.max_bytes {
            let oldest = entries
                .docs
                .iter()
                .min_by_key(|(_, (tick, _))| *tick)
                .map(|(family, _)| *family);
            match oldest {
                Some(oldest) => entries.remove(oldest),
                None => break,
            };
        }
        entries.tick += 1;
        let tick = entries.tick;
        entries.bytes += bytes;
        entries.docs.insert(loaded.family, (tick, loaded));
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
        sized(family, v, 10)
    }

    fn sized(family: FamilyId, v: Version, stored_bytes: i64) -> Loaded {
        Loaded {
            family,
            doc: Automerge::new(),
            layout: Layout {
                version: v,
                snapshot_len: stored_bytes,
                increments_bytes: 0,
            },
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
            cache.take(family).map(|l| l.layout.version),
            Some(version("a", &[1, 2]))
        );
        cache.put(loaded(family, version("a", &[1])));
        cache.put(loaded(family, version("b", &[])));
        assert_eq!(
            cache.take(family).map(|l| l.layout.version),
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

    #[test]
    fn the_stored_size_is_bounded_and_a_large_document_not_kept() {
        let cache = DocCache::bounded(10, 800);
        let [a, b, c, big] = [
            FamilyId::new(),
            FamilyId::new(),
            FamilyId::new(),
            FamilyId::new(),
        ];
        cache.put(sized(a, version("a", &[]), 100));
        cache.put(sized(b, version("b", &[]), 100));
        cache.put(sized(big, version("big", &[]), 101));
        assert!(cache.take(big).is_none(), "over an eighth of the bound");
        for n in 0..6 {
            cache.put(sized(c, version("c", &[n]), 100));
        }
        assert_eq!(cache.len(), 3);
        cache.put(sized(FamilyId::new(), version("d", &[]), 100));
        cache.put(sized(FamilyId::new(), version("e", &[]), 100));
        cache.put(sized(FamilyId::new(), version("f", &[]), 100));
        cache.put(sized(FamilyId::new(), version("g", &[]), 100));
        cache.put(sized(FamilyId::new(), version("h", &[]), 100));
        // 8 × 100 fill the bound: the ninth put pushes out the least recently put back (a).
        assert_eq!(cache.len(), 8);
        cache.put(sized(FamilyId::new(), version("i", &[]), 100));
        assert_eq!(cache.len(), 8);
        assert!(cache.take(a).is_none());
        assert!(cache.take(b).is_some() && cache.take(c).is_some());
        // What was taken no longer counts.
        cache.put(sized(FamilyId::new(), version("j", &[]), 100));
        cache.put(sized(FamilyId::new(), version("k", &[]), 100));
        assert_eq!(cache.len(), 8);
    }
}
