//! The on-disk store of one account: the family document, and small records beside it (the
//! device's sync state, its session, the reference cache).
//!
//! Layout of the account's data folder:
//!
//! ```text
//! document.bin    the document at the last compaction (Automerge `save()`), one sealed record
//! changes.log     changes since, one frame per durable operation
//! key.check       present when the store is encrypted: a sealed known value
//! records/<name>  small records, each replaced atomically
//! ```
//!
//! Durability: an operation returns only after its bytes are on disk (`fdatasync`). A crash or
//! power loss at any moment leaves the old or the new state, never a broken one:
//!
//! - a log frame is `[length: u32 LE][crc32 of the payload: u32 LE][payload]`, appended and
//!   synced; a frame cut short by a crash (or whose checksum fails) is the unfinished last
//!   operation, and opening the store cuts the log back to the last whole frame;
//! - `document.bin` and every record are written to a temporary file, synced, renamed over the
//!   old one, and the folder synced: a reader sees the old file or the new one. Compaction writes
//!   the new `document.bin` first and empties the log after, so a crash in between leaves
//!   changes in the log that the snapshot already has, which loading ignores.
//!
//! Encryption at rest (optional): with a 32-byte key from the platform keystore, every record,
//! the snapshot and every log payload is sealed with XChaCha20-Poly1305 under a fresh random
//! 24-byte nonce (`[nonce][ciphertext and tag]`). `key.check` seals a fixed value, so a wrong key
//! is told apart from damaged data: it is refused before anything is read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use automerge::{ActorId, Automerge, ChangeHash};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Why the store failed. Every variant has a stable [`StoreError::code`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system refused (disk full, permissions…); `doing` says what the store was doing.
    #[error("the data folder could not be used while {doing}: {source}")]
    Io {
        doing: &'static str,
        #[source]
        source: io::Error,
    },
    /// The key does not open this store.
    #[error("this key does not open the data folder")]
    WrongKey,
    /// The store is encrypted and no key was given.
    #[error("the data folder is encrypted: a key is needed")]
    KeyRequired,
    /// A key was given for a store that holds unencrypted data.
    #[error("the data folder is not encrypted; it cannot be opened with a key")]
    NotEncrypted,
    /// Stored data is damaged beyond what crash recovery repairs (a bad disk, a file edited by
    /// hand). `what` names the file.
    #[error("the data folder is damaged: {what}")]
    Corrupt { what: String },
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "storage_unavailable",
            Self::WrongKey => "wrong_key",
            Self::KeyRequired => "key_required",
            Self::NotEncrypted => "store_not_encrypted",
            Self::Corrupt { .. } => "store_corrupt",
        }
    }

    fn io(doing: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { doing, source }
    }

    fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into() }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

const DOCUMENT: &str = "document.bin";
const LOG: &str = "changes.log";
const KEY_CHECK: &str = "key.check";
const RECORDS: &str = "records";
const TMP_SUFFIX: &str = ".tmp";
const KEY_CHECK_PLAIN: &[u8] = b"reguide client store v1";
const NONCE_LEN: usize = 24;
const FRAME_HEADER: usize = 8;
/// The log is folded into a new snapshot past this size…
const COMPACT_AFTER_BYTES: u64 = 256 * 1024;
/// …or past the snapshot's own size, but not for less than this.
const COMPACT_MIN_BYTES: u64 = 16 * 1024;

/// Seals and opens bytes with the store's key.
#[derive(Clone)]
struct Cipher(XChaCha20Poly1305);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    fn seal(&self, plain: &[u8]) -> StoreResult<Vec<u8>> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .0
            .encrypt(&nonce, plain)
            .map_err(|_| StoreError::corrupt("sealing failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.0.decrypt(XNonce::from_slice(nonce), body).ok()
    }
}

/// One account's store, open. Holds the document in memory; every change to it goes through
/// [`Store::edit`], [`Store::absorb`] or [`Store::replace_document`], which make it durable.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    cipher: Option<Cipher>,
    doc: Option<Automerge>,
    log: File,
    log_bytes: u64,
    snapshot_bytes: u64,
    /// The actor the document writes with (the device's enrolled one).
    actor: Option<ActorId>,
}

