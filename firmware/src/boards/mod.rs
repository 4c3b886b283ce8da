//! One small module per board, picked by a cargo feature: its UART, its way of counting
//! work, its way of ending. Each exports the same names: [`Board`] (with `init`,
//! `serve_requested`, and the `serial` and `stopwatch` fields), [`COUNTER_UNIT`] and
//! [`exit`]. The panic and HardFault handlers, shared, end through [`exit`].

#[cfg(all(feature = "qemu-mps2", feature = "nucleo-f411re"))]
compile_error!("pick one board: --no-default-features --features nucleo-f411re for the NUCLEO");

#[cfg(feature = "qemu-mps2")]
mod qemu_mps2;
#[cfg(feature = "qemu-mps2")]
pub use qemu_mps2::{Board, COUNTER_UNIT, exit};

#[cfg(feature = "nucleo-f411re")]
mod nucleo_f411re;
#[cfg(feature = "nucleo-f411re")]
pub use nucleo_f411re::{Board, COUNTER_UNIT, exit};

#[cfg(feature = "pico")]
mod pico;
#[cfg(feature = "pico")]
pub use pico::{Board, COUNTER_UNIT, exit};

use cortex_m_rt::{ExceptionFrame, exception};

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
