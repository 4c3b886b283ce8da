//! The int8 dense kernel on MLPerf Tiny's anomaly-detection shapes (640-128-128-128-128-8-
//! 128-128-128-128-640, 264,192 multiply-accumulates), ReLU, one requantisation for every
//! row: what `nn_core::kernels::dense_i8` (the dispatch table's choice) costs per inference,
//! against the scalar twin, with the outputs compared (parity).
//!
//! Weights are generated at compile time (xorshift, a fixed seed) into flash, as a model's
//! would be; each layer's input is fresh random bytes, with no run at the zero point, so the
//! dense loops are what is measured.
//!
//! - QEMU (mps2-an386, Cortex-M4): `cargo run --release --example dense_bench`; SysTick under
//!   `-icount shift=0` counts instructions (40 a tick).
//! - rp2040js (Cortex-M0+): `cargo run-pico --example dense_bench`; SysTick counts cycles.
//!
//! Exits 0 when every output equals the scalar twin's, 1 otherwise.
#![no_std]
#![no_main]

use cortex_m::peripheral::{SYST, syst::SystClkSource};
use nn_core::kernels::{self, DenseI8Params, Requant};

#[cfg(feature = "qemu-mps2")]
use defmt_semihosting as _;
#[cfg(feature = "pico")]
use {defmt_rtt as _, rp2040_hal as _};

/// The second-stage bootloader, where the Pico's boot ROM looks for it (rp2040js skips it).
#[cfg(feature = "pico")]
#[unsafe(link_section = ".boot2")]
#[used]
pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

/// What one SysTick tick is: 40 instructions in QEMU at 25 MHz with `-icount shift=0`, one
/// cycle on the Pico.
#[cfg(feature = "qemu-mps2")]
const PER_TICK: u32 = 40;
#[cfg(feature = "pico")]
const PER_TICK: u32 = 1;
#[cfg(feature = "qemu-mps2")]
const UNIT: &str = "instructions";
#[cfg(feature = "pico")]
const UNIT: &str = "cycles";

/// The layers' sizes, input first.
const SIZES: [usize; 11] = [640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640];

/// Every layer's weights, one after another.
const WEIGHTS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i + 1 < SIZES.len() {
        n += SIZES[i] * SIZES[i + 1];
        i += 1;
    }
    n
};

/// The widest layer.
const WIDEST: usize = 640;

/// xorshift32, the generator of everything here.
const fn next(s: u32) -> u32 {
    let s = s ^ (s << 13);
    let s = s ^ (s >> 17);
    s ^ (s << 5)
}

/// `N` random bytes from `seed`.
const fn random<const N: usize>(seed: u32) -> [i8; N] {
    let mut out = [0i8; N];
    let mut s = seed;
    let mut i = 0;
    while i < N {
        s = next(s);
        out[i] = (s >> 24) as u8 as i8;
        i += 1;
    }
    out
}

/// The weights in flash, as a model file's.
static W: [i8; WEIGHTS] = random(0x5EED_0001);

/// ReLU with the output zero point −128, as TFLite's int8 hidden layers have it; the
/// input's zero point is not 0, so the kernels' centring is measured too.
const PARAMS: DenseI8Params = DenseI8Params {
    input_zero_point: -3,
    output_zero_point: -128,
    min: -128,
    max: 127,
};

/// One scale for every row (per tensor): about 2⁻¹⁰, which spreads the sums of 128 to 640
/// products of random bytes over the int8 range.
const REQUANT: Requant = Requant {
    multiplier: 1_518_500_250,
    shift: -10,
};

#[cortex_m_rt::entry]
fn main() -> ! {
    let Some(core) = cortex_m::Peripherals::take() else {
        exit(false)
    };
    let mut syst = core.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(0x00FF_FFFF);
    syst.clear_current();
    syst.enable_counter();

    let bias_all: [i32; WIDEST] = {
        let mut s = 0x0B1A_5000u32;
        core::array::from_fn(|_| {
            s = next(s);
            (s >> 20) as i32 - 2048
        })
    };
    let requant_all = [REQUANT; WIDEST];
    let mut x_all = [[0i8; WIDEST]; SIZES.len() - 1];
    let mut s = 0x1A9D_7000u32;
    for x in x_all.iter_mut() {
        for v in x.iter_mut() {
            s = next(s);
            // Never the zero point (−3): no group for the kernels to skip.
            v.clone_from(&match (s >> 24) as u8 as i8 {
                -3 => 77,
                b => b,
            });
        }
    }
    let mut y_fast = [[0i8; WIDEST]; SIZES.len() - 1];
    let mut y_twin = [[0i8; WIDEST]; SIZES.len() - 1];

    defmt::info!(
        "dense_bench: kernel {=str}, {=usize} MACs",
        kernels::int8::DENSE_I8.name,
        WEIGHTS
    );
    let mut totals = [0u32; 2];
    let mut offset = 0;
    for l in 0..SIZES.len() - 1 {
        let (cols, rows) = (SIZES[l], SIZES[l + 1]);
        let w = &W[offset..offset + rows * cols];
        offset += rows * cols;
        let x = &x_all[l][..cols];
        let (bias, requant) = (&bias_all[..rows], &requant_all[..rows]);
        let fast =
            measure(|| kernels::dense_i8(w, x, bias, requant, PARAMS, &mut y_fast[l][..rows]));
        let twin = measure(|| {
            kernels::int8::scalar::dense_i8(kernels::int8::DenseI8Args::new(
                w,
                x,
                bias,
                requant,
                PARAMS,
                &mut y_twin[l][..rows],
            ))
        });
        defmt::info!(
            "layer {=usize}: {=usize}->{=usize} {=u32} {=str} (scalar twin {=u32})",
            l + 1,
            cols,
            rows,
            fast,
            UNIT,
            twin
        );
        totals[0] += fast;
        totals[1] += twin;
    }
    let same = y_fast == y_twin;
    // Per MAC in thousandths, to print without floats.
    let milli = |n: u32| n as u64 * 1000 / WEIGHTS as u64;
    defmt::info!(
        "dense_bench: {=u32} {=str} per inference, {=u64} thousandths per MAC (scalar twin {=u32}, {=u64}); parity {=bool}",
        totals[0],
        UNIT,
        milli(totals[0]),
        totals[1],
        milli(totals[1]),
        same
    );
    #[cfg(feature = "qemu-mps2")]
    let same = same & packed::check(&bias_all, &requant_all, &x_all, &y_twin);
    exit(same)
}

