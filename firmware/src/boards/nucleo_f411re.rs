//! NUCLEO-F411RE (STM32F411RE at 100 MHz from the ST-LINK's 8 MHz clock): USART2 on
//! PA2/PA3, the ST-LINK's virtual COM port, at 115200 baud; the DWT cycle counter;
//! defmt over RTT (read by `probe-rs run`).

use cortex_m::peripheral::DWT;
use defmt_rtt as _;
use stm32f4xx_hal::{
    pac,
    prelude::*,
    rcc,
    serial::{self, Serial},
};

use crate::app::Stopwatch;

/// What the stopwatch counts here.
pub const COUNTER_UNIT: &str = "cycles";

/// The peripherals the application uses.
pub struct Board {
    /// USART2, 115200 baud 8N1, on the ST-LINK's virtual COM port.
    pub serial: Serial<pac::USART2>,
    /// The DWT cycle counter.
    pub stopwatch: CycleStopwatch,
}

impl Board {
    /// Clocks the core at 100 MHz and sets up USART2 and the cycle counter.
    pub fn init() -> Self {
        let (Some(dp), Some(mut cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take())
        else {
            defmt::panic!("the peripherals were already taken");
        };
        // The ST-LINK feeds the MCU an 8 MHz clock (HSE in bypass mode).
        let mut rcc = dp.RCC.freeze(
            rcc::Config::hse(8.MHz())
                .bypass_hse_oscillator()
                .sysclk(100.MHz()),
        );
        let gpioa = dp.GPIOA.split(&mut rcc);
        let config = serial::Config::default().baudrate(115_200.bps());
        let serial = match dp.USART2.serial((gpioa.pa2, gpioa.pa3), config, &mut rcc) {
            Ok(serial) => serial,
            Err(_) => defmt::panic!("USART2 cannot run at 115200 baud from these clocks"),
        };
        cp.DCB.enable_trace();
        cp.DWT.enable_cycle_counter();
        Self {
            serial,
            stopwatch: CycleStopwatch { _dwt: cp.DWT },
        }
    }

    /// The board has no one to ask for a self-test-only run: it always serves.
    pub fn serve_requested(&self) -> bool {
        true
    }
}

/// Stops in the debugger (`probe-rs run` then ends, showing the log), or halts here.
pub fn exit(success: bool) -> ! {
    if success {
        defmt::info!("done");
    } else {
        defmt::error!("stopped on an error");
    }
    // Without a debugger a breakpoint would fault; then just halt.
    if cortex_m::peripheral::DCB::is_debugger_attached() {
        cortex_m::asm::bkpt();
    }
    loop {
        cortex_m::asm::wfi();
    }
}

/// The DWT cycle counter (32 bits: wraps after 43 s at 100 MHz).
pub struct CycleStopwatch {
    _dwt: DWT,
}

impl Stopwatch for CycleStopwatch {
    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> (T, u32) {
        let start = DWT::cycle_count();
        let value = f();
        (value, DWT::cycle_count().wrapping_sub(start))
    }
}
