//! What the firmware does, whatever the board: classify the built-in digits (a digit model)
//! or check one inference (any other), and report, then answer requests framed by
//! `nn_core::protocol`: digits, and raw tensors of the model's own sizes. It reaches the board
//! only through embedded-hal 1.0's traits: the serial port (`embedded_hal_nb::serial`), the
//! user LED (`OutputPin`: lit when the self-test passed, toggled with every reply while
//! serving) and a delay (`DelayNs`).

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{OutputPin, PinState};
use embedded_hal_nb::serial::{Read, Write};
use nn_core::protocol::{
    self, AnyRequest, FrameError, FrameReader, HEAD_CHUNK, LearnResponse, Response, ResponseBody,
    TensorResponse,
};

#[cfg(nn_digits)]
use crate::digits::Digits;
use crate::stack;
use crate::stopwatch::Stopwatch;
use crate::weights::{self, FRAME, Net as Model, OUTPUT_BYTES};

/// The outcome of the boot-time self-test.
pub struct Report {
    images: u32,
    correct: u32,
    /// Outputs that are not a probability distribution (non-finite, or not summing to 1).
    malformed: u32,
    counted: u64,
}

/// Checks the kernel nn-core chose for this build (its table's choice, the one inference
/// runs: int8 `dense_i8` or f32 `gemv_bias`) against its scalar twin, on shapes the model
/// never has, since the model's own shapes never reach those paths. Only that one: the other kernel and its twin would
/// take flash (about 4 KB) that the f32 model's NUCLEO build does not have.
pub fn kernel_check() -> bool {
    if cfg!(nn_model_i8) {
        kernel_check_i8()
    } else {
        kernel_check_f32()
    }
}

/// Runs the chosen f32 dense kernel (the M4F's on an FPU core) on a shape the model never has (an odd row count, a tail of 5
/// columns after two blocks of 8) and compares it with the scalar twin. Every product and
/// partial sum here is a multiple of 1/32 below 2^10, so both must be exact and equal.
fn kernel_check_f32() -> bool {
    const ROWS: usize = 5;
    const COLS: usize = 21;
    let w: [f32; ROWS * COLS] = core::array::from_fn(|i| ((i * 7 % 13) as f32 - 6.0) * 0.125);
    let x: [f32; COLS] = core::array::from_fn(|j| (j as f32 - 9.0) * 0.25);
    let b = [0.5, -1.0, 2.0, 0.0, 1.5];
    let (mut fast, mut reference) = ([0.0f32; ROWS], [0.0f32; ROWS]);
    let chosen = nn_core::kernels::GEMV_BIAS;
    (chosen.run)(&w, &x, &b, &mut fast);
    nn_core::kernels::scalar::gemv_bias(&w, &x, &b, &mut reference);
    let equal = fast == reference;
    if equal {
        defmt::info!(
            "kernel check: {} gemv equals the scalar twin on 5x21",
            chosen.name
        );
    } else {
        defmt::error!(
            "kernel check: {} gemv {} != scalar {}",
            chosen.name,
            fast,
            reference
        );
    }
    equal
}

