//! Tells the kernels what the Cortex-M core has, from the target's name: on stable Rust
//! `rustc --print cfg` lists no Arm target features for the thumb targets, so the
//! assembly kernels cannot be gated on `target_feature`.
//!
//! - `nn_arm_fpu`: a single-precision FPU (the f32 kernel in `kernels/m4f.rs`):
//!   `thumbv7em-none-eabihf` (Cortex-M4F/M7F) and `thumbv8m.main-none-eabihf` (M33F/M35PF).
//! - `nn_arm_dsp`: the DSP extension, `SMLAD` and friends (the int8 kernel in
//!   `kernels/int8/m4.rs`): every `thumbv7em-*` (M4 and M7 always have it); on
//!   `thumbv8m.main-*` (M33, M35P, where it is optional and the target leaves it off)
//!   only when the build asks for it in its rustflags: `-C target-feature=+dsp`, or a
//!   `-C target-cpu` that LLVM models with DSP (`cortex-m33`, `cortex-m35p`, `cortex-m55`,
//!   `cortex-m85`; the firmware's Pico 2 build sets `cortex-m33`).
//! - `nn_armv6m`: ARMv6-M, `thumbv6m-none-eabi` (Cortex-M0/M0+, e.g. the RP2040): the
//!   int8 kernel in `kernels/int8/m0.rs` (`MULS`, low registers only).
//!
//! Everywhere else (thumbv7m, the host; f32 on thumbv6m) the portable code runs.

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(nn_arm_fpu)");
    println!("cargo::rustc-check-cfg=cfg(nn_arm_dsp)");
    println!("cargo::rustc-check-cfg=cfg(nn_armv6m)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let target = env::var("TARGET").unwrap_or_default();
    let v7em = target.starts_with("thumbv7em-");
    let v8m_main = target.starts_with("thumbv8m.main-");
    let hard_float = target.ends_with("eabihf");
    // Flags are separated by 0x1f; `+dsp` may sit in a list (`+dsp,+fp-armv8`).
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let asks_dsp = flags.split(['\x1f', ',', '=']).any(|flag| {
        flag == "+dsp" || ["cortex-m33", "cortex-m35p", "cortex-m55", "cortex-m85"].contains(&flag)
    });
    if (v7em || v8m_main) && hard_float {
        println!("cargo::rustc-cfg=nn_arm_fpu");
    }
    if v7em || (v8m_main && asks_dsp) {
        println!("cargo::rustc-cfg=nn_arm_dsp");
    }
    if target.starts_with("thumbv6m-") {
        println!("cargo::rustc-cfg=nn_armv6m");
    }
}
