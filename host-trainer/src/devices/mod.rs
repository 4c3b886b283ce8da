//! The firmware as a peer: the serial link and its frames ([`link`]), the firmware in QEMU
//! ([`qemu`]) or in the RP2040 emulator ([`rp2040js`]), and `device-eval`'s comparison with
//! the host ([`eval`]).

pub mod eval;
pub mod link;
pub mod qemu;
pub mod rp2040js;