impl Store {
    /// Opens (or creates) the store in `dir`, recovering from an interrupted write.
    pub fn open(dir: impl AsRef<Path>, key: Option<&[u8; 32]>) -> StoreResult<Self> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(dir.join(RECORDS)).map_err(StoreError::io("creating the folder"))?;
        remove_leftovers(&dir)?;
        remove_leftovers(&dir.join(RECORDS))?;
        let cipher = check_key(&dir, key)?;
        let mut store = Self::open_with(&dir, cipher)?;
        store.compact_if_due()?;
        Ok(store)
    }

    /// The family document, once the first sync brought it.
    pub fn document(&self) -> Option<&Automerge> {
        self.doc.as_ref()
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `edit` on the document and makes what it changed durable before returning. When
    /// `edit` fails it must leave the document as it was (the protocol's `checked` writes do);
    /// when the disk fails, the in-memory document is reloaded from disk, so memory never
    /// holds what the disk does not.
    pub fn edit<T, E: From<StoreError>>(
        &mut self,
        edit: impl FnOnce(&mut Automerge) -> Result<T, E>,
    ) -> Result<T, E> {
        let doc = self
            .doc
            .as_mut()
            .ok_or_else(|| StoreError::corrupt("no document yet"))?;
        let before = doc.get_heads();
        let out = edit(doc)?;
        self.persist_since(&before)?;
        Ok(out)
    }

    /// Loads changes from the server (`load_incremental` bytes) and makes them durable.
    /// Returns the patches the changes made, for the views kept in memory.
    pub fn absorb(&mut self, changes: &[u8]) -> StoreResult<Vec<automerge::Patch>> {
        let doc = self
            .doc
            .as_mut()
            .ok_or_else(|| StoreError::corrupt("no document yet"))?;
        let before = doc.get_heads();
        let mut log = automerge::PatchLog::active();
        let loaded = catch_unwind(AssertUnwindSafe(|| {
            doc.load_incremental_log_patches(changes, &mut log)
        }));
        if !matches!(loaded, Ok(Ok(_))) {
            self.reload()?;
            return Err(StoreError::corrupt("changes from the server do not load"));
        }
        let patches = doc.make_patches(&mut log);
        self.persist_since(&before)?;
        Ok(patches)
    }

    /// Replaces the whole document (a new device's first sync, a recovery), durably.
    pub fn replace_document(&mut self, mut doc: Automerge) -> StoreResult<()> {
        if let Some(actor) = &self.actor {
            doc.set_actor(actor.clone());
        }
        self.doc = Some(doc);
        if let Err(e) = self.write_snapshot() {
            self.reload()?;
            return Err(e);
        }
        Ok(())
    }

    /// Appends what the document gained since `before` to the log.
    fn persist_since(&mut self, before: &[ChangeHash]) -> StoreResult<()> {
        let Some(doc) = self.doc.as_ref() else {
            return Ok(());
        };
        let bytes = doc.save_after(before);
        if bytes.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.append(&bytes) {
            self.reload()?;
            return Err(e);
        }
        self.compact_if_due()
    }

    fn append(&mut self, bytes: &[u8]) -> StoreResult<()> {
        let payload = match &self.cipher {
            Some(cipher) => cipher.seal(bytes)?,
            None => bytes.to_vec(),
        };
        let len = u32::try_from(payload.len())
            .map_err(|_| StoreError::corrupt("a change larger than 4 GiB"))?;
        let mut frame = Vec::with_capacity(FRAME_HEADER + payload.len());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        frame.extend_from_slice(&payload);
        let written = self
            .log
            .write_all(&frame)
            .and_then(|()| self.log.sync_data());
        if let Err(e) = written {
            // Cut a partial frame off now rather than at the next open.
            let _ = self.log.set_len(self.log_bytes);
            return Err(StoreError::io("saving a change")(e));
        }
        self.log_bytes += frame.len() as u64;
        Ok(())
    }

    /// Re-reads the document from disk (after a failed write).
    fn reload(&mut self) -> StoreResult<()> {
        let dir = self.dir.clone();
        let actor = self.actor.take();
        *self = Self::open_with(&dir, self.cipher.clone())?;
        if let Some(actor) = actor {
            self.set_actor(actor);
        }
        Ok(())
    }

    /// Sets the actor the document's changes are made with, now and after a reload.
    /// The actor this device writes with, once enrolled.
    pub fn actor(&self) -> Option<ActorId> {
        self.actor.clone()
    }

    pub fn set_actor(&mut self, actor: ActorId) {
        if let Some(doc) = self.doc.as_mut() {
            doc.set_actor(actor.clone());
        }
        self.actor = Some(actor);
    }

    /// Loads the snapshot and replays the log, cutting off an unfinished last frame.
    fn open_with(dir: &Path, cipher: Option<Cipher>) -> StoreResult<Self> {
        let (mut doc, snapshot_bytes) = match read_optional(&dir.join(DOCUMENT))? {
            None => (None, 0),
            Some(sealed) => {
                let bytes = unseal(cipher.as_ref(), &sealed, DOCUMENT)?;
                let doc = load(&bytes, None).ok_or_else(|| StoreError::corrupt(DOCUMENT))?;
                (Some(doc), sealed.len() as u64)
            }
        };
        let mut log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(dir.join(LOG))
            .map_err(StoreError::io("opening the change log"))?;
        let mut raw = Vec::new();
        log.read_to_end(&mut raw)
            .map_err(StoreError::io("reading the change log"))?;
        let (frames, whole) = frames(&raw);
        if whole < raw.len() {
            // The last operation did not finish: it never returned, so it is dropped.
            log.set_len(whole as u64)
                .and_then(|()| log.sync_all())
                .map_err(StoreError::io("repairing the change log"))?;
        }
        log.seek(SeekFrom::End(0))
            .map_err(StoreError::io("opening the change log"))?;
        for frame in frames {
            let bytes = unseal(cipher.as_ref(), frame, LOG)?;
            doc = Some(load(&bytes, doc).ok_or_else(|| StoreError::corrupt(LOG))?);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            cipher,
            doc,
            log,
            log_bytes: whole as u64,
            snapshot_bytes,
            actor: None,
        })
    }

    fn compact_if_due(&mut self) -> StoreResult<()> {
        let due = self.log_bytes > COMPACT_AFTER_BYTES
            || (self.log_bytes > COMPACT_MIN_BYTES && self.log_bytes > self.snapshot_bytes);
        if due && self.doc.is_some() {
            self.write_snapshot()?;
        }
        Ok(())
    }

    /// Writes the whole document as the new snapshot, then empties the log.
    fn write_snapshot(&mut self) -> StoreResult<()> {
        let Some(doc) = self.doc.as_ref() else {
            return Ok(());
        };
        let sealed = match &self.cipher {
            Some(cipher) => cipher.seal(&doc.save())?,
            None => doc.save(),
        };
        write_atomic(&self.dir, DOCUMENT, &sealed)?;
        self.snapshot_bytes = sealed.len() as u64;
        self.log
            .set_len(0)
            .and_then(|()| self.log.sync_all())
            .map_err(StoreError::io("emptying the change log"))?;
        self.log_bytes = 0;
        Ok(())
    }

    /// Reads a small record; `None` when it was never written.
    pub fn read_record(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let path = self.dir.join(RECORDS).join(record_file(name)?);
        match read_optional(&path)? {
            None => Ok(None),
            Some(sealed) => unseal(self.cipher.as_ref(), &sealed, name).map(Some),
        }
    }

    /// Replaces a small record atomically and durably.
    pub fn write_record(&self, name: &str, bytes: &[u8]) -> StoreResult<()> {
        let sealed = match &self.cipher {
            Some(cipher) => cipher.seal(bytes)?,
            None => bytes.to_vec(),
        };
        write_atomic(&self.dir.join(RECORDS), record_file(name)?, &sealed)
    }

    /// Deletes a record, if it exists.
    pub fn remove_record(&self, name: &str) -> StoreResult<()> {
        let path = self.dir.join(RECORDS).join(record_file(name)?);
        match fs::remove_file(path) {
            Ok(()) => sync_dir(&self.dir.join(RECORDS)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("removing a record")(e)),
        }
    }

    /// Deletes the whole data folder (logout).
    pub fn wipe(self) -> StoreResult<()> {
        let dir = self.dir.clone();
        drop(self);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("wiping the data folder")(e)),
        }
    }

    /// Bytes on disk: the snapshot and the log (for diagnostics and benchmarks).
    pub fn disk_bytes(&self) -> u64 {
        self.snapshot_bytes + self.log_bytes
    }
}

