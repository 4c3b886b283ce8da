//! Raspberry Pi Pico 2 (RP2350, Cortex-M33 with FPU and DSP, at 150 MHz from the 12 MHz
//! crystal): UART0 on GP0 (TX) and GP1 (RX) at 115200 baud, to a USB-serial adapter or the
//! Raspberry Pi Debug Probe's UART; the LED on GP25; the DWT cycle counter; a spin loop for
//! delays; defmt over RTT (read by `probe-rs run` through a debug probe on the SWD pins).

use defmt_rtt as _;
use rp235x_hal::{
    self as hal, Clock,
    fugit::RateExtU32,
    gpio::{self, bank0},
    pac,
    uart::{self, DataBits, StopBits, UartConfig, UartPeripheral},
};

use super::SpinDelay;
use super::probe::CycleStopwatch;
pub use super::probe::{COUNTER_UNIT, exit};

/// Tells the RP2350's boot ROM this is a secure Arm executable: the ROM looks for it in
/// the first 4 KiB of flash (`boards/pico2.x` puts `.start_block` there).
#[unsafe(link_section = ".start_block")]
#[used]
pub static IMAGE_DEF: hal::block::ImageDef = hal::block::ImageDef::secure_exe();

/// The crystal on the Pico 2.
const XTAL_HZ: u32 = 12_000_000;

type UartPins = (
    gpio::Pin<bank0::Gpio0, gpio::FunctionUart, gpio::PullDown>,
    gpio::Pin<bank0::Gpio1, gpio::FunctionUart, gpio::PullDown>,
);

/// The peripherals the application uses.
pub struct Board {
    /// UART0, 115200 baud 8N1, on GP0 (TX) and GP1 (RX).
    pub serial: UartPeripheral<uart::Enabled, pac::UART0, UartPins>,
    /// The DWT cycle counter.
    pub stopwatch: CycleStopwatch,
    /// The green LED on GP25 (lit when high).
    pub led: gpio::Pin<bank0::Gpio25, gpio::FunctionSioOutput, gpio::PullDown>,
    /// Spins the core.
    pub delay: SpinDelay,
}

impl Board {
    /// Clocks the core at 150 MHz and sets up UART0, the LED, the cycle counter.
    pub fn init() -> Self {
        let (Some(mut dp), Some(mut cp)) =
            (pac::Peripherals::take(), cortex_m::Peripherals::take())
        else {
            defmt::panic!("the peripherals were already taken");
        };
        let mut watchdog = hal::Watchdog::new(dp.WATCHDOG);
        let Ok(clocks) = hal::clocks::init_clocks_and_plls(
            XTAL_HZ,
            dp.XOSC,
            dp.CLOCKS,
            dp.PLL_SYS,
            dp.PLL_USB,
            &mut dp.RESETS,
            &mut watchdog,
        ) else {
            defmt::panic!("the crystal or a PLL did not start");
        };
        let sio = hal::Sio::new(dp.SIO);
        let pins = gpio::Pins::new(dp.IO_BANK0, dp.PADS_BANK0, sio.gpio_bank0, &mut dp.RESETS);
        let uart_pins = (pins.gpio0.into_function(), pins.gpio1.into_function());
        let config = UartConfig::new(115_200.Hz(), DataBits::Eight, None, StopBits::One);
        let serial = match UartPeripheral::new(dp.UART0, uart_pins, &mut dp.RESETS)
            .enable(config, clocks.peripheral_clock.freq())
        {
            Ok(serial) => serial,
            Err(_) => defmt::panic!("UART0 cannot run at 115200 baud from these clocks"),
        };
        let mhz = clocks.system_clock.freq().to_MHz();
        Self {
            serial,
            stopwatch: CycleStopwatch::init(&mut cp.DCB, cp.DWT),
            led: pins.gpio25.into_push_pull_output(),
            delay: SpinDelay { mhz },
        }
    }

    /// The board has no one to ask for a self-test-only run: it always serves.
    pub fn serve_requested(&self) -> bool {
        true
    }
}
