//! nRF52840-DK (nRF52840, Cortex-M4F at 64 MHz from the 32 MHz crystal): UARTE0 on
//! P0.08 (RX) and P0.06 (TX), the pins of the on-board J-Link's virtual COM port, at
//! 115200 baud; LED1 on P0.13 (lit when the pin is low); the DWT cycle counter; a spin loop
//! for delays; defmt over RTT (read by `probe-rs run`). embassy-nrf's drivers, used
//! blocking: no executor.

use defmt_rtt as _;
use embassy_nrf::gpio::{Level, Output, OutputDrive};
use embassy_nrf::{bind_interrupts, peripherals, uarte};
use embedded_hal::digital::{ErrorType, OutputPin};
use embedded_hal_nb::serial::{self, ErrorKind};

use super::SpinDelay;
use super::probe::CycleStopwatch;
pub use super::probe::{COUNTER_UNIT, exit};

/// The core clock.
const SYSCLK_MHZ: u32 = 64;

bind_interrupts!(struct Irqs {
    UARTE0 => uarte::InterruptHandler<peripherals::UARTE0>;
});

/// The peripherals the application uses.
pub struct Board {
    /// UARTE0, 115200 baud 8N1, on the J-Link's virtual COM port.
    pub serial: Uart,
    /// The DWT cycle counter.
    pub stopwatch: CycleStopwatch,
    /// LED1 (lit when P0.13 is low).
    pub led: ActiveLow<Output<'static>>,
    /// Spins the core.
    pub delay: SpinDelay,
}

impl Board {
    /// Starts the crystal (UART timing), UARTE0, LED1, the cycle counter.
    pub fn init() -> Self {
        let mut config = embassy_nrf::config::Config::default();
        config.hfclk_source = embassy_nrf::config::HfclkSource::ExternalXtal;
        let p = embassy_nrf::init(config);
        let Some(mut cp) = cortex_m::Peripherals::take() else {
            defmt::panic!("the core peripherals were already taken");
        };
        let mut uart_config = uarte::Config::default();
        uart_config.parity = uarte::Parity::Excluded;
        uart_config.baudrate = uarte::Baudrate::Baud115200;
        let uarte = uarte::Uarte::new(p.UARTE0, p.P0_08, p.P0_06, Irqs, uart_config);
        Self {
            serial: Uart { uarte },
            stopwatch: CycleStopwatch::init(&mut cp.DCB, cp.DWT),
            led: ActiveLow(Output::new(p.P0_13, Level::High, OutputDrive::Standard)),
            delay: SpinDelay { mhz: SYSCLK_MHZ },
        }
    }

    /// The board has no one to ask for a self-test-only run: it always serves.
    pub fn serve_requested(&self) -> bool {
        true
    }
}

/// UARTE0 a byte at a time: each byte is one EasyDMA transfer from or to RAM, which the
/// UARTE's 4-byte receive FIFO bridges. Like the NUCLEO's, a request that arrives while an
/// inference runs overflows it: `device-eval --port` keeps one request in flight.
pub struct Uart {
    uarte: uarte::Uarte<'static>,
}

impl serial::ErrorType for Uart {
    type Error = ErrorKind;
}

fn kind(e: uarte::Error) -> ErrorKind {
    match e {
        uarte::Error::Overrun => ErrorKind::Overrun,
        uarte::Error::Parity => ErrorKind::Parity,
        uarte::Error::Framing => ErrorKind::FrameFormat,
        uarte::Error::Break => ErrorKind::Noise,
        _ => ErrorKind::Other,
    }
}

impl serial::Read<u8> for Uart {
    fn read(&mut self) -> nb::Result<u8, ErrorKind> {
        let mut byte = [0u8];
        self.uarte
            .blocking_read(&mut byte)
            .map_err(|e| nb::Error::Other(kind(e)))?;
        Ok(byte[0])
    }
}

impl serial::Write<u8> for Uart {
    fn write(&mut self, byte: u8) -> nb::Result<(), ErrorKind> {
        // The buffer is on the stack, in RAM, where EasyDMA can read it.
        self.uarte
            .blocking_write(&[byte])
            .map_err(|e| nb::Error::Other(kind(e)))
    }

    fn flush(&mut self) -> nb::Result<(), ErrorKind> {
        // blocking_write returns once the byte is sent.
        Ok(())
    }
}

/// An LED wired between the supply and the pin, as the DK's are: `set_high` lights it
/// (drives the pin low), which is what the application means by it.
pub struct ActiveLow<P>(P);

impl<P: OutputPin> ErrorType for ActiveLow<P> {
    type Error = P::Error;
}

impl<P: OutputPin> OutputPin for ActiveLow<P> {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.set_high()
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.set_low()
    }
}