/// Record names are plain: letters, digits, `-` and `_`.
fn record_file(name: &str) -> StoreResult<&str> {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        Ok(name)
    } else {
        Err(StoreError::corrupt(format!("invalid record name {name:?}")))
    }
}

/// Loads `bytes` as a document, or into `into`; `None` when they are not valid Automerge.
fn load(bytes: &[u8], into: Option<Automerge>) -> Option<Automerge> {
    catch_unwind(AssertUnwindSafe(move || match into {
        None => Automerge::load(bytes).ok(),
        Some(mut doc) => doc.load_incremental(bytes).ok().map(|_| doc),
    }))
    .ok()
    .flatten()
}

/// The whole frames at the start of `raw`, and where they end.
fn frames(raw: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while raw.len() - at >= FRAME_HEADER {
        let len = u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]) as usize;
        let crc = u32::from_le_bytes([raw[at + 4], raw[at + 5], raw[at + 6], raw[at + 7]]);
        let start = at + FRAME_HEADER;
        let Some(end) = start.checked_add(len).filter(|end| *end <= raw.len()) else {
            break;
        };
        let payload = &raw[start..end];
        if crc32fast::hash(payload) != crc {
            break;
        }
        out.push(payload);
        at = end;
    }
    (out, at)
}

fn unseal(cipher: Option<&Cipher>, bytes: &[u8], what: &str) -> StoreResult<Vec<u8>> {
    match cipher {
        None => Ok(bytes.to_vec()),
        Some(cipher) => cipher
            .open(bytes)
            .ok_or_else(|| StoreError::corrupt(what.to_owned())),
    }
}

