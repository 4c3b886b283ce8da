//! The framed serial link to the firmware: requests out, replies in, over any byte stream
//! (a serial port, QEMU's TCP socket), framed by `nn_core::protocol`.
//!
//! Each reply has a deadline ([`REPLY_TIMEOUT`]) and a byte budget ([`MAX_REPLY_BYTES`]):
//! a device that is silent, trickles bytes, floods bytes without a frame delimiter, or sends
//! endless empty frames ends the wait with a one-line error that says what it sent.
//!
//! The line recovers from an interrupted run by itself: every request goes out after a
//! `0x00`, which ends whatever partial frame the device holds, and [`Link::sync`] starts a
//! run by reading past everything stale until the reply to a request of its own.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nn_core::IMAGE_PIXELS;
use nn_core::protocol::{
    self, AnyResponse, FrameError, FrameReader, LearnReply, LearnRequest, MAX_FRAME, Request,
    Response, TensorElement, TensorRequest,
};

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
/// Bytes [`Link::sync`] reads past before its own reply: an interrupted run leaves at most
/// its requests in flight and a partial frame to answer, far below this.
pub const MAX_SYNC_BYTES: usize = 16 * MAX_REPLY_BYTES;
/// The most elements of a tensor the host sends or receives (f32: 256 KiB a frame).
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 16;
/// The host's frame buffer: any digit message, any tensor of [`MAX_TENSOR_ELEMENTS`].
const HOST_FRAME: usize = protocol::max_frame_for(MAX_TENSOR_ELEMENTS, MAX_TENSOR_ELEMENTS);

/// A reply of either kind, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// A digit prediction, or an error reply to any request.
    Digit(Response),
    /// An output tensor.
    Tensor {
        /// The request's id.
        id: u32,
        /// `I8` or `F32`.
        element: TensorElement,
        /// The elements as they travelled (f32 little-endian).
        data: Vec<u8>,
    },
    /// The answer to a learning request.
    Learn {
        /// The request's id.
        id: u32,
        /// What the board answered.
        reply: LearnAnswer,
    },
}

/// A [`LearnReply`], owned.
#[derive(Clone, Debug, PartialEq)]
pub enum LearnAnswer {
    /// [`LearnReply::Stored`]: examples kept, and the most the board keeps.
    Stored {
        /// Examples to learn.
        examples: u32,
        /// Replay examples.
        replay: u32,
        /// The most examples to learn.
        capacity: u32,
        /// The most replay examples.
        replay_capacity: u32,
    },
    /// [`LearnReply::Learned`].
    Learned {
        /// Optimizer steps.
        steps: u32,
        /// The last epoch's summed loss.
        loss_sum: f32,
        /// The last epoch's examples classified right as they were learned.
        correct: u32,
        /// Instructions (QEMU) or cycles the whole fit took.
        count: u64,
        /// The stack's high-water mark, bytes.
        stack_used: u32,
    },
    /// [`LearnReply::Head`].
    Head {
        /// Where `data` starts in the head's bytes.
        offset: u32,
        /// The head's length in bytes.
        total: u32,
        /// Its bytes from `offset`.
        data: Vec<u8>,
    },
}

impl From<LearnReply<'_>> for LearnAnswer {
    fn from(reply: LearnReply<'_>) -> Self {
        match reply {
            LearnReply::Stored {
                examples,
                replay,
                capacity,
                replay_capacity,
            } => Self::Stored {
                examples,
                replay,
                capacity,
                replay_capacity,
            },
            LearnReply::Learned {
                steps,
                loss_sum,
                correct,
                count,
                stack_used,
            } => Self::Learned {
                steps,
                loss_sum,
                correct,
                count,
                stack_used,
            },
            LearnReply::Head {
                offset,
                total,
                data,
            } => Self::Head {
                offset,
                total,
                data: data.to_vec(),
            },
        }
    }
}

