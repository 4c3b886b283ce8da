//! Classifies MNIST digits on a Cortex-M with the network in flash: a self-test on the
//! built-in digits at boot, then (when asked, or always on a real board) the serial
//! protocol of `nn_core::protocol` on the board's UART. See README.md.
#![no_std]
#![no_main]

mod app;
mod boards;
#[cfg(nn_digits)]
mod digits;
#[cfg(nn_learn)]
mod learn;
mod stack;
mod stopwatch;
mod weights;

use boards::Board;

#[cortex_m_rt::entry]
fn main() -> ! {
    stack::paint();
    let mut board = Board::init();
    weights::log_model();
    let model = match weights::model() {
        Ok(model) => model,
        Err(e) => {
            defmt::error!("the model built into this firmware is inconsistent: {}", e);
            boards::exit(false)
        }
    };

    let kernel_ok = app::kernel_check();
    #[cfg(nn_digits)]
    let report = app::self_test(&model, &digits::DIGITS, &mut board.stopwatch);
    #[cfg(not(nn_digits))]
    let report = app::self_test(&model, &mut board.stopwatch);
    report.log(boards::COUNTER_UNIT, stack::used());
    let passed = kernel_ok && report.passed();
    app::show_outcome(&mut board.led, passed);

    if !board.serve_requested() {
        boards::exit(passed);
    }
    app::serve(
        &mut board.serial,
        &mut board.led,
        &mut board.delay,
        passed,
        &model,
        &mut board.stopwatch,
    )
}