fn check_key(dir: &Path, key: Option<&[u8; 32]>) -> StoreResult<Option<Cipher>> {
    let check_path = dir.join(KEY_CHECK);
    let stored = read_optional(&check_path)?;
    let Some(key) = key else {
        return match stored {
            Some(_) => Err(StoreError::KeyRequired),
            None => Ok(None),
        };
    };
    let cipher = Cipher(XChaCha20Poly1305::new(key.into()));
    match stored {
        Some(sealed) => match cipher.open(&sealed) {
            Some(plain) if plain == KEY_CHECK_PLAIN => Ok(Some(cipher)),
            _ => Err(StoreError::WrongKey),
        },
        None => {
            let holds_data = read_optional(&dir.join(DOCUMENT))?.is_some()
                || fs::metadata(dir.join(LOG)).is_ok_and(|m| m.len() > 0);
            if holds_data {
                return Err(StoreError::NotEncrypted);
            }
            write_atomic(dir, KEY_CHECK, &cipher.seal(KEY_CHECK_PLAIN)?)?;
            Ok(Some(cipher))
        }
    }
}

fn read_optional(path: &Path) -> StoreResult<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("reading the data folder")(e)),
    }
}

/// Temporary files of writes a crash interrupted.
fn remove_leftovers(dir: &Path) -> StoreResult<()> {
    let entries = fs::read_dir(dir).map_err(StoreError::io("reading the data folder"))?;
    for entry in entries {
        let entry = entry.map_err(StoreError::io("reading the data folder"))?;
        if entry.file_name().to_string_lossy().ends_with(TMP_SUFFIX) {
            fs::remove_file(entry.path()).map_err(StoreError::io("cleaning the data folder"))?;
        }
    }
    Ok(())
}

