use serde::{de::DeserializeOwned, Serialize};
use std::io::{self, Read, Write};

/// Largest frame body either side accepts. Workers cap captured output far below this,
/// so a larger frame means a broken or hostile peer.
pub const MAX_FRAME_LEN: u32 = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("pipe error: {0}")]
    Io(#[from] io::Error),
    #[error("frame of {len} bytes exceeds the {cap}-byte limit")]
    Oversized { len: u32, cap: u32 },
    #[error("stream ended inside a frame")]
    Truncated,
    #[error("undecodable frame: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    #[error("unencodable message: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

/// Encodes `message` as one complete frame (length prefix included).
pub fn encode_frame<T: Serialize>(message: &T) -> Result<Vec<u8>, ProtocolError> {
    let mut buf = vec![0u8; 4];
    rmp_serde::encode::write_named(&mut buf, message)?;
    let len = u32::try_from(buf.len() - 4).unwrap_or(u32::MAX);
    if len > MAX_FRAME_LEN {
        return Err(ProtocolError::Oversized {
            len,
            cap: MAX_FRAME_LEN,
        });
    }
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

pub fn write_frame<T: Serialize, W: Write>(out: &mut W, message: &T) -> Result<(), ProtocolError> {
    out.write_all(&encode_frame(message)?)?;
    Ok(())
}

/// Reads frames from a byte stream, never buffering more than one frame body.
pub struct FrameReader<R> {
    inner: R,
    cap: u32,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_cap(inner, MAX_FRAME_LEN)
    }

    pub fn with_cap(inner: R, cap: u32) -> Self {
        FrameReader { inner, cap }
    }

    /// The next frame body, or `None` at a clean end of stream (between frames).
    pub fn next_body(&mut self) -> Result<Option<Vec<u8>>, ProtocolError> {
        let mut header = [0u8; 4];
        let mut filled = 0;
        while filled < 4 {
            match self.inner.read(&mut header[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => return Err(ProtocolError::Truncated),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let len = u32::from_be_bytes(header);
        if len > self.cap {
            return Err(ProtocolError::Oversized { len, cap: self.cap });
        }
        let mut body = vec![0u8; len as usize];
        match self.inner.read_exact(&mut body) {
            Ok(()) => Ok(Some(body)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(ProtocolError::Truncated),
            Err(e) => Err(e.into()),
        }
    }

    /// The next decoded message, or `None` at a clean end of stream.
    pub fn next_message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ProtocolError> {
        match self.next_body()? {
            Some(body) => Ok(Some(rmp_serde::from_slice(&body)?)),
            None => Ok(None),
        }
    }
}

impl<R: Read> FrameReader<std::io::BufReader<R>> {
    /// Whether a whole frame is already buffered, so reading it needs no system
    /// call: readers use it to hand over everything that arrived together.
    pub fn frame_buffered(&self) -> bool {
        let buffered = self.inner.buffer();
        match buffered.get(..4) {
            Some(header) => {
                let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
                buffered.len() - 4 >= len as usize
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchDone, FromWorker};

    #[test]
    fn round_trips_a_frame() {
        let msg = FromWorker::BatchDone(BatchDone { batch: 7 });
        let bytes = encode_frame(&msg).unwrap();
        let mut reader = FrameReader::new(&bytes[..]);
        assert_eq!(reader.next_message::<FromWorker>().unwrap(), Some(msg));
        assert!(reader.next_message::<FromWorker>().unwrap().is_none());
    }

    #[test]
    fn rejects_oversized_frame_without_allocating_it() {
        let mut bytes = u32::MAX.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"junk");
        let mut reader = FrameReader::with_cap(&bytes[..], 1024);
        assert!(matches!(
            reader.next_body(),
            Err(ProtocolError::Oversized {
                len: u32::MAX,
                cap: 1024
            })
        ));
    }

    #[test]
    fn reports_truncation_inside_header_and_body() {
        let mut reader = FrameReader::new(&[0u8, 0][..]);
        assert!(matches!(reader.next_body(), Err(ProtocolError::Truncated)));
        let mut reader = FrameReader::new(&[0u8, 0, 0, 9, 1, 2][..]);
        assert!(matches!(reader.next_body(), Err(ProtocolError::Truncated)));
    }

    #[test]
    fn knows_when_a_whole_frame_is_buffered() {
        let msg = FromWorker::BatchDone(BatchDone { batch: 1 });
        let mut bytes = encode_frame(&msg).unwrap();
        bytes.extend(encode_frame(&msg).unwrap());
        bytes.extend(&encode_frame(&msg).unwrap()[..3]);
        let mut reader = FrameReader::new(std::io::BufReader::new(&bytes[..]));
        assert!(!reader.frame_buffered(), "nothing read yet");
        reader.next_body().unwrap();
        assert!(reader.frame_buffered());
        reader.next_body().unwrap();
        assert!(!reader.frame_buffered(), "only a partial frame is left");
    }

    #[test]
    fn rejects_corrupt_body() {
        let bytes = [0u8, 0, 0, 3, 0xc1, 0xc1, 0xc1];
        let mut reader = FrameReader::new(&bytes[..]);
        assert!(matches!(
            reader.next_message::<FromWorker>(),
            Err(ProtocolError::Decode(_))
        ));
    }
}
