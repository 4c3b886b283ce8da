//! Flush-to-zero for the training threads.
//!
//! A saturated sigmoid gives gradients around 1e-20, whose squares in Adam's second moment
//! are subnormal floats; x86 handles each of those in microcode, about a hundred times
//! slower, and the seed preset spent most of its epoch there. TensorFlow, whose numbers
//! the seed preset reproduces, runs with the same flags set, so flushing changes nothing
//! that matters: values below 1.2e-38 become 0.

/// Sets FTZ (results) and DAZ (inputs) in this thread's MXCSR on x86-64; elsewhere a no-op.
pub fn flush_to_zero() {
    #[cfg(target_arch = "x86_64")]
    {
        const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);
        let mut csr: u32 = 0;
        // Safety: stmxcsr stores the 4-byte MXCSR into `csr`, ldmxcsr loads it back with
        // two more flags set; both flags only change how subnormals are treated.
        unsafe {
            core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
            csr |= FTZ_DAZ;
            core::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly));
        }
    }
}

/// [`flush_to_zero`] on this thread and on every thread of the current rayon pool.
pub fn flush_to_zero_everywhere() {
    flush_to_zero();
    rayon::broadcast(|_| flush_to_zero());
}

#[cfg(test)]
mod tests {
    #[test]
    fn subnormal_results_become_zero() {
        std::thread::spawn(|| {
            let tiny = std::hint::black_box(1e-20f32);
            assert!(tiny * tiny > 0.0, "without the flags 1e-40 is a subnormal");
            super::flush_to_zero();
            let tiny = std::hint::black_box(1e-20f32);
            assert_eq!(tiny * tiny, 0.0);
        })
        .join()
        .unwrap();
    }
}
