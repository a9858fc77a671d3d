//! The wire protocol between the coordinator and its Python workers.
//!
//! `workers/PROTOCOL.md` is the normative description; this crate is its one Rust
//! definition and `dbtest/worker/protocol.py` its one Python definition. Both are
//! checked against the golden frames in `workers/golden/vectors.json`.
//!
//! A frame is a big-endian `u32` body length followed by a msgpack map. Every map
//! has a `type` key first, then the fields in the order declared here.

mod bench;
mod frame;
mod messages;

pub use bench::*;

pub use frame::{encode_frame, write_frame, FrameReader, ProtocolError, MAX_FRAME_LEN};
pub use messages::*;

/// Bumped on every incompatible change; the worker announces its own in `hello`.
pub const PROTOCOL_VERSION: u32 = 6;