/// Runs the chosen int8 kernel (`SMLAD` on the Cortex-M4, `MULS` on the M0+) on shapes the model never has (13 rows: an 8-row group
/// and 5 more, some redone; 11 rows: 3 more; 5 rows: one at a time; 53 columns: an odd
/// number of blocks of 16 and a tail of 5; 37: an even number and a tail; 16: no tail; 3:
/// no block) at the ends of the input, weight and zero-point ranges, with groups of 4
/// inputs at the zero point or not (the sparse and dense loops), and compares
/// it with the scalar twin: integer arithmetic, so they must be equal.
fn kernel_check_i8() -> bool {
    use nn_core::kernels::int8::{DENSE_I8, DenseI8Args, scalar};
    use nn_core::quant::{DenseI8Params, Requant};
    const ROWS: usize = 13;
    const COLS: usize = 53;
    let w: [i8; ROWS * COLS] = core::array::from_fn(|i| ((i * 37 % 255) as i32 - 127) as i8);
    let x: [i8; COLS] = core::array::from_fn(|j| ((j * 91 % 256) as i32 - 128) as i8);
    let bias: [i32; ROWS] = core::array::from_fn(|r| match r % 5 {
        0 => 0,
        1 => -70_000,
        2 => 123_456,
        3 => i32::MIN,
        _ => 1000,
    });
    let requant: [Requant; ROWS] = core::array::from_fn(|r| {
        Requant::from_real([1.5e-4, 3e-4, 1e-4, 0.5, 5e-5][r % 5]).unwrap_or_default()
    });
    let mut equal = true;
    for rows in [13, 11, 5] {
        for (cols, izp) in [(53, -128), (37, 127), (16, 5), (3, 0)] {
            let p = DenseI8Params {
                input_zero_point: izp,
                output_zero_point: -3,
                min: -128,
                max: 127,
            };
            let w = &w[..rows * cols];
            let (bias, requant) = (&bias[..rows], &requant[..rows]);
            // Groups of 4 inputs at the zero point: none (the dense loop), 2 in 3 (the
            // sparse loop), 1 in 8 (dropped, then widened again for the dense loop).
            for zero_group in [|_| false, |g| g % 3 != 0, |g| g % 8 == 7] {
                let x: [i8; COLS] =
                    core::array::from_fn(|j| if zero_group(j / 4) { izp as i8 } else { x[j] });
                let (mut fast, mut reference) = ([0i8; ROWS], [0i8; ROWS]);
                let x = &x[..cols];
                (DENSE_I8.run)(DenseI8Args::new(w, x, bias, requant, p, &mut fast[..rows]));
                scalar::dense_i8(DenseI8Args::new(
                    w,
                    x,
                    bias,
                    requant,
                    p,
                    &mut reference[..rows],
                ));
                if fast != reference {
                    defmt::error!(
                        "kernel check: {} dense_i8 {} != scalar {} on {}x{}",
                        DENSE_I8.name,
                        fast,
                        reference,
                        rows,
                        cols
                    );
                    equal = false;
                }
            }
        }
    }
    if equal {
        defmt::info!(
            "kernel check: {} dense_i8 equals the scalar twin on 13, 11, 5 rows x 53, 37, 16, 3 columns, with 0, 2 in 3 and 1 in 8 groups of inputs at the zero point",
            DENSE_I8.name
        );
    }
    equal
}

/// Classifies every built-in digit, logging each result and the count it took.
#[cfg(nn_digits)]
pub fn self_test(model: &Model, digits: &Digits, stopwatch: &mut impl Stopwatch) -> Report {
    let mut report = Report {
        images: 0,
        correct: 0,
        malformed: 0,
        counted: 0,
    };
    for (i, (image, &label)) in digits.images.iter().zip(digits.labels).enumerate() {
        let (prediction, count) = stopwatch.measure(|| weights::classify(model, image));
        let p = &prediction.probabilities;
        let sum: f32 = p.iter().sum();
        let distribution = p.iter().all(|v| v.is_finite() && *v >= 0.0)
            && (!weights::softmax_output(model) || (sum - 1.0).abs() <= weights::SUM_TOLERANCE);
        defmt::info!(
            "digit {=usize} label={=u8} class={=usize} count={=u32} p={}",
            i,
            label,
            prediction.class,
            count,
            p
        );
        report.images += 1;
        report.correct += u32::from(prediction.class == usize::from(label));
        report.malformed += u32::from(!distribution);
        report.counted += u64::from(count);
    }
    if let Some(first) = digits.images.first() {
        count_without_black(model, first, stopwatch);
    }
    report
}

/// Runs one input through the model of any shape (the raw-tensor path the serve loop
/// runs): 0–255 pixels in a fixed pattern that covers the range, logging the count it took
/// and the first outputs. Passes when the model answers and an f32 output is finite.
#[cfg(not(nn_digits))]
pub fn self_test(model: &Model, stopwatch: &mut impl Stopwatch) -> Report {
    use crate::weights::INPUTS;
    use nn_core::protocol::TensorElement;
    let pixels: [u8; INPUTS] = core::array::from_fn(|i| (i * 37 % 256) as u8);
    let mut out = [0u8; OUTPUT_BYTES];
    let (result, count) =
        stopwatch.measure(|| weights::infer(model, TensorElement::U8, &pixels, &mut out));
    let malformed = match result {
        Ok((TensorElement::F32, len)) => out[..len]
            .chunks_exact(4)
            .any(|b| !f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite()),
        Ok(_) => false,
        Err(_) => true,
    };
    defmt::info!(
        "self-check: one inference of the {=usize}-input model, count={=u32}, output bytes {=[u8]}",
        INPUTS,
        count,
        &out[..out.len().min(16)]
    );
    Report {
        images: 1,
        correct: 0,
        malformed: u32::from(malformed),
        counted: u64::from(count),
    }
}

