//! The stack's high-water mark, measured rather than guessed: at boot [`paint`] fills the
//! free stack (from the end of the statics, cortex-m-rt's `__sheap`, up to the current
//! stack pointer) with a pattern; [`used`] finds the lowest word that no longer holds it
//! and counts from there to the top of the stack (`_stack_start`). What ran before
//! `paint` (the reset handler, `main`'s own frame) is above the painted area, so it
//! counts as used too. A frame that reserves stack and never writes some of it is missed
//! there; that is the method's known blind spot, and why the mark is a lower bound.

use core::ptr::{addr_of, read_volatile, write_volatile};

/// What a word of unused stack holds.
const PAINT: u32 = 0x5AC3_5AC3;

/// Left unpainted below the stack pointer `paint` reads: the compiler may read it before
/// `paint`'s own frame is pushed (it does), and that frame must survive. The first calls
/// after `paint` use these bytes anyway, so the mark loses nothing.
const MARGIN: usize = 256;

unsafe extern "C" {
    /// The top of the stack (cortex-m-rt's linker script): the stack grows down from here.
    static _stack_start: u32;
    /// The first address after the statics (cortex-m-rt's linker script), where a heap
    /// would start: the lowest address the stack may reach.
    static __sheap: u32;
}

fn bounds() -> (usize, usize) {
    // Only the symbols' addresses are taken; nothing is read through them.
    (addr_of!(__sheap) as usize, addr_of!(_stack_start) as usize)
}

/// Fills the stack below the current stack pointer (less [`MARGIN`]) with the pattern.
/// Call it first in `main`, once.
#[inline(never)]
pub fn paint() {
    let (bottom, _) = bounds();
    let end = (cortex_m::register::msp::read() as usize).saturating_sub(MARGIN);
    let mut at = bottom;
    while at + 4 <= end {
        // Safety: [bottom, end) is RAM that the linker left to the stack and that holds
        // no live frame: it lies MARGIN bytes below the stack pointer, under this
        // function's own frame, and nothing else runs meanwhile.
        unsafe { write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// The stack used so far, in bytes: from the lowest word no longer holding the pattern to
/// the top of the stack. Scans up from the bottom: cost proportional to the unused part.
pub fn used() -> u32 {
    let (bottom, top) = bounds();
    let mut at = bottom;
    // Safety: reads of RAM between the statics and the top of the stack, word-aligned
    // (cortex-m-rt aligns both symbols to 4 and 8 bytes); reading never changes it.
    while at < top && unsafe { read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    (top - at) as u32
}
