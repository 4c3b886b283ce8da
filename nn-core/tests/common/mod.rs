//! What nn-core's test files share.

/// CRC-32/ISO-HDLC bit by bit, straight from its definition (reflected polynomial 0xEDB88320,
/// init and final xor all ones): the reference the crate's table-driven CRC is checked
/// against, and the way the tests build files and frames independently of the crate.
pub fn crc32_reference(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
