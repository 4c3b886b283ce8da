//! References that nn-core's tests and the root crate's tests and benches share, one
//! definition each: the CRC-32 and COBS written out from their definitions, a serial frame
//! built from them, and a small seeded generator. nn-core's tests reach it through `common`, the root crate's tests and benches
//! through `#[path]`.
#![allow(dead_code)]

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

/// A small deterministic generator (xorshift32), for large fixed cases that must be the same
/// on every run.
pub struct Rng(pub u32);

impl Rng {
    /// Uniform in [-1, 1).
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 >> 8) as f32 / (1 << 23) as f32 - 1.0
    }

    /// `len` values uniform in [-scale, scale).
    pub fn vec(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| self.next() * scale).collect()
    }
}

/// COBS from its definition: each zero-free run is prefixed by its length + 1, and runs are
/// cut at 254 bytes. Then the terminator.
pub fn cobs_reference(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    for &b in data {
        if b == 0 {
            out.push(run.len() as u8 + 1);
            out.append(&mut run);
        } else {
            run.push(b);
            if run.len() == 254 {
                out.push(0xFF);
                out.append(&mut run);
            }
        }
    }
    out.push(run.len() as u8 + 1);
    out.append(&mut run);
    out.push(0);
    out
}

/// A frame around arbitrary message bytes, built without the crate.
pub fn frame_of(message: &[u8]) -> Vec<u8> {
    let mut body = message.to_vec();
    body.extend_from_slice(&crc32_reference(message).to_le_bytes());
    cobs_reference(&body)
}
