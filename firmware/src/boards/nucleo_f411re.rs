//! NUCLEO-F411RE (STM32F411RE at 100 MHz from the ST-LINK's 8 MHz clock): USART2 on
//! PA2/PA3, the ST-LINK's virtual COM port, at 115200 baud; the user LED LD2 on PA5; the
//! DWT cycle counter; a spin loop for delays; defmt over RTT (read by `probe-rs run`).

use defmt_rtt as _;
use stm32f4xx_hal::{
    gpio::{Output, PA5},
    pac,
    prelude::*,
    rcc,
    serial::{self, Serial},
};

use super::SpinDelay;
use super::probe::CycleStopwatch;
pub use super::probe::{COUNTER_UNIT, exit};

/// The core clock.
const SYSCLK_MHZ: u32 = 100;

/// The peripherals the application uses.
pub struct Board {
    /// USART2, 115200 baud 8N1, on the ST-LINK's virtual COM port.
    pub serial: Serial<pac::USART2>,
    /// The DWT cycle counter.
    pub stopwatch: CycleStopwatch,
    /// LD2, the green user LED (lit when PA5 is high).
    pub led: PA5<Output>,
    /// Spins the core.
    pub delay: SpinDelay,
}

impl Board {
    /// Clocks the core at 100 MHz and sets up USART2, the LED, the cycle counter.
    pub fn init() -> Self {
        let (Some(dp), Some(mut cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take())
        else {
            defmt::panic!("the peripherals were already taken");
        };
        // The ST-LINK feeds the MCU an 8 MHz clock (HSE in bypass mode).
        let mut rcc = dp.RCC.freeze(
            rcc::Config::hse(8.MHz())
                .bypass_hse_oscillator()
                .sysclk(SYSCLK_MHZ.MHz()),
        );
        let gpioa = dp.GPIOA.split(&mut rcc);
        let config = serial::Config::default().baudrate(115_200.bps());
        let serial = match dp.USART2.serial((gpioa.pa2, gpioa.pa3), config, &mut rcc) {
            Ok(serial) => serial,
            Err(_) => defmt::panic!("USART2 cannot run at 115200 baud from these clocks"),
        };
        Self {
            serial,
            stopwatch: CycleStopwatch::init(&mut cp.DCB, cp.DWT),
            led: gpioa.pa5.into_push_pull_output(),
            delay: SpinDelay { mhz: SYSCLK_MHZ },
        }
    }

    /// The board has no one to ask for a self-test-only run: it always serves.
    pub fn serve_requested(&self) -> bool {
        true
    }
}
