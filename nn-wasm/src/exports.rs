//! The functions the page's JavaScript calls (`www/app.js`), with plain numbers and pointers
//! into this module's memory: no wasm-bindgen, no JS toolchain.
//!
//! ```text
//! model_buffer(len) -> ptr     room for a model file of len bytes (0 if memory cannot grow)
//! load_model(len) -> 0 | -1    validates the bytes written there; -1: see message_*
//! canvas_buffer() -> ptr       CANVAS × CANVAS × 4 bytes of RGBA, written by the page
//! classify(w, h) -> class | -1 preprocesses the canvas and runs the model; -1: see message_*
//! pixels() -> ptr              the 28 × 28 the model saw (784 bytes)
//! probabilities() -> ptr       one probability (f32) per output of the model
//! class_name_ptr(k), class_name_len(k)   class k's UTF-8 name (length 0: none)
//! model_outputs() -> n, model_hidden() -> n, model_is_int8() -> 0 | 1
//! message_ptr(), message_len()           the last error, UTF-8
//!
//! teach (`teach.rs`): examples are RECORDs (the label, then the 28 × 28)
//! keep_example(label) -> n | -1  keeps the 28 × 28 of the last classify as an example of label
//! remove_example(i) -> n | -1    drops example i; the later ones move up
//! example_count() -> n, examples_ptr() -> ptr   the kept examples, one record after another
//! set_examples(n) -> n | -1      takes the n records written at examples_ptr() (a worker's copy)
//! replay_ptr() -> ptr, set_replay(n) -> n | -1  room for MAX_REPLAY records; takes n of them
//! max_examples(), max_replay()   MAX_EXAMPLES, MAX_REPLAY
//! learn() -> 0 | -1              learns from the loaded model (see teach::learn); -1: see message_*
//! learned_held_out(), learned_before(), learned_after(), learned_steps()   what learn measured
//! tuned_ptr(), tuned_len()       the tuned model file learn wrote (length 0: none)
//! ```
//!
//! A wasm module runs on one thread, and these functions never call each other, so each one
//! is the only code touching the state while it runs.

use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::fmt::Write;

use nn_core::preprocess::{self, scratch_len};
use nn_core::{CLASSES, IMAGE_PIXELS};

use crate::teach::{self, MAX_EXAMPLES, MAX_REPLAY, Outcome, RECORD};
use crate::{CANVAS, Model, Work, canvas_to_grey};

/// Everything the page's calls share.
struct State {
    canvas: [u8; CANVAS * CANVAS * 4],
    grey: [f32; CANVAS * CANVAS],
    scratch: [f32; scratch_len(CANVAS, CANVAS)],
    pixels: [u8; IMAGE_PIXELS],
    /// Whether `pixels` are a drawing the last classify read (not a blank canvas).
    classified: bool,
    probabilities: [f32; CLASSES],
    work: Work,
    /// First page of the model buffer (0: none yet).
    model_page: usize,
    examples: [u8; MAX_EXAMPLES * RECORD],
    example_count: usize,
    replay: [u8; MAX_REPLAY * RECORD],
    replay_count: usize,
    /// First page of learn's memory (0: none), and its pages: after the model buffer, which
    /// may take it over (`model_buffer` then forgets it).
    teach_page: usize,
    teach_pages: usize,
    outcome: Outcome,
    /// Where learn wrote the tuned file (`outcome.file_len` bytes).
    tuned_at: usize,
    message: [u8; 256],
    message_len: usize,
}

/// A static for one thread.
struct Shared<T>(UnsafeCell<T>);

// Safety: wasm32-unknown-unknown without the atomics feature runs one thread; nothing is
// ever shared between threads.
unsafe impl<T> Sync for Shared<T> {}

/// The buffers: all zero, so they take no room in the module file (unlike the model's
/// `Option`, whose `None` is not all zero bytes, and lives apart in [`MODEL`]).
static STATE: Shared<State> = Shared(UnsafeCell::new(State {
    canvas: [0; CANVAS * CANVAS * 4],
    grey: [0.0; CANVAS * CANVAS],
    scratch: [0.0; scratch_len(CANVAS, CANVAS)],
    pixels: [0; IMAGE_PIXELS],
    classified: false,
    probabilities: [0.0; CLASSES],
    work: Work::ZERO,
    model_page: 0,
    examples: [0; MAX_EXAMPLES * RECORD],
    example_count: 0,
    replay: [0; MAX_REPLAY * RECORD],
    replay_count: 0,
    teach_page: 0,
    teach_pages: 0,
    tuned_at: 0,
    outcome: Outcome {
        held_out: 0,
        before: 0,
        after: 0,
        steps: 0,
        file_len: 0,
    },
    message: [0; 256],
    message_len: 0,
}));