/// Logs the class and count of `digit` with its black pixels made 1s. An int8 layer skips
/// the groups of 4 inputs at their zero point (nn_core's `kernels::int8::m4`), so a digit
/// costs less than an image without black pixels: that image's count is the worst case.
/// Out of line, so that its image is on the stack only while it runs, not in the frame
/// that serves.
#[cfg(nn_digits)]
#[inline(never)]
fn count_without_black(
    model: &Model,
    digit: &[u8; nn_core::IMAGE_PIXELS],
    stopwatch: &mut impl Stopwatch,
) {
    let bright = digit.map(|p| p.max(1));
    let (prediction, count) = stopwatch.measure(|| weights::classify(model, &bright));
    defmt::info!(
        "no black pixel (digit 0, its 0s made 1s): class={=usize} count={=u32}",
        prediction.class,
        count
    );
}

impl Report {
    /// True when every digit got a well-formed answer (accuracy is the model's business).
    pub fn passed(&self) -> bool {
        self.images > 0 && self.malformed == 0
    }

    /// One summary line, the one tests and README read; `stack_used` is the stack's
    /// high-water mark in bytes so far (see [`stack`]).
    pub fn log(&self, unit: &str, stack_used: u32) {
        let images = self.images.max(1);
        defmt::info!(
            "self-test images={=u32} correct={=u32} accuracy={=f32} malformed={=u32} {=str}_per_inference={=u64} stack_used={=u32}",
            self.images,
            self.correct,
            self.correct as f32 / images as f32,
            self.malformed,
            unit,
            self.counted / u64::from(images),
            stack_used
        );
    }
}

/// Shows the self-test's outcome on the user LED: lit when it passed, dark when not.
pub fn show_outcome(led: &mut impl OutputPin, passed: bool) {
    // An LED that cannot be set is no reason to stop classifying.
    let _ = led.set_state(PinState::from(passed));
}

/// Two quick flashes, then the LED back as it was: "now serving". Short (0.1 s), since
/// in QEMU under `-icount` every millisecond is a million instructions to emulate. Run
/// once: kept out of line, where it costs no flash in `serve`.
#[inline(never)]
fn announce_serving(led: &mut impl OutputPin, delay: &mut impl DelayNs, lit: bool) {
    for _ in 0..2 {
        let _ = led.set_state(PinState::from(!lit));
        delay.delay_ms(25);
        let _ = led.set_state(PinState::from(lit));
        delay.delay_ms(25);
    }
}

/// Logs the stack's high-water mark after the 1st, 2nd, 4th, 8th… reply when it grew:
/// a handful of lines over a whole test set, each scan cheap next to a reply's bytes.
struct StackWatch {
    replies: u32,
    logged: u32,
}

impl StackWatch {
    #[inline(never)]
    fn replied(&mut self) {
        self.replies = self.replies.wrapping_add(1);
        if self.replies.is_power_of_two() {
            let used = stack::used();
            if used > self.logged {
                defmt::info!(
                    "serving: stack_used={=u32} after {=u32} replies",
                    used,
                    self.replies
                );
                self.logged = used;
            }
        }
    }
}

/// Answers requests on `serial` forever: digits, raw tensors, and (a firmware built with
/// an int8 digit model, cfg `nn_learn`) learning requests, whose learner `stopwatch` times. A frame that is oversized, corrupt or not a
/// request gets an error reply (with id 0 when the id could not be read), and the loop
/// resynchronises on the next frame delimiter. The LED, lit or not as [`show_outcome`]
/// left it, flashes twice, then toggles with every reply.
pub fn serve<S: Read<u8> + Write<u8>>(
    serial: &mut S,
    led: &mut impl OutputPin,
    delay: &mut impl DelayNs,
    passed: bool,
    model: &Model,
    stopwatch: &mut impl Stopwatch,
) -> ! {
    announce_serving(led, delay, passed);
    #[cfg(nn_learn)]
    let learning = crate::learn::Learning::take();
    #[cfg(not(nn_learn))]
    let learning = &mut NoLearning;
    defmt::info!("serving requests (frames of at most {=usize} bytes)", FRAME);
    let mut lit = passed;
    let mut watch = StackWatch {
        replies: 0,
        logged: 0,
    };
    let mut frames = FrameReader::<FRAME>::new();
    let mut reply = [0u8; FRAME];
    loop {
        let Ok(byte) = nb::block!(serial.read()) else {
            // A line error (overrun, framing) corrupts the frame; its CRC will say so.
            defmt::warn!("serial read error");
            continue;
        };
        let Some(frame) = frames.push(byte) else {
            continue;
        };
        match answer(model, learning, stopwatch, frame, &mut reply) {
            Ok(bytes) => {
                for &b in bytes.iter() {
                    // A write error is lost with the reply; the host's timeout reports it.
                    let _ = nb::block!(serial.write(b));
                }
            }
            Err(e) => defmt::error!("cannot encode a reply: {}", e),
        }
        lit = !lit;
        let _ = led.set_state(PinState::from(lit));
        watch.replied();
    }
}