/// Writes `name` in `dir` so that a crash leaves the old content or the new, never a mix.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> StoreResult<()> {
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let doing = "saving";
    let mut file = File::create(&tmp).map_err(StoreError::io(doing))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(StoreError::io(doing))?;
    drop(file);
    fs::rename(&tmp, dir.join(name)).map_err(StoreError::io(doing))?;
    sync_dir(dir)
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> StoreResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("saving the folder"))
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};

    use super::*;

    fn put(doc: &mut Automerge, key: &str, value: &str) -> StoreResult<()> {
        let mut tx = doc.transaction();
        tx.put(ROOT, key, value).expect("put");
        tx.commit();
        Ok(())
    }

    fn value(store: &Store, key: &str) -> Option<String> {
        let doc = store.document()?;
        match doc.get(ROOT, key).expect("get") {
            Some((automerge::Value::Scalar(v), _)) => v.as_str().map(str::to_owned),
            _ => None,
        }
    }

    fn started(dir: &Path, key: Option<&[u8; 32]>) -> Store {
        let mut store = Store::open(dir, key).expect("open");
        store
            .replace_document(Automerge::new())
            .expect("first document");
        store
    }

    #[test]
    fn edits_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = started(dir.path(), None);
        for n in 0..10 {
            store
                .edit(|doc| put(doc, &format!("k{n}"), "v"))
                .expect("edit");
        }
        drop(store);
        let store = Store::open(dir.path(), None).expect("reopen");
        assert_eq!(value(&store, "k9").as_deref(), Some("v"));
        assert!(store.log_bytes > 0);
    }

    #[test]
    fn an_unfinished_last_write_is_cut_off() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = started(dir.path(), None);
        store.edit(|doc| put(doc, "kept", "yes")).expect("edit");
        let whole = store.log_bytes;
        drop(store);
        // A crash in the middle of the next frame: its header and half its payload.
        let mut log = OpenOptions::new()
            .append(true)
            .open(dir.path().join(LOG))
            .expect("log");
        log.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9])
            .expect("write");
        drop(log);
        let mut store = Store::open(dir.path(), None).expect("reopen");
        assert_eq!(value(&store, "kept").as_deref(), Some("yes"));
        assert_eq!(store.log_bytes, whole);
        store.edit(|doc| put(doc, "after", "yes")).expect("edit");
        drop(store);
        let store = Store::open(dir.path(), None).expect("reopen");
        assert_eq!(value(&store, "after").as_deref(), Some("yes"));
    }

    #[test]
    fn a_frame_with_a_bad_checksum_ends_the_log() {
        let raw = {
            let mut raw = Vec::new();
            for payload in [&b"first"[..], b"second"] {
                raw.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                raw.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
                raw.extend_from_slice(payload);
            }
            raw
        };
        let (all, end) = frames(&raw);
        assert_eq!((all.len(), end), (2, raw.len()));
        let mut damaged = raw.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        let (some, end) = frames(&damaged);
        assert_eq!((some, end), (vec![&b"first"[..]], 13));
        let (none, end) = frames(&raw[..5]);
        assert!(none.is_empty() && end == 0);
    }

    #[test]
    fn compaction_keeps_everything() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = started(dir.path(), None);
        let text = "x".repeat(2_000);
        for n in 0..200 {
            store
                .edit(|doc| put(doc, &format!("k{n}"), &text))
                .expect("edit");
        }
        assert!(
            store.log_bytes < COMPACT_AFTER_BYTES,
            "compacted on the way"
        );
        drop(store);
        let store = Store::open(dir.path(), None).expect("reopen");
        assert_eq!(value(&store, "k0").as_deref(), Some(text.as_str()));
        assert_eq!(value(&store, "k199").as_deref(), Some(text.as_str()));
    }

    #[test]
    fn a_wrong_key_is_refused_and_nothing_is_in_the_clear() {
        let dir = tempfile::tempdir().expect("dir");
        let key = [7_u8; 32];
        let mut store = started(dir.path(), Some(&key));
        store
            .edit(|doc| put(doc, "name", "Fatima Benali"))
            .expect("edit");
        store
            .write_record("session", b"token Fatima Benali")
            .expect("record");
        drop(store);

        for file in [DOCUMENT, LOG, "records/session"] {
            let bytes = fs::read(dir.path().join(file)).expect("file");
            let clear = bytes.windows(6).any(|w| w == b"Benali");
            assert!(!clear, "{file} holds the name in the clear");
        }
        let wrong = Store::open(dir.path(), Some(&[8_u8; 32])).expect_err("wrong key");
        assert_eq!(wrong.code(), "wrong_key");
        let none = Store::open(dir.path(), None).expect_err("no key");
        assert_eq!(none.code(), "key_required");
        let store = Store::open(dir.path(), Some(&key)).expect("right key");
        assert_eq!(value(&store, "name").as_deref(), Some("Fatima Benali"));
        assert_eq!(
            store.read_record("session").expect("read").as_deref(),
            Some(&b"token Fatima Benali"[..])
        );
    }

    #[test]
    fn a_key_for_a_clear_store_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = started(dir.path(), None);
        store.edit(|doc| put(doc, "a", "b")).expect("edit");
        drop(store);
        let err = Store::open(dir.path(), Some(&[1; 32])).expect_err("refused");
        assert_eq!(err.code(), "store_not_encrypted");
    }

    #[test]
    fn records_are_replaced_whole_and_names_are_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path(), None).expect("open");
        assert_eq!(store.read_record("sync").expect("read"), None);
        store.write_record("sync", b"one").expect("write");
        store.write_record("sync", b"two").expect("write");
        assert_eq!(
            store.read_record("sync").expect("read").as_deref(),
            Some(&b"two"[..])
        );
        // A leftover of an interrupted write is ignored and cleaned.
        fs::write(dir.path().join(RECORDS).join("sync.tmp"), b"half").expect("write");
        let store = Store::open(dir.path(), None).expect("reopen");
        assert!(!dir.path().join(RECORDS).join("sync.tmp").exists());
        assert_eq!(
            store.read_record("sync").expect("read").as_deref(),
            Some(&b"two"[..])
        );
        assert_eq!(
            store.write_record("../x", b"").expect_err("name").code(),
            "store_corrupt"
        );
        store.remove_record("sync").expect("remove");
        assert_eq!(store.read_record("sync").expect("read"), None);
    }

    #[test]
    fn wipe_removes_the_folder() {
        let dir = tempfile::tempdir().expect("dir");
        let account = dir.path().join("account");
        let mut store = started(&account, None);
        store.edit(|doc| put(doc, "a", "b")).expect("edit");
        store.wipe().expect("wipe");
        assert!(!account.exists());
    }
}