/// The loaded model.
static MODEL: Shared<Option<Model<'static>>> = Shared(UnsafeCell::new(None));

/// The state and the model.
fn state() -> (&'static mut State, &'static mut Option<Model<'static>>) {
    // Safety: one thread (see `Shared`), and each exported function takes these references
    // once and drops them on return, so no two references to either are alive at once.
    unsafe { (&mut *STATE.0.get(), &mut *MODEL.0.get()) }
}

const PAGE: usize = 65_536;

/// A message cut to the buffer (at a UTF-8 boundary).
struct Message<'a> {
    buf: &'a mut [u8; 256],
    len: usize,
}

impl Write for Message<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            let mut b = [0u8; 4];
            let b = c.encode_utf8(&mut b).as_bytes();
            if self.len + b.len() > self.buf.len() {
                break;
            }
            self.buf[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
        }
        Ok(())
    }
}

fn fail(s: &mut State, error: &dyn core::fmt::Display) -> i32 {
    let mut m = Message {
        buf: &mut s.message,
        len: 0,
    };
    let _ = write!(m, "{error}");
    s.message_len = m.len;
    -1
}

/// Room for a model file of `len` bytes, page-aligned, after everything else in memory; the
/// loaded model is dropped first, as its bytes are about to be overwritten. 0 when memory
/// cannot grow that far.
#[unsafe(no_mangle)]
pub extern "C" fn model_buffer(len: usize) -> *mut u8 {
    let (s, model) = state();
    *model = None;
    // The model buffer may grow over learn's memory, and the tuned file in it.
    s.teach_page = 0;
    s.outcome.file_len = 0;
    if s.model_page == 0 {
        s.model_page = wasm32::memory_size(0);
    }
    let have = wasm32::memory_size(0) - s.model_page;
    let need = len.div_ceil(PAGE);
    if need > have && wasm32::memory_grow(0, need - have) == usize::MAX {
        return core::ptr::null_mut();
    }
    (s.model_page * PAGE) as *mut u8
}

/// Validates the `len` bytes the page wrote at [`model_buffer`]; 0, or -1 with the decoder's
/// message.
#[unsafe(no_mangle)]
pub extern "C" fn load_model(len: usize) -> i32 {
    let (s, model) = state();
    *model = None;
    if s.model_page == 0 || len > (wasm32::memory_size(0) - s.model_page) * PAGE {
        return fail(s, &"no model buffer of that size: call model_buffer first");
    }
    // Safety: the buffer spans at least `len` bytes of this module's memory (checked above),
    // which never shrinks; only `model_buffer` hands it out again, and it drops the model that
    // borrows it first.
    let bytes = unsafe { core::slice::from_raw_parts((s.model_page * PAGE) as *const u8, len) };
    match Model::load(bytes) {
        Ok(loaded) => {
            *model = Some(loaded);
            0
        }
        Err(e) => fail(s, &e),
    }
}

/// Where the page writes the canvas's RGBA bytes (`CANVAS × CANVAS × 4`).
#[unsafe(no_mangle)]
pub extern "C" fn canvas_buffer() -> *mut u8 {
    state().0.canvas.as_mut_ptr()
}

/// Preprocesses the `width × height` canvas (at most `CANVAS × CANVAS` pixels) and runs the
/// model: the class, or -1 with a message (no model, blank canvas).
#[unsafe(no_mangle)]
pub extern "C" fn classify(width: usize, height: usize) -> i32 {
    let (s, model) = state();
    let Some(model) = *model else {
        return fail(s, &"no model loaded");
    };
    let n = width.saturating_mul(height);
    if n > CANVAS * CANVAS {
        return fail(s, &"the canvas is larger than the page's buffer");
    }
    s.classified = false;
    canvas_to_grey(&s.canvas[..4 * n], &mut s.grey[..n]);
    if let Err(e) = preprocess::preprocess(
        &mut s.grey[..n],
        width,
        height,
        &mut s.scratch,
        &mut s.pixels,
    ) {
        s.pixels = [0; IMAGE_PIXELS];
        return fail(s, &e);
    }
    match model.predict(&s.pixels, &mut s.work, &mut s.probabilities) {
        Ok(class) => {
            s.classified = true;
            class as i32
        }
        Err(e) => fail(s, &e),
    }
}

