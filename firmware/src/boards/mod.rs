//! One small module per board, picked by a cargo feature: its UART, its user LED, its
//! delay, its way of counting work, its way of ending. Each exports the same names:
//! [`Board`] (with `init`, `serve_requested`, and the fields `serial`
//! (`embedded_hal_nb::serial::Read + Write`), `stopwatch` (`stopwatch::Stopwatch`), `led`
//! (`embedded_hal::digital::OutputPin`, `set_high` lights it) and `delay`
//! (`embedded_hal::delay::DelayNs`: [`SpinDelay`], or on the Pico the RP2040's timer)), [`COUNTER_UNIT`] and [`exit`]. The panic and
//! HardFault handlers, shared, end through [`exit`]. The boards run under a debug probe
//! share [`probe`]. Which board goes with which target, memory file and alias: README.md,
//! "Boards", and build.rs's `BOARDS` (which also makes sure exactly one is picked).

#[cfg(any(feature = "nucleo-f411re", feature = "nrf52840dk", feature = "pico2"))]
mod probe;

#[cfg(feature = "qemu-mps2")]
mod qemu_mps2;
#[cfg(feature = "qemu-mps2")]
pub use qemu_mps2::{Board, COUNTER_UNIT, exit};

#[cfg(feature = "nucleo-f411re")]
mod nucleo_f411re;
#[cfg(feature = "nucleo-f411re")]
pub use nucleo_f411re::{Board, COUNTER_UNIT, exit};

#[cfg(feature = "nrf52840dk")]
mod nrf52840dk;
#[cfg(feature = "nrf52840dk")]
pub use nrf52840dk::{Board, COUNTER_UNIT, exit};

#[cfg(feature = "pico2")]
mod pico2;
#[cfg(feature = "pico2")]
pub use pico2::{Board, COUNTER_UNIT, exit};

#[cfg(feature = "pico")]
mod pico;
#[cfg(feature = "pico")]
pub use pico::{Board, COUNTER_UNIT, exit};

#[cfg(any(feature = "qemu-mps2", feature = "pico"))]
use cortex_m::peripheral::{SYST, syst::SystClkSource};
use cortex_m_rt::{ExceptionFrame, exception};
#[cfg(not(feature = "pico"))]
use embedded_hal::delay::DelayNs;

/// SysTick counting down from 2^24 at the core clock, for the cores without a DWT cycle
/// counter (the M0+) and for QEMU, whose DWT reads 0. Each tick is `per_tick` of the
/// board's [`COUNTER_UNIT`]: 1 cycle on the Pico; 40 instructions in QEMU at 25 MHz under
/// `-icount shift=0`, where an instruction is one nanosecond of virtual time.
#[cfg(any(feature = "qemu-mps2", feature = "pico"))]
pub struct SysTickStopwatch {
    _syst: SYST,
    per_tick: u32,
}

#[cfg(any(feature = "qemu-mps2", feature = "pico"))]
impl SysTickStopwatch {
    const MASK: u32 = 0x00FF_FFFF;

    /// Starts SysTick free-running from its largest reload, its exception counting wraps
    /// for [`crate::stopwatch::Stopwatch::measure_long`].
    pub fn init(mut syst: SYST, per_tick: u32) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(Self::MASK);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Self {
            _syst: syst,
            per_tick,
        }
    }
}

#[cfg(any(feature = "qemu-mps2", feature = "pico"))]
impl crate::stopwatch::Stopwatch for SysTickStopwatch {
    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> (T, u32) {
        let start = SYST::get_current();
        let value = f();
        let end = SYST::get_current();
        // Counts down, wrapping at 2^24 ticks (134 ms at 125 MHz, 671 M instructions in
        // QEMU): far above one call.
        let ticks = start.wrapping_sub(end) & Self::MASK;
        (value, ticks * self.per_tick)
    }

    #[cfg(nn_learn)]
    fn measure_long<T>(&mut self, f: impl FnOnce() -> T) -> (T, u64) {
        let (start_wraps, start) = wraps_and_current();
        // QEMU's board runs with PRIMASK set, which would hold SysTick's exception back.
        #[cfg(feature = "qemu-mps2")]
        let value = qemu_mps2::with_systick(f);
        #[cfg(not(feature = "qemu-mps2"))]
        let value = f();
        let (end_wraps, end) = wraps_and_current();
        let period = u64::from(Self::MASK) + 1;
        let ticks = u64::from(end_wraps.wrapping_sub(start_wraps)) * period + u64::from(start)
            - u64::from(end);
        (value, ticks * u64::from(self.per_tick))
    }
}

/// SysTick's wraps since boot: its exception's only job. Only the exception writes it, so
/// a load and a store do (the M0+ has no atomic read-modify-write).
#[cfg(any(feature = "qemu-mps2", feature = "pico"))]
static WRAPS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

#[cfg(any(feature = "qemu-mps2", feature = "pico"))]
#[exception]
fn SysTick() {
    use core::sync::atomic::Ordering::Relaxed;
    WRAPS.store(WRAPS.load(Relaxed).wrapping_add(1), Relaxed);
}

/// The wrap count and SysTick's current value, read as one: again if a wrap came between.
#[cfg(all(nn_learn, any(feature = "qemu-mps2", feature = "pico")))]
fn wraps_and_current() -> (u32, u32) {
    use core::sync::atomic::Ordering::Relaxed;
    loop {
        let wraps = WRAPS.load(Relaxed);
        let current = SYST::get_current();
        if WRAPS.load(Relaxed) == wraps {
            return (wraps, current);
        }
    }
}

/// Delays by spinning the core for the cycles the time takes at the board's clock,
/// `cortex_m::asm::delay` (at least that many cycles: flash wait states only lengthen
/// it). Used for the LED's flashes, where that is exact enough; it needs no timer, and in
/// QEMU no timer reads, which are slow to emulate under `-icount` (0.1 s of polling
/// SysTick took QEMU more than 15 s here).
#[cfg(not(feature = "pico"))]
pub struct SpinDelay {
    /// The core clock in MHz.
    pub mhz: u32,
}

#[cfg(not(feature = "pico"))]
impl DelayNs for SpinDelay {
    fn delay_ns(&mut self, ns: u32) {
        // Whole microseconds, then the rest: no overflow for any `ns` below 2^32 at any
        // clock below 4 GHz.
        let cycles = (ns / 1000) * self.mhz + (ns % 1000 * self.mhz).div_ceil(1000);
        cortex_m::asm::delay(cycles);
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!(
        "HardFault at pc={=u32:#010x} lr={=u32:#010x}",
        frame.pc(),
        frame.lr()
    );
    exit(false)
}
