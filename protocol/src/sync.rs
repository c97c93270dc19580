//! The sync wire format, version 1: one HTTP round trip per sync of a family document.
//!
//! Why a format of our own rather than Automerge's sync protocol: Automerge's protocol needs
//! two or more round trips and, without saved sync state, tens of kilobytes of bloom filters to
//! reconnect; a phone that comes back online after a change wants one short request. The client
//! remembers the server heads it last saw, so it can send exactly the changes the server lacks
//! (`save_after(those heads)`), and the server can answer with exactly what the client lacks.
//!
//! Frames are binary, byte for byte (specified for other implementations in `docs/SYNC.md`):
//!
//! - request: `[0x01][n: u8][n × 32-byte change hash][changes: the rest]`;
//! - response: `[0x01][kind: u8][m: u8][m × 32-byte change hash][data: the rest]`, where kind 0
//!   means `data` is changes to `load_incremental` and kind 1 means it is a whole document to
//!   `load` (a new device, or a client whose heads the server does not know).
//!
//! Pure encoding and decoding, no I/O: the server and the client core use the same code.

use automerge::{ActorId, ChangeHash};

/// The version byte this code writes and reads.
pub const VERSION: u8 = 1;

/// Length of an Automerge change hash on the wire.
pub const HASH_LEN: usize = 32;

/// At most this many heads fit a frame (the count is one byte).
pub const MAX_HEADS: usize = u8::MAX as usize;

/// The largest request body the server accepts, in bytes.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The content type of request and response bodies.
pub const CONTENT_TYPE: &str = "application/octet-stream";

/// The server's Automerge actor id, the same on every server instance (so that a family's
/// history has one server author however many instances wrote it). Clients may use it to tell
/// the server's changes from the devices'.
pub const SERVER_ACTOR_BYTES: [u8; 16] = *b"reguide.server.1";

/// [`SERVER_ACTOR_BYTES`] as an [`ActorId`].
pub fn server_actor() -> ActorId {
    ActorId::from(&SERVER_ACTOR_BYTES[..])
}

/// What a client sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    /// The server heads the client last saw; empty for a device that has never synced.
    pub heads: Vec<ChangeHash>,
    /// The client's changes since `heads`: Automerge `save_after(heads)`, possibly empty.
    pub changes: Vec<u8>,
}

/// What the response's data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseKind {
    /// Changes the client lacks, to `load_incremental` into its document (possibly empty).
    Changes = 0,
    /// The whole document (`save()`): load it, then re-apply local changes the server lacks.
    FullDocument = 1,
    /// The family's document was written anew (someone's data was erased) and its old history
    /// dropped: replace yours with this one, without merging the old history back, and redo on
    /// it whatever you changed since you last synced.
    Replaced = 2,
}

/// What the server answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResponse {
    pub kind: ResponseKind,
    /// The server's heads after this sync; the client sends them with its next request.
    pub heads: Vec<ChangeHash>,
    pub data: Vec<u8>,
}

/// Why a frame could not be read or written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("the frame is empty")]
    Empty,
    #[error("unsupported sync version {0} (this side speaks version {VERSION})")]
    UnsupportedVersion(u8),
    #[error("unknown response kind {0}")]
    UnknownKind(u8),
    #[error("the frame ends early: {needed} bytes needed, {available} available")]
    Truncated { needed: usize, available: usize },
    #[error("{0} heads do not fit a frame (at most {MAX_HEADS})")]
    TooManyHeads(usize),
}

impl SyncRequest {
    /// The request frame.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(2 + self.heads.len() * HASH_LEN + self.changes.len());
        out.push(VERSION);
        put_heads(&mut out, &self.heads)?;
        out.extend_from_slice(&self.changes);
        Ok(out)
    }

    /// Reads a request frame.
    pub fn decode(frame: &[u8]) -> Result<Self, FrameError> {
        let rest = version(frame)?;
        let (heads, rest) = take_heads(rest)?;
        Ok(Self {
            heads,
            changes: rest.to_vec(),
        })
    }
}

impl SyncResponse {
    /// The response frame.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(3 + self.heads.len() * HASH_LEN + self.data.len());
        out.push(VERSION);
        out.push(self.kind as u8);
        put_heads(&mut out, &self.heads)?;
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// Reads a response frame.
    pub fn decode(frame: &[u8]) -> Result<Self, FrameError> {
        let rest = version(frame)?;
        let (&kind, rest) = rest.split_first().ok_or(FrameError::Truncated {
            needed: 2,
            available: 1,
        })?;
        let kind = match kind {
            0 => ResponseKind::Changes,
            1 => ResponseKind::FullDocument,
            2 => ResponseKind::Replaced,
            other => return Err(FrameError::UnknownKind(other)),
        };
        let (heads, rest) = take_heads(rest)?;
        Ok(Self {
            kind,
            heads,
            data: rest.to_vec(),
        })
    }
}