/// The reply to one frame, encoded into `reply`: a digit's prediction (by the learned head
/// when there is one), a tensor's output, a learning reply, or the error (with id 0 when the
/// id could not be read).
fn answer<'r>(
    model: &Model,
    learning: &mut Learning,
    stopwatch: &mut impl Stopwatch,
    frame: Result<&mut [u8], FrameError>,
    reply: &'r mut [u8; FRAME],
) -> Result<&'r [u8], nn_core::Error> {
    let (id, error) = match frame.and_then(protocol::decode_any_request) {
        Ok(AnyRequest::Learn(request)) => {
            let mut chunk = [0u8; HEAD_CHUNK];
            match learning.answer(model, &request, stopwatch, &mut chunk) {
                Ok(answer) => {
                    let response = LearnResponse {
                        id: request.id(),
                        reply: answer,
                    };
                    return protocol::encode_learn_response(&response, reply);
                }
                Err(e) => (request.id(), e),
            }
        }
        Ok(AnyRequest::Tensor(request)) => {
            let mut out = [0u8; OUTPUT_BYTES];
            match weights::infer(model, request.element, request.data, &mut out) {
                Ok((element, len)) => {
                    let response = TensorResponse {
                        id: request.id,
                        element,
                        data: out.get(..len).unwrap_or_default(),
                    };
                    return protocol::encode_tensor_response(&response, reply);
                }
                Err(e) => (request.id, e),
            }
        }
        Ok(AnyRequest::Digit(request)) => match digit(model, learning, &request.pixels) {
            Some(prediction) => {
                let response = Response::from_prediction(request.id, &prediction);
                return protocol::encode_response(&response, reply);
            }
            None => (request.id, FrameError::WrongInput),
        },
        Err(e) => (0, e),
    };
    defmt::warn!("bad frame: {}", error);
    let response = Response {
        id,
        body: ResponseBody::Error(error),
    };
    protocol::encode_response(&response, reply)
}

/// A digit request's answer: the learned head's prediction when there is one, else the
/// digit model's; none for any other model.
#[cfg(nn_digits)]
fn digit(
    model: &Model,
    learning: &Learning,
    pixels: &[u8; nn_core::IMAGE_PIXELS],
) -> Option<nn_core::Prediction<{ nn_core::CLASSES }>> {
    #[cfg(nn_learn)]
    if let Some(prediction) = learning.classify(model, pixels) {
        return Some(prediction);
    }
    #[cfg(not(nn_learn))]
    let _ = learning;
    Some(weights::classify(model, pixels))
}

#[cfg(not(nn_digits))]
fn digit(
    _: &Model,
    _: &Learning,
    _: &[u8; nn_core::IMAGE_PIXELS],
) -> Option<nn_core::Prediction<{ nn_core::CLASSES }>> {
    None
}

#[cfg(nn_learn)]
use crate::learn::Learning;

/// A firmware that cannot learn (an f32 model, or one that is no digit classifier) answers
/// every learning request with [`FrameError::CannotLearn`].
#[cfg(not(nn_learn))]
struct NoLearning;

#[cfg(not(nn_learn))]
use NoLearning as Learning;

#[cfg(not(nn_learn))]
impl NoLearning {
    fn answer<'c>(
        &mut self,
        _: &Model,
        _: &protocol::LearnRequest<'_>,
        _: &mut impl Stopwatch,
        _: &'c mut [u8; HEAD_CHUNK],
    ) -> Result<protocol::LearnReply<'c>, FrameError> {
        Err(FrameError::CannotLearn)
    }
}
