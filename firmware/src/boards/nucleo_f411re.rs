//! NUCLEO-F411RE (STM32F411RE at 100 MHz from the ST-LINK's 8 MHz clock): USART2 on
//! PA2/PA3, the ST-LINK's virtual COM port, at 115200 baud; the user LED LD2 on PA5; the
//! DWT cycle counter; SysTick for delays; defmt over RTT (read by `probe-rs run`).

use cortex_m::delay::Delay;
use defmt_rtt as _;
use stm32f4xx_hal::{
    gpio::{Output, PA5},
    pac,
    prelude::*,
    rcc,
    serial::{self, Serial},
};

pub use super::probe::{COUNTER_UNIT, exit};
use super::probe::CycleStopwatch;

/// The core clock, which SysTick counts for delays.
const SYSCLK_HZ: u32 = 100_000_000;

/// The peripherals the application uses.
pub struct Board {
    /// USART2, 115200 baud 8N1, on the ST-LINK's virtual COM port.
    pub serial: Serial<pac::USART2>,
    /// The DWT cycle counter.
    pub stopwatch: CycleStopwatch,
    /// LD2, the green user LED (lit when PA5 is high).
    pub led: PA5<Output>,
    /// SysTick at the core clock.
    pub delay: Delay,
}

impl Board {
    /// Clocks the core at 100 MHz and sets up USART2, the LED, the cycle counter and SysTick.
    pub fn init() -> Self {
        let (Some(dp), Some(mut cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take())
        else {
            defmt::panic!("the peripherals were already taken");
        };
        // The ST-LINK feeds the MCU an 8 MHz clock (HSE in bypass mode).
        let mut rcc = dp.RCC.freeze(
            rcc::Config::hse(8.MHz())
                .bypass_hse_oscillator()
                .sysclk(SYSCLK_HZ.Hz()),
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
            delay: Delay::new(cp.SYST, SYSCLK_HZ),
        }
    }

    /// The board has no one to ask for a self-test-only run: it always serves.
    pub fn serve_requested(&self) -> bool {
        true
    }
}