/// Keeps the 28 × 28 of the last [`classify`] as an example of `label`: the examples kept,
/// or -1 with a message (nothing drawn, a label over 9, [`MAX_EXAMPLES`] kept).
#[unsafe(no_mangle)]
pub extern "C" fn keep_example(label: u32) -> i32 {
    let s = state().0;
    if !s.classified {
        return fail(s, &"draw a digit first");
    }
    let label = match u8::try_from(label) {
        Ok(l) if usize::from(l) < CLASSES => l,
        _ => return fail(s, &"a digit is 0 to 9"),
    };
    if s.example_count == MAX_EXAMPLES {
        return fail(s, &"the page keeps no more examples: remove some");
    }
    let r = &mut s.examples[s.example_count * RECORD..(s.example_count + 1) * RECORD];
    r[0] = label;
    r[1..].copy_from_slice(&s.pixels);
    s.example_count += 1;
    s.example_count as i32
}

/// Drops example `i`: the examples left, or -1 with a message.
#[unsafe(no_mangle)]
pub extern "C" fn remove_example(i: usize) -> i32 {
    let s = state().0;
    if i >= s.example_count {
        return fail(s, &"no such example");
    }
    s.examples
        .copy_within((i + 1) * RECORD..s.example_count * RECORD, i * RECORD);
    s.example_count -= 1;
    s.example_count as i32
}

/// The most examples [`keep_example`] and [`set_examples`] take.
#[unsafe(no_mangle)]
pub extern "C" fn max_examples() -> usize {
    MAX_EXAMPLES
}

/// The most replay examples [`set_replay`] takes.
#[unsafe(no_mangle)]
pub extern "C" fn max_replay() -> usize {
    MAX_REPLAY
}

/// The examples kept.
#[unsafe(no_mangle)]
pub extern "C" fn example_count() -> usize {
    state().0.example_count
}

/// The kept examples, [`example_count`] records one after another; room for
/// [`MAX_EXAMPLES`] (see [`set_examples`]).
#[unsafe(no_mangle)]
pub extern "C" fn examples_ptr() -> *mut u8 {
    state().0.examples.as_mut_ptr()
}

/// Takes the `n` records written at [`examples_ptr`] as the kept examples: `n`, or -1 with a
/// message (more than [`MAX_EXAMPLES`], a label over 9).
#[unsafe(no_mangle)]
pub extern "C" fn set_examples(n: usize) -> i32 {
    let s = state().0;
    s.example_count = 0;
    match check_records(&s.examples, n, MAX_EXAMPLES) {
        Ok(()) => {
            s.example_count = n;
            n as i32
        }
        Err(e) => fail(s, &e),
    }
}

/// Room for [`MAX_REPLAY`] replay records (see [`set_replay`]).
#[unsafe(no_mangle)]
pub extern "C" fn replay_ptr() -> *mut u8 {
    state().0.replay.as_mut_ptr()
}

/// Takes the `n` records written at [`replay_ptr`] as the replay examples: `n`, or -1 with
/// a message.
#[unsafe(no_mangle)]
pub extern "C" fn set_replay(n: usize) -> i32 {
    let s = state().0;
    s.replay_count = 0;
    match check_records(&s.replay, n, MAX_REPLAY) {
        Ok(()) => {
            s.replay_count = n;
            n as i32
        }
        Err(e) => fail(s, &e),
    }
}

/// Records `..n` of `buf` are at most `max`, each labelled 0–9.
fn check_records(buf: &[u8], n: usize, max: usize) -> Result<(), &'static str> {
    if n > max {
        return Err("more examples than the page holds");
    }
    if buf[..n * RECORD]
        .chunks_exact(RECORD)
        .any(|r| usize::from(r[0]) >= CLASSES)
    {
        return Err("an example's label is not a digit 0 to 9");
    }
    Ok(())
}

