//! What the boards run under a debug probe share (NUCLEO-F411RE, nRF52840-DK, Pico 2):
//! the DWT cycle counter as the stopwatch and an `exit` that stops in the debugger.

use cortex_m::peripheral::{DCB, DWT};

use crate::stopwatch::Stopwatch;

/// What the stopwatch counts on these boards.
pub const COUNTER_UNIT: &str = "cycles";

/// Stops in the debugger (`probe-rs run` then ends, showing the log), or halts here.
pub fn exit(success: bool) -> ! {
    if success {
        defmt::info!("done");
    } else {
        defmt::error!("stopped on an error");
    }
    // Without a debugger a breakpoint would fault; then just halt.
    if DCB::is_debugger_attached() {
        cortex_m::asm::bkpt();
    }
    loop {
        cortex_m::asm::wfi();
    }
}

/// The DWT cycle counter (32 bits: wraps after 43 s at 100 MHz, 28 s at 150 MHz).
pub struct CycleStopwatch {
    _dwt: DWT,
}

impl CycleStopwatch {
    /// Starts the cycle counter (trace must be on for DWT to count).
    pub fn init(dcb: &mut DCB, mut dwt: DWT) -> Self {
        dcb.enable_trace();
        dwt.enable_cycle_counter();
        Self { _dwt: dwt }
    }
}

impl Stopwatch for CycleStopwatch {
    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> (T, u32) {
        let start = DWT::cycle_count();
        let value = f();
        (value, DWT::cycle_count().wrapping_sub(start))
    }
}