/// The M4's packed path (`kernels::dense_i8_packed` over each layer packed in RAM in this
/// build's layout, the wide one that nn-build writes to flash): the same layers, counted and
/// compared with the scalar twin's outputs; then every number of column groups modulo the
/// loop's 8 and every tail, on small random layers.
#[cfg(feature = "qemu-mps2")]
mod packed {
    use super::*;
    use nn_core::kernels::int8::packed::PackedDenseI8;

    /// The largest layers' packed words.
    const MAX_WORDS: usize = {
        let (a, b) = (
            PackedDenseI8::buffer_len(128, 640),
            PackedDenseI8::buffer_len(640, 128),
        );
        if a > b { a } else { b }
    };

    pub fn check(
        bias_all: &[i32; WIDEST],
        requant_all: &[Requant; WIDEST],
        x_all: &[[i8; WIDEST]; SIZES.len() - 1],
        y_twin: &[[i8; WIDEST]; SIZES.len() - 1],
    ) -> bool {
        let mut buf = [0i32; MAX_WORDS];
        let mut same = true;
        let mut total = 0;
        let mut offset = 0;
        for l in 0..SIZES.len() - 1 {
            let (cols, rows) = (SIZES[l], SIZES[l + 1]);
            let w = &W[offset..offset + rows * cols];
            offset += rows * cols;
            let (bias, requant) = (&bias_all[..rows], &requant_all[..rows]);
            let buf = &mut buf[..PackedDenseI8::buffer_len(rows, cols)];
            PackedDenseI8::pack(w, cols, bias, requant, PARAMS, buf);
            let layer = PackedDenseI8::new(w, cols, bias, requant, PARAMS, buf);
            let mut y = [0i8; WIDEST];
            total +=
                measure(|| kernels::dense_i8_packed(&layer, &x_all[l][..cols], &mut y[..rows]));
            same &= y[..rows] == y_twin[l][..rows];
        }
        defmt::info!(
            "dense_bench: packed ({=str}): {=u32} {=str} per inference, {=u64} thousandths per MAC; parity {=bool}",
            kernels::int8::DENSE_I8_PACKED.name,
            total,
            UNIT,
            total as u64 * 1000 / WEIGHTS as u64,
            same
        );
        let mut shapes_same = true;
        let mut s = 0x5A9E_0001u32;
        for cols in 1..=70 {
            for rows in [1, 4, 5, 6, 11] {
                let w = &W[cols * rows..2 * cols * rows];
                let x: [i8; 70] = core::array::from_fn(|_| {
                    s = next(s);
                    (s >> 24) as i8
                });
                let x = &x[..cols];
                let (bias, requant) = (&bias_all[..rows], &requant_all[..rows]);
                let buf = &mut buf[..PackedDenseI8::buffer_len(rows, cols)];
                PackedDenseI8::pack(w, cols, bias, requant, PARAMS, buf);
                let layer = PackedDenseI8::new(w, cols, bias, requant, PARAMS, buf);
                let (mut y, mut want) = ([0i8; 11], [0i8; 11]);
                kernels::dense_i8_packed(&layer, x, &mut y[..rows]);
                kernels::int8::scalar::dense_i8(kernels::int8::DenseI8Args::new(
                    w,
                    x,
                    bias,
                    requant,
                    PARAMS,
                    &mut want[..rows],
                ));
                shapes_same &= y == want;
            }
        }
        defmt::info!(
            "dense_bench: packed, 1 to 70 columns x 1 to 11 rows: parity {=bool}",
            shapes_same
        );
        same && shapes_same
    }
}

/// What `f` takes, in [`UNIT`]s (SysTick counts down from 2²⁴: far above one layer).
fn measure(f: impl FnOnce()) -> u32 {
    let start = SYST::get_current();
    f();
    let end = SYST::get_current();
    (start.wrapping_sub(end) & 0x00FF_FFFF) * PER_TICK
}

/// Ends QEMU with status 0 (`true`) or 1.
#[cfg(feature = "qemu-mps2")]
fn exit(success: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

/// Ends rp2040js with status 0 (`true`) or 1: WATCHDOG SCRATCH1, as the firmware's `exit`.
#[cfg(feature = "pico")]
fn exit(success: bool) -> ! {
    // Safety: a write to a watchdog scratch register, plain storage nothing else here uses.
    unsafe {
        core::ptr::write_volatile(0x4005_8010 as *mut u32, 0xE71D_0000 | u32::from(!success))
    };
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(false)
}
