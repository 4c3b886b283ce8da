//! QEMU's mps2-an386 (Cortex-M4F at 25 MHz): the CMSDK APB UART0, SysTick as an
//! instruction counter, a spin loop for delays, LED0 of the FPGA IO block, defmt and the
//! exit status over semihosting.

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use cortex_m_semihosting::{debug, nr, syscall1};
use defmt_semihosting as _;
use embedded_hal::digital::{ErrorType, OutputPin};

use super::{SpinDelay, SysTickStopwatch};

/// What the stopwatch counts here.
pub const COUNTER_UNIT: &str = "instructions";

/// The peripherals the application uses.
pub struct Board {
    /// UART0, which QEMU connects to its first `-serial`.
    pub serial: Uart0,
    /// SysTick, counting instructions.
    pub stopwatch: SysTickStopwatch,
    /// USERLED0 of the FPGA IO block (QEMU models it: `-d trace:led_change_intensity`
    /// shows it change).
    pub led: FpgaLed,
    /// Spins for the 25 MHz core's cycles.
    pub delay: SpinDelay,
}

impl Board {
    /// Takes the peripherals and sets up the UART and SysTick.
    pub fn init() -> Self {
        let Some(core) = cortex_m::Peripherals::take() else {
            // Only reachable if something took them before main.
            defmt::panic!("the core peripherals were already taken");
        };
        Self {
            serial: Uart0::init(),
            stopwatch: SysTickStopwatch::init(core.SYST, 40),
            led: FpgaLed::init(),
            delay: SpinDelay { mhz: 25 },
        }
    }

    /// True when QEMU was started with `serve` among the semihosting arguments
    /// (`-semihosting-config enable=on,arg=mnist-firmware,arg=serve`).
    pub fn serve_requested(&self) -> bool {
        let mut cmdline = [0u8; 64];
        // SYS_GET_CMDLINE fills the buffer and writes the length back into the block.
        let mut block = [cmdline.as_mut_ptr() as usize, cmdline.len()];
        // Safety: the block names a live buffer of the length given, as the call requires,
        // and the host writes only into the buffer and the block.
        let failed = unsafe { syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) } != 0;
        let len = block[1].min(cmdline.len());
        !failed
            && cmdline[..len]
                .split(|&b| b == b' ')
                .any(|word| word == b"serve")
    }
}

/// Runs `f` with SysTick's exception let through, so that `measure_long` counts the
/// counter's wraps: PRIMASK is cleared for the while, with the UART's RX interrupt (whose
/// handler must never run) masked in the NVIC instead, and both set back after.
#[cfg(nn_learn)]
pub fn with_systick<T>(f: impl FnOnce() -> T) -> T {
    NVIC::mask(Uart0Rx);
    // Safety: no critical section is open here (the serve loop holds none), and the one
    // interrupt that could fire besides SysTick, UART0 RX, is masked just above.
    unsafe { cortex_m::interrupt::enable() };
    let value = f();
    cortex_m::interrupt::disable();
    NVIC::unpend(Uart0Rx);
    // Safety: PRIMASK is set again just above, as `Uart0::init` left it.
    unsafe { NVIC::unmask(Uart0Rx) };
    value
}

/// Ends the program: QEMU exits with status 0 for `true`, 1 for `false`.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Without a semihosting host nothing ends the program; stop here rather than run on.
    loop {
        cortex_m::asm::wfi();
    }
}

/// The CMSDK APB UART0 of the MPS2 boards. Waiting for a byte sleeps in `wfi` with
/// interrupts masked: the RX interrupt still wakes the core (and no handler runs), and
/// the sleeping core lets QEMU deliver the next byte at once, ~2× the throughput of a
/// busy-polled status register.
pub struct Uart0 {
    _private: (),
}