fn version(frame: &[u8]) -> Result<&[u8], FrameError> {
    match frame.split_first() {
        None => Err(FrameError::Empty),
        Some((&VERSION, rest)) => Ok(rest),
        Some((&other, _)) => Err(FrameError::UnsupportedVersion(other)),
    }
}

fn put_heads(out: &mut Vec<u8>, heads: &[ChangeHash]) -> Result<(), FrameError> {
    let count = u8::try_from(heads.len()).map_err(|_| FrameError::TooManyHeads(heads.len()))?;
    out.push(count);
    for head in heads {
        out.extend_from_slice(&head.0);
    }
    Ok(())
}

fn take_heads(frame: &[u8]) -> Result<(Vec<ChangeHash>, &[u8]), FrameError> {
    let (&count, rest) = frame.split_first().ok_or(FrameError::Truncated {
        needed: 1,
        available: 0,
    })?;
    let len = usize::from(count) * HASH_LEN;
    if rest.len() < len {
        return Err(FrameError::Truncated {
            needed: len,
            available: rest.len(),
        });
    }
    let (hashes, rest) = rest.split_at(len);
    let heads = hashes
        .chunks_exact(HASH_LEN)
        .map(|chunk| {
            let mut hash = [0u8; HASH_LEN];
            hash.copy_from_slice(chunk);
            ChangeHash(hash)
        })
        .collect();
    Ok((heads, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> ChangeHash {
        ChangeHash([n; HASH_LEN])
    }

    #[test]
    fn requests_round_trip() {
        for request in [
            SyncRequest {
                heads: vec![],
                changes: vec![],
            },
            SyncRequest {
                heads: vec![hash(1), hash(2)],
                changes: vec![0x85, 0x6f, 0x4a, 0x83, 9, 9],
            },
        ] {
            let frame = request.encode().expect("encodes");
            assert_eq!(frame[0], VERSION);
            assert_eq!(frame[1] as usize, request.heads.len());
            assert_eq!(SyncRequest::decode(&frame), Ok(request));
        }
    }

    #[test]
    fn responses_round_trip() {
        for kind in [
            ResponseKind::Changes,
            ResponseKind::FullDocument,
            ResponseKind::Replaced,
        ] {
            let response = SyncResponse {
                kind,
                heads: vec![hash(7)],
                data: vec![1, 2, 3],
            };
            let frame = response.encode().expect("encodes");
            assert_eq!(&frame[..3], &[VERSION, kind as u8, 1]);
            assert_eq!(frame.len(), 3 + HASH_LEN + 3);
            assert_eq!(SyncResponse::decode(&frame), Ok(response));
        }
    }

    #[test]
    fn malformed_frames_are_refused() {
        assert_eq!(SyncRequest::decode(&[]), Err(FrameError::Empty));
        assert_eq!(
            SyncRequest::decode(&[2, 0]),
            Err(FrameError::UnsupportedVersion(2))
        );
        assert!(matches!(
            SyncRequest::decode(&[VERSION]),
            Err(FrameError::Truncated { .. })
        ));
        // Two heads announced, one and a half sent.
        let mut frame = vec![VERSION, 2];
        frame.extend_from_slice(&[0; HASH_LEN + 16]);
        assert_eq!(
            SyncRequest::decode(&frame),
            Err(FrameError::Truncated {
                needed: 2 * HASH_LEN,
                available: HASH_LEN + 16
            })
        );
        assert_eq!(
            SyncResponse::decode(&[VERSION, 3, 0]),
            Err(FrameError::UnknownKind(3))
        );
        assert!(matches!(
            SyncResponse::decode(&[VERSION]),
            Err(FrameError::Truncated { .. })
        ));
    }

    #[test]
    fn too_many_heads_do_not_encode() {
        let request = SyncRequest {
            heads: (0..=255).map(|_| hash(0)).collect(),
            changes: vec![],
        };
        assert_eq!(request.encode(), Err(FrameError::TooManyHeads(256)));
    }

    #[test]
    fn no_input_panics() {
        // Every prefix of a valid frame and some noise decode or fail without panicking.
        let frame = SyncResponse {
            kind: ResponseKind::Changes,
            heads: vec![hash(3), hash(4)],
            data: vec![5; 10],
        }
        .encode()
        .expect("encodes");
        for end in 0..frame.len() {
            let _ = SyncResponse::decode(&frame[..end]);
            let _ = SyncRequest::decode(&frame[..end]);
        }
        assert_eq!(server_actor().to_bytes(), &SERVER_ACTOR_BYTES[..]);
    }
}