/// A byte stream to the firmware, framed by `nn_core::protocol`.
pub struct Link<T> {
    stream: T,
    /// Boxed: a quarter of a megabyte.
    frames: Box<FrameReader<HOST_FRAME>>,
    /// Bytes one reply may take ([`MAX_REPLY_BYTES`] unless [`Link::expect_tensors`]).
    reply_budget: usize,
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
            "{} bytes ({} of them frame delimiters, none ending the awaited reply), starting {}",
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
            frames: Box::default(),
            reply_budget: MAX_REPLY_BYTES,
            pending: Vec::new(),
            consumed: 0,
        }
    }

    /// Allows replies that carry up to `bytes` bytes of output tensor: the byte budget of a
    /// reply grows to four of their frames, as [`MAX_REPLY_BYTES`] is four digit frames.
    pub fn expect_tensors(&mut self, bytes: usize) {
        self.reply_budget = MAX_REPLY_BYTES.max(4 * (protocol::tensor_frame_len(bytes) + 1));
    }

    /// Sends one tensor request frame, after a `0x00` (see [`Link::send_request`]).
    ///
    /// # Errors
    /// More than [`MAX_TENSOR_ELEMENTS`] elements, or the stream cannot be written.
    pub fn send_tensor(&mut self, request: &TensorRequest<'_>) -> anyhow::Result<()> {
        anyhow::ensure!(
            request.data.len() <= 4 * MAX_TENSOR_ELEMENTS,
            "a tensor of {} bytes is more than the {} elements the host sends",
            request.data.len(),
            MAX_TENSOR_ELEMENTS
        );
        let mut buf = vec![0u8; 1 + protocol::tensor_frame_len(request.data.len())];
        let len = protocol::encode_tensor_request(request, &mut buf[1..])
            .map_err(|e| anyhow::anyhow!("encoding a request: {e}"))?
            .len();
        self.send_raw(&buf[..1 + len])
    }

    /// Sends one learning request frame, after a `0x00` (see [`Link::send_request`]).
    ///
    /// # Errors
    /// The stream cannot be written.
    pub fn send_learn(&mut self, request: &LearnRequest<'_>) -> anyhow::Result<()> {
        let data = match request {
            LearnRequest::Example { data, .. } => data.len(),
            _ => 0,
        };
        let mut buf = vec![0u8; 1 + protocol::learn_frame_len(data)];
        let len = protocol::encode_learn_request(request, &mut buf[1..])
            .map_err(|e| anyhow::anyhow!("encoding a request: {e}"))?
            .len();
        self.send_raw(&buf[..1 + len])
    }

    /// Sends one request frame, after a `0x00` that ends any partial frame the device holds
    /// (otherwise it is an empty frame, which the device skips without a reply).
    ///
    /// # Errors
    /// The stream cannot be written.
    pub fn send_request(&mut self, request: &Request) -> anyhow::Result<()> {
        let mut buf = [0u8; 1 + MAX_FRAME];
        let len = protocol::encode_request(request, &mut buf[1..])
            .map_err(|e| anyhow::anyhow!("encoding a request: {e}"))?
            .len();
        self.send_raw(&buf[..1 + len])
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

    /// Brings the line to a known state before a run: sends a request with `id` (a blank
    /// image) and reads until its reply, dropping whatever comes before it: replies to an
    /// interrupted run's requests, the error reply to the partial frame it left in the
    /// device, the tail of a reply cut off mid-frame. The device answers frames in order, so
    /// once this reply is in, nothing stale is left in either direction. `id` must be one no
    /// earlier run used (see `devices::eval::run_ids`).
    ///
    /// # Errors
    /// No reply with `id` within [`REPLY_TIMEOUT`] or [`MAX_SYNC_BYTES`], the stream closes,
    /// or it cannot be written.
    pub fn sync(&mut self, id: u32) -> anyhow::Result<()> {
        self.send_request(&Request {
            id,
            pixels: [0; IMAGE_PIXELS],
        })?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut seen = Seen::default();
        let mut unreadable: Option<FrameError> = None;
        loop {
            let reply = self
                .next_reply(deadline, MAX_SYNC_BYTES, &mut seen)
                .map_err(|e| match unreadable {
                    // Every frame rejected: most likely firmware that speaks another version.
                    Some(last) => e.context(format!(
                        "the device could not read our frames (last: {last}); is its firmware \
                         built from this version (protocol {})? rebuild and flash it",
                        protocol::VERSION
                    )),
                    None => e,
                })?;
            match reply {
                Ok(Reply::Digit(Response { id: got, body })) if got == id => {
                    return match body {
                        protocol::ResponseBody::Prediction { .. } => Ok(()),
                        // A model that is no digit classifier read the frame and said so:
                        // the line is in step all the same.
                        protocol::ResponseBody::Error(FrameError::WrongInput) => Ok(()),
                        protocol::ResponseBody::Error(e) => {
                            bail!("the device answered the sync request with an error: {e}")
                        }
                    };
                }
                Ok(Reply::Digit(Response {
                    body: protocol::ResponseBody::Error(e),
                    ..
                })) => unreadable = Some(e),
                // A stale reply, or a stale frame cut short: dropped.
                Ok(_) | Err(_) => {}
            }
        }
    }

    /// Reads the next reply frame and decodes it as a digit reply.
    ///
    /// # Errors
    /// No complete reply within [`REPLY_TIMEOUT`] or [`MAX_REPLY_BYTES`], the stream closes,
    /// or the frame does not decode as a [`Response`].
    pub fn read_response(&mut self) -> anyhow::Result<Response> {
        match self.read_reply()? {
            Reply::Digit(response) => Ok(response),
            Reply::Tensor { id, .. } => {
                bail!("the device answered with a tensor (id {id}) where a digit reply was due")
            }
            Reply::Learn { id, .. } => {
                bail!(
                    "the device answered a learning request (id {id}) where a digit reply was due"
                )
            }
        }
    }

    /// Reads the next reply frame, of either kind.
    ///
    /// # Errors
    /// No complete reply within [`REPLY_TIMEOUT`] or the reply budget, the stream closes,
    /// or the frame does not decode.
    pub fn read_reply(&mut self) -> anyhow::Result<Reply> {
        self.read_reply_within(REPLY_TIMEOUT)
    }

    /// [`Link::read_reply`] with a deadline of its own: learning takes far longer than one
    /// inference.
    ///
    /// # Errors
    /// As [`Link::read_reply`], with `timeout` for [`REPLY_TIMEOUT`].
    pub fn read_reply_within(&mut self, timeout: Duration) -> anyhow::Result<Reply> {
        let deadline = Instant::now() + timeout;
        self.next_reply(deadline, self.reply_budget, &mut Seen::default())?
            .map_err(|e| anyhow::anyhow!("corrupt reply from the device: {e}"))
    }

    /// The next frame from the device, decoded or not.
    ///
    /// # Errors
    /// No frame by `deadline`, `budget` bytes in `seen` without one, or the stream fails.
    fn next_reply(
        &mut self,
        deadline: Instant,
        budget: usize,
        seen: &mut Seen,
    ) -> anyhow::Result<Result<Reply, FrameError>> {
        loop {
            while let Some(&byte) = self.pending.get(self.consumed) {
                self.consumed += 1;
                seen.push(byte);
                if let Some(frame) = self.frames.push(byte) {
                    return Ok(frame
                        .and_then(protocol::decode_any_response)
                        .map(|r| match r {
                            AnyResponse::Digit(response) => Reply::Digit(response),
                            AnyResponse::Tensor(t) => Reply::Tensor {
                                id: t.id,
                                element: t.element,
                                data: t.data.to_vec(),
                            },
                            AnyResponse::Learn(l) => Reply::Learn {
                                id: l.id,
                                reply: l.reply.into(),
                            },
                        }));
                }
                if seen.bytes >= budget {
                    bail!(
                        "no reply from the device within {budget} bytes: it sent {}",
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

    /// A device whose replies are written in advance; what the host writes is kept.
    struct Scripted {
        replies: Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.replies.read(buf)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn frame(response: Response) -> Vec<u8> {
        let mut buf = [0u8; MAX_FRAME];
        protocol::encode_response(&response, &mut buf)
            .unwrap()
            .to_vec()
    }

    fn prediction(id: u32) -> Response {
        Response {
            id,
            body: protocol::ResponseBody::Prediction {
                class: 1,
                probabilities: [0.1; 10],
            },
        }
    }

    fn error(e: FrameError) -> Response {
        Response {
            id: 0,
            body: protocol::ResponseBody::Error(e),
        }
    }

    #[test]
    fn sync_reads_past_an_interrupted_run_to_its_own_reply_and_no_further() {
        // The tail of a reply cut off mid-frame, a stale run's reply, the error reply to the
        // half request it left, then the answer to the sync (id 77) and the run's first reply.
        let mut replies = vec![0x41, 0x42, 0x00];
        for r in [
            prediction(41),
            error(FrameError::BadCrc),
            prediction(77),
            prediction(78),
        ] {
            replies.extend(frame(r));
        }
        let mut link = Link::new(Scripted {
            replies: Cursor::new(replies),
            written: Vec::new(),
        });
        link.sync(77).unwrap();
        assert_eq!(link.read_response().unwrap(), prediction(78));

        // What went out: a 0x00, then the sync request with a blank image.
        let written = &mut link.stream.written;
        assert_eq!(written.first(), Some(&0));
        let sent = protocol::decode_request(&mut written[1..]).unwrap();
        assert_eq!(sent.id, 77);
        assert_eq!(sent.pixels, [0; IMAGE_PIXELS]);
    }

    #[test]
    fn sync_against_a_device_that_rejects_every_frame_names_the_protocol_version() {
        let mut replies = frame(error(FrameError::Malformed));
        replies.extend(frame(error(FrameError::Malformed)));
        let mut link = Link::new(Scripted {
            replies: Cursor::new(replies),
            written: Vec::new(),
        });
        let msg = format!("{:#}", link.sync(5).unwrap_err());
        assert!(
            msg.contains("frame does not hold the expected message"),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("protocol {}", protocol::VERSION)),
            "{msg}"
        );
        assert!(msg.contains("closed the connection"), "{msg}");
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