impl Uart0 {
    const BASE: usize = 0x4000_4000;
    const DATA: *mut u32 = Self::BASE as *mut u32;
    const STATE: *mut u32 = (Self::BASE + 0x04) as *mut u32;
    const CTRL: *mut u32 = (Self::BASE + 0x08) as *mut u32;
    const BAUDDIV: *mut u32 = (Self::BASE + 0x10) as *mut u32;
    const STATE_TX_FULL: u32 = 1 << 0;
    const STATE_RX_FULL: u32 = 1 << 1;
    const INTCLEAR: *mut u32 = (Self::BASE + 0x0C) as *mut u32;
    /// TX enable, RX enable, RX interrupt enable.
    const CTRL_ENABLE: u32 = 0b1011;
    const INT_RX: u32 = 1 << 1;
    /// 25 MHz / 115200 baud (QEMU ignores the rate but rejects divisors below 16).
    const DIVISOR: u32 = 217;

    fn init() -> Self {
        // Safety: UART0's registers, owned by this one value (Board::init runs once).
        unsafe {
            write_volatile(Self::BAUDDIV, Self::DIVISOR);
            write_volatile(Self::CTRL, Self::CTRL_ENABLE);
        }
        // The RX interrupt only wakes `wfi`; with PRIMASK set its handler never runs.
        cortex_m::interrupt::disable();
        // Safety: unmasking cannot break a critical section: PRIMASK is set just above
        // and stays set.
        unsafe { NVIC::unmask(Uart0Rx) };
        Self { _private: () }
    }

    fn state(&self) -> u32 {
        // Safety: a read of the UART's status register, which has no side effects.
        unsafe { read_volatile(Self::STATE) }
    }
}

impl embedded_hal_nb::serial::ErrorType for Uart0 {
    type Error = Infallible;
}

impl embedded_hal_nb::serial::Read<u8> for Uart0 {
    fn read(&mut self) -> nb::Result<u8, Infallible> {
        if self.state() & Self::STATE_RX_FULL == 0 {
            // Returns on the RX interrupt's pending bit (or any other event).
            cortex_m::asm::wfi();
            return Err(nb::Error::WouldBlock);
        }
        // Safety: reading DATA pops the received byte; clearing the interrupt (in the
        // UART, then in the NVIC) lets the next byte wake `wfi` again. This value owns
        // the UART.
        let byte = unsafe {
            let byte = read_volatile(Self::DATA) as u8;
            write_volatile(Self::INTCLEAR, Self::INT_RX);
            byte
        };
        NVIC::unpend(Uart0Rx);
        Ok(byte)
    }
}

impl embedded_hal_nb::serial::Write<u8> for Uart0 {
    fn write(&mut self, byte: u8) -> nb::Result<(), Infallible> {
        if self.state() & Self::STATE_TX_FULL != 0 {
            return Err(nb::Error::WouldBlock);
        }
        // Safety: writing DATA queues one byte; this value owns the UART.
        unsafe { write_volatile(Self::DATA, u32::from(byte)) };
        Ok(())
    }

    fn flush(&mut self) -> nb::Result<(), Infallible> {
        if self.state() & Self::STATE_TX_FULL != 0 {
            return Err(nb::Error::WouldBlock);
        }
        Ok(())
    }
}

/// UART0's receive interrupt on mps2-an386.
#[derive(Clone, Copy)]
struct Uart0Rx;

// Safety: 0 is UART0's RX line on mps2-an385/386, a valid external interrupt number.
unsafe impl InterruptNumber for Uart0Rx {
    fn number(self) -> u16 {
        0
    }
}

/// USERLED0 of mps2-an386's FPGA IO block (`FPGAIO->LED`, bit 0), which QEMU models.
pub struct FpgaLed {
    _private: (),
}

impl FpgaLed {
    const LED: *mut u32 = 0x4002_8000 as *mut u32;

    /// Both user LEDs off: QEMU resets them lit.
    fn init() -> Self {
        let mut led = Self { _private: () };
        led.set(false);
        led
    }

    fn set(&mut self, on: bool) {
        // Safety: the FPGA IO block's LED register, owned by this one value; the other
        // bits drive LED1, which nothing else uses.
        unsafe { write_volatile(Self::LED, u32::from(on)) };
    }
}

impl ErrorType for FpgaLed {
    type Error = Infallible;
}

impl OutputPin for FpgaLed {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.set(false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        self.set(true);
        Ok(())
    }
}
