//! Raspberry Pi Pico (RP2040, Cortex-M0+ at 125 MHz from its 12 MHz crystal, no FPU):
//! UART0 on GP0 (TX) / GP1 (RX) at 115200 baud, SysTick counting core cycles, the LED on
//! GP25, the RP2040 timer for delays, defmt over RTT.
//!
//! The same binary runs in rp2040js (`scripts/rp2040js/run.mjs`), which has no boot ROM:
//! the script loads the ELF and starts at the vector table after boot2. It talks to the
//! firmware through two watchdog scratch registers, which nothing else here uses and which
//! read 0 after a power-on: [`SELF_TEST_ONLY`] in SCRATCH0 (written by the script before
//! boot) asks for the self-test alone, and [`exit`] writes its status to SCRATCH1, which
//! the script turns into its exit code. On a real Pico SCRATCH0 is 0, so it always serves.

use core::ptr::write_volatile;

use defmt_rtt as _;
use rp2040_hal::{
    self as hal, Clock,
    fugit::RateExtU32,
    gpio::{self, FunctionSioOutput, FunctionUart, PullDown, PullNone},
    pac,
    uart::{DataBits, StopBits, UartConfig, UartPeripheral},
};

use super::SysTickStopwatch;

/// The second-stage bootloader for the Pico's W25Q080 flash, at the start of flash (the
/// boot ROM copies it to RAM and runs it; it sets up execute-in-place and jumps to the
/// vector table after it).
#[unsafe(link_section = ".boot2")]
#[used]
pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

/// What the stopwatch counts here.
pub const COUNTER_UNIT: &str = "cycles";

/// The Pico's crystal.
const XOSC_HZ: u32 = 12_000_000;
/// The UART's speed, as `host-trainer device-eval --port` opens it.
const BAUD: u32 = 115_200;
/// WATCHDOG SCRATCH0 holding this asks for the self-test alone (rp2040js's `--self-test`).
pub const SELF_TEST_ONLY: u32 = 0x5E1F_7E57;
/// WATCHDOG SCRATCH1: [`exit`] writes `EXIT_TAG | status` (0 passed, 1 failed) here.
const SCRATCH1: *mut u32 = 0x4005_8010 as *mut u32;
const EXIT_TAG: u32 = 0xE71D_0000;

/// UART0 with TX on GP0 and RX on GP1.
pub type Serial = UartPeripheral<
    hal::uart::Enabled,
    pac::UART0,
    (
        gpio::Pin<gpio::bank0::Gpio0, FunctionUart, PullNone>,
        gpio::Pin<gpio::bank0::Gpio1, FunctionUart, PullNone>,
    ),
>;

/// The user LED on GP25.
pub type Led = gpio::Pin<gpio::bank0::Gpio25, FunctionSioOutput, PullDown>;

/// The peripherals the application uses.
pub struct Board {
    /// UART0, 115200 baud 8N1, on GP0 (TX) and GP1 (RX).
    pub serial: Serial,
    /// SysTick at the core clock: cycles.
    pub stopwatch: SysTickStopwatch,
    /// The green LED next to the USB socket (GP25).
    pub led: Led,
    /// The RP2040's 1 MHz timer (`embedded_hal::delay::DelayNs`).
    pub delay: hal::Timer,
    self_test_only: bool,
}

impl Board {
    /// Clocks the core at 125 MHz from the crystal and sets up UART0, the LED, the timer
    /// and SysTick.
    pub fn init() -> Self {
        // Safety: first thing in main, before any spinlock or critical section: a warm
        // reset (a debugger's, or the watchdog's) can leave a spinlock taken.
        unsafe { hal::sio::spinlock_reset() };
        let (Some(mut pac), Some(core)) = (pac::Peripherals::take(), cortex_m::Peripherals::take())
        else {
            defmt::panic!("the peripherals were already taken");
        };
        let self_test_only = pac.WATCHDOG.scratch0().read().bits() == SELF_TEST_ONLY;
        let mut watchdog = hal::Watchdog::new(pac.WATCHDOG);
        let Ok(clocks) = hal::clocks::init_clocks_and_plls(
            XOSC_HZ,
            pac.XOSC,
            pac.CLOCKS,
            pac.PLL_SYS,
            pac.PLL_USB,
            &mut pac.RESETS,
            &mut watchdog,
        ) else {
            defmt::panic!("the clocks did not start from the 12 MHz crystal");
        };
        let sio = hal::Sio::new(pac.SIO);
        let pins = gpio::Pins::new(
            pac.IO_BANK0,
            pac.PADS_BANK0,
            sio.gpio_bank0,
            &mut pac.RESETS,
        );
        let uart_pins = (pins.gpio0.reconfigure(), pins.gpio1.reconfigure());
        let config = UartConfig::new(BAUD.Hz(), DataBits::Eight, None, StopBits::One);
        let Ok(serial) = UartPeripheral::new(pac.UART0, uart_pins, &mut pac.RESETS)
            .enable(config, clocks.peripheral_clock.freq())
        else {
            defmt::panic!("UART0 cannot run at 115200 baud from these clocks");
        };
        Self {
            serial,
            stopwatch: SysTickStopwatch::init(core.SYST, 1),
            led: pins.gpio25.into_push_pull_output(),
            delay: hal::Timer::new(pac.TIMER, &mut pac.RESETS, &clocks),
            self_test_only,
        }
    }

    /// True unless rp2040js asked for the self-test alone: a real Pico always serves.
    pub fn serve_requested(&self) -> bool {
        !self.self_test_only
    }
}

/// Ends the program: the status goes to WATCHDOG SCRATCH1, where rp2040js reads it (0 for
/// `true`, 1 for `false`) and exits; on a real Pico the core then sleeps.
pub fn exit(success: bool) -> ! {
    if success {
        defmt::info!("done");
    } else {
        defmt::error!("stopped on an error");
    }
    // Safety: a write to a watchdog scratch register, plain storage that nothing else in
    // this firmware uses.
    unsafe { write_volatile(SCRATCH1, EXIT_TAG | u32::from(!success)) };
    loop {
        cortex_m::asm::wfi();
    }
}
