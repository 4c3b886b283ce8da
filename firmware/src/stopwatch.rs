//! What the board counts work with: instructions in QEMU, cycles on hardware.

/// Counts the work a closure does: instructions in QEMU, cycles on hardware.
pub trait Stopwatch {
    /// Runs `f`, returning its result and the count it took.
    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> (T, u32);

    /// [`Stopwatch::measure`] for work that may outrun the counter's wrap (learning): a
    /// counter that wraps within seconds counts its wraps.
    #[cfg(nn_learn)]
    fn measure_long<T>(&mut self, f: impl FnOnce() -> T) -> (T, u64) {
        let (value, count) = self.measure(f);
        (value, u64::from(count))
    }
}
