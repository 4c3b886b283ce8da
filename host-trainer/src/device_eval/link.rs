//! The framed serial link to the firmware: requests out, replies in, over any byte stream
//! (a serial port, QEMU's TCP socket), framed by `nn_core::protocol`.
//!
//! Each reply has a deadline ([`REPLY_TIMEOUT`]) and a byte budget ([`MAX_REPLY_BYTES`]):
//! a device that is silent, trickles bytes, floods bytes without a frame delimiter, or sends
//! endless empty frames ends the wait with a one-line error that says what it sent.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nn_core::protocol::{self, FrameReader, MAX_FRAME, Request, Response};

/// How long one reply may take, from the moment it is awaited. QEMU needs a few hundred
/// milliseconds to boot and run the self-test before it reads its UART.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// The read timeout the streams this module's callers open should have: how often the
/// reply deadline is looked at while the device is silent.
pub const READ_POLL: Duration = Duration::from_millis(200);
/// Bytes read while waiting for one reply before the device counts as babbling: a reply
/// frame is at most [`MAX_FRAME`] bytes and its delimiter, so four times that leaves room
/// for noise on the line and nothing more.
pub const MAX_REPLY_BYTES: usize = 4 * (MAX_FRAME + 1);

/// A byte stream to the firmware, framed by `nn_core::protocol`.
pub struct Link<T> {
    stream: T,
    frames: FrameReader<MAX_FRAME>,
    /// Bytes read but not yet framed: `pending[consumed..]`.
    pending: Vec<u8>,
    consumed: usize,
}

/// What the device sent while a reply was awaited, for the error message.
#[derive(Default)]
struct Seen {
    bytes: usize,
    delimiters: usize,
    first: Vec<u8>,
}

impl Seen {
    fn push(&mut self, byte: u8) {
        self.bytes += 1;
        self.delimiters += usize::from(byte == 0);
        if self.first.len() < 8 {
            self.first.push(byte);
        }
    }

    /// "nothing", or "N bytes (M frame delimiters), starting 41 41 …".
    fn describe(&self) -> String {
        if self.bytes == 0 {
            return "nothing".into();
        }
        let start: Vec<String> = self.first.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{} bytes ({} of them frame delimiters, no complete reply), starting {}",
            self.bytes,
            self.delimiters,
            start.join(" ")
        )
    }
}

impl<T: Read + Write> Link<T> {
    /// Wraps a stream whose reads time out after a short while (see [`READ_POLL`]); a
    /// stream whose reads block forever would make [`REPLY_TIMEOUT`] moot.
    pub fn new(stream: T) -> Self {
        Self {
            stream,
            frames: FrameReader::new(),
            pending: Vec::new(),
            consumed: 0,
        }
    }

    /// Sends one request frame.
    ///
    /// # Errors
    /// The stream cannot be written.
    pub fn send_request(&mut self, request: &Request) -> anyhow::Result<()> {
        let mut buf = [0u8; MAX_FRAME];
        let frame = protocol::encode_request(request, &mut buf)
            .map_err(|e| anyhow::anyhow!("encoding a request: {e}"))?;
        self.send_raw(frame)
    }

    /// Sends bytes as they are (for tests that send broken frames).
    ///
    /// # Errors
    /// The stream cannot be written.
    pub fn send_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream
            .write_all(bytes)
            .context("writing to the device")?;
        self.stream.flush().context("writing to the device")
    }

    /// Reads the next reply frame and decodes it.
    ///
    /// # Errors
    /// No complete reply within [`REPLY_TIMEOUT`] or [`MAX_REPLY_BYTES`], the stream closes,
    /// or the frame does not decode as a [`Response`].
    pub fn read_response(&mut self) -> anyhow::Result<Response> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut seen = Seen::default();
        loop {
            while let Some(&byte) = self.pending.get(self.consumed) {
                self.consumed += 1;
                seen.push(byte);
                if let Some(frame) = self.frames.push(byte) {
                    let frame =
                        frame.map_err(|e| anyhow::anyhow!("corrupt reply from the device: {e}"))?;
                    return protocol::decode_response(frame)
                        .map_err(|e| anyhow::anyhow!("corrupt reply from the device: {e}"));
                }
                if seen.bytes >= MAX_REPLY_BYTES {
                    bail!(
                        "no reply from the device within {MAX_REPLY_BYTES} bytes: it sent {}",
                        seen.describe()
                    );
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "no reply from the device within {REPLY_TIMEOUT:?}: it sent {}",
                    seen.describe()
                );
            }
            let mut buf = [0u8; 256];
            let n = match self.stream.read(&mut buf) {
                Ok(0) => bail!(
                    "the device closed the connection; before that it sent {}",
                    seen.describe()
                ),
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(e).context("reading from the device"),
            };
            self.pending.clear();
            self.consumed = 0;
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, Cursor};

    /// A device that answers every read with `fill` forever and swallows writes.
    struct Endless(u8);

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(self.0);
            Ok(buf.len())
        }
    }

    impl Write for Endless {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn endless_bytes_without_a_delimiter_end_with_what_was_sent() {
        let err = Link::new(Endless(0x41)).read_response().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("within {MAX_REPLY_BYTES} bytes")),
            "{msg}"
        );
        assert!(msg.contains("0 of them frame delimiters"), "{msg}");
        assert!(msg.contains("starting 41 41"), "{msg}");
    }

    #[test]
    fn endless_empty_frames_end_too() {
        let msg = Link::new(Endless(0))
            .read_response()
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&format!("{MAX_REPLY_BYTES} of them frame delimiters")),
            "{msg}"
        );
    }

    #[test]
    fn a_closed_stream_says_so() {
        struct Rw(Cursor<Vec<u8>>);
        impl Read for Rw {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0.read(buf)
            }
        }
        impl Write for Rw {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let msg = Link::new(Rw(Cursor::new(vec![1, 2, 3])))
            .read_response()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("closed the connection"), "{msg}");
        assert!(msg.contains("3 bytes"), "{msg}");
    }
}
