//! Fixed-size, row-major, 64-byte-aligned f32 storage. The shape lives in the type, so a
//! product of mismatched shapes does not compile; the kernels below take plain slices so
//! that each is compiled once, whatever the sizes.

/// An `R × C` matrix of f32, row-major (`self.0[row][col]`), aligned to 64 bytes (one
/// cache line, one AVX-512 register).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct Matrix<const R: usize, const C: usize>(pub [[f32; C]; R]);

/// A length-`N` vector of f32, aligned to 64 bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct Vector<const N: usize>(pub [f32; N]);

impl<const R: usize, const C: usize> Matrix<R, C> {
    /// Number of rows.
    pub const ROWS: usize = R;
    /// Number of columns.
    pub const COLS: usize = C;

    /// The all-zero matrix.
    pub const fn zeros() -> Self {
        Self([[0.0; C]; R])
    }

    /// All `R * C` elements, row after row.
    pub fn as_slice(&self) -> &[f32] {
        self.0.as_flattened()
    }

    /// All `R * C` elements, row after row, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.0.as_flattened_mut()
    }
}

impl<const N: usize> Vector<N> {
    /// The all-zero vector.
    pub const fn zeros() -> Self {
        Self([0.0; N])
    }

    /// The elements.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// The elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl<const R: usize, const C: usize> Default for Matrix<R, C> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<const N: usize> Default for Vector<N> {
    fn default() -> Self {
        Self::zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_is_row_major_and_aligned() {
        let mut m = Matrix::<2, 3>::zeros();
        m.0[1][0] = 7.0;
        assert_eq!(m.as_slice(), &[0.0, 0.0, 0.0, 7.0, 0.0, 0.0]);
        assert_eq!(core::mem::align_of::<Matrix<2, 3>>(), 64);
        assert_eq!(core::mem::align_of::<Vector<10>>(), 64);
        assert_eq!(&m.0[1][0] as *const f32 as usize % 4, 0);
    }
}