/// Learns from the loaded model on the kept and the replay examples (`teach::learn`): 0, or
/// -1 with a message. The tuned file is then at [`tuned_ptr`].
#[unsafe(no_mangle)]
pub extern "C" fn learn() -> i32 {
    let (s, model) = state();
    s.outcome = Outcome::default();
    let Some(model) = *model else {
        return fail(s, &"no model loaded");
    };
    let (words, bytes) = match teach::needs(model.file(), s.replay_count) {
        Ok(n) => n,
        Err(e) => return fail(s, &e),
    };
    let need = (4 * words + bytes).div_ceil(PAGE);
    if s.teach_page == 0 || s.teach_pages < need {
        let page = wasm32::memory_grow(0, need);
        if page == usize::MAX {
            return fail(s, &"not enough memory to learn this model");
        }
        (s.teach_page, s.teach_pages) = (page, need);
    }
    let base = s.teach_page * PAGE;
    // Safety: pages `teach_page..teach_page + teach_pages` were grown for learn alone (after
    // everything else; `model_buffer` forgets them before it could reuse them), they are
    // page-aligned for f32, and these are the only references to them while learn runs.
    let (words, out) = unsafe {
        (
            core::slice::from_raw_parts_mut(base as *mut f32, words),
            core::slice::from_raw_parts_mut((base + 4 * words) as *mut u8, bytes),
        )
    };
    let examples = &s.examples[..s.example_count * RECORD];
    let replay = &s.replay[..s.replay_count * RECORD];
    match teach::learn(model.file(), examples, replay, words, &mut s.work, out) {
        Ok(outcome) => {
            s.outcome = outcome;
            s.tuned_at = base + 4 * words.len();
            0
        }
        Err(e) => fail(s, &e),
    }
}

/// Kept examples the last [`learn`] held out of its first run.
#[unsafe(no_mangle)]
pub extern "C" fn learned_held_out() -> usize {
    state().0.outcome.held_out
}

/// Of those, read right by the served model.
#[unsafe(no_mangle)]
pub extern "C" fn learned_before() -> usize {
    state().0.outcome.before
}

/// Of those, read right after the first run.
#[unsafe(no_mangle)]
pub extern "C" fn learned_after() -> usize {
    state().0.outcome.after
}

/// Steps of the last [`learn`]'s second run.
#[unsafe(no_mangle)]
pub extern "C" fn learned_steps() -> u32 {
    state().0.outcome.steps
}

/// The tuned model file of the last [`learn`] ([`tuned_len`] bytes).
#[unsafe(no_mangle)]
pub extern "C" fn tuned_ptr() -> *const u8 {
    state().0.tuned_at as *const u8
}

/// Its length in bytes (0: none).
#[unsafe(no_mangle)]
pub extern "C" fn tuned_len() -> usize {
    state().0.outcome.file_len
}

/// The 28 × 28 of the last [`classify`].
#[unsafe(no_mangle)]
pub extern "C" fn pixels() -> *const u8 {
    state().0.pixels.as_ptr()
}

/// The probabilities of the last [`classify`], [`model_outputs`] of them.
#[unsafe(no_mangle)]
pub extern "C" fn probabilities() -> *const f32 {
    state().0.probabilities.as_ptr()
}

/// Class `k`'s name in the loaded model (see [`class_name_len`]).
#[unsafe(no_mangle)]
pub extern "C" fn class_name_ptr(k: usize) -> *const u8 {
    state()
        .1
        .and_then(|m| m.class_name(k))
        .map_or(core::ptr::null(), str::as_ptr)
}

/// The length of class `k`'s name in bytes; 0 when the model has none.
#[unsafe(no_mangle)]
pub extern "C" fn class_name_len(k: usize) -> usize {
    state().1.and_then(|m| m.class_name(k)).map_or(0, str::len)
}

/// The loaded model's outputs (0: none loaded). A file with class names may name fewer (a
/// model trained on fewer classes): those are the classes the page shows.
#[unsafe(no_mangle)]
pub extern "C" fn model_outputs() -> usize {
    state().1.map_or(0, |m| m.outputs())
}

/// The loaded model's hidden units (0: none loaded).
#[unsafe(no_mangle)]
pub extern "C" fn model_hidden() -> usize {
    state().1.map_or(0, |m| m.describe().1)
}

/// 1 for an int8 model, 0 for f32 (or none).
#[unsafe(no_mangle)]
pub extern "C" fn model_is_int8() -> i32 {
    i32::from(state().1.is_some_and(|m| m.describe().0 == "int8"))
}

/// The last error message.
#[unsafe(no_mangle)]
pub extern "C" fn message_ptr() -> *const u8 {
    state().0.message.as_ptr()
}

/// Its length in bytes.
#[unsafe(no_mangle)]
pub extern "C" fn message_len() -> usize {
    state().0.message_len
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // Nothing here panics on any input (nn-core's decoder and preprocessing are fuzzed);
    // should it, the page sees a trap ("unreachable") in the console.
    wasm32::unreachable()
}
