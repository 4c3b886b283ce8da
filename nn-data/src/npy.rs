//! NumPy's `.npy` format, for tensors that come from or go to the Python side: uint8 pixels,
//! int8 quantised tensors and float32 vectors, in C order.
//!
//! A file is:
//! 1. the magic `\x93NUMPY` and a version byte pair (1.0, 2.0 or 3.0);
//! 2. the header's length: a little-endian u16 in version 1, u32 in versions 2 and 3;
//! 3. the header, a Python dict literal such as
//!    `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, padded with spaces and a
//!    newline so the data starts on a 64-byte boundary;
//! 4. the data, `product(shape)` elements of `descr`, nothing after them.
//!
//! [`parse`] checks the header against the length before it allocates anything, so a lying
//! shape can neither make it allocate nor read out of bounds; it never panics, whatever the
//! bytes. [`encode`] writes version 1.0 files that NumPy reads (`numpy.load`).

use std::fmt;
use std::path::Path;

/// The element types this project reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `|u1`: 0–255, pixels.
    U8,
    /// `|i1`: an int8 tensor, already quantised.
    I8,
    /// `<f4` (or `>f4` on reading): float32.
    F32,
}

impl Dtype {
    /// The name NumPy prints for it (`uint8`, `int8`, `float32`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::I8 => "int8",
            Dtype::F32 => "float32",
        }
    }

    fn descr(self) -> &'static str {
        match self {
            Dtype::U8 => "|u1",
            Dtype::I8 => "|i1",
            Dtype::F32 => "<f4",
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::F32 => 4,
        }
    }
}

/// An array's elements, in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `uint8` elements.
    U8(Vec<u8>),
    /// `int8` elements.
    I8(Vec<i8>),
    /// `float32` elements.
    F32(Vec<f32>),
}

impl Data {
    /// The element type.
    pub fn dtype(&self) -> Dtype {
        match self {
            Data::U8(_) => Dtype::U8,
            Data::I8(_) => Dtype::I8,
            Data::F32(_) => Dtype::F32,
        }
    }

    /// How many elements.
    pub fn len(&self) -> usize {
        match self {
            Data::U8(v) => v.len(),
            Data::I8(v) => v.len(),
            Data::F32(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A C-order array: its shape and its elements (`data.len() == shape.iter().product()`).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The dimensions, outermost first; empty for a scalar.
    pub shape: Vec<usize>,
    /// The elements.
    pub data: Data,
}

impl Array {
    /// The array as `rows × cols`: a 2-D array as it is, a 1-D array as one row.
    /// `None` for any other rank.
    pub fn as_matrix(&self) -> Option<(usize, usize)> {
        match self.shape[..] {
            [n] => Some((1, n)),
            [r, c] => Some((r, c)),
            _ => None,
        }
    }
}

/// Why bytes are not an `.npy` array this project reads. `Display` is one line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    NotNpy,
    /// A format version other than 1.0, 2.0 or 3.0.
    Version(u8, u8),
    /// The file ends inside its header.
    TruncatedHeader,
    /// The header is not the dict literal NumPy writes.
    BadHeader(String),
    /// An element type other than uint8, int8 and float32.
    Dtype(String),
    /// Fortran (column-major) order.
    FortranOrder,
    /// The shape's element count does not fit in memory's address space.
    ShapeOverflow,
    /// The data is shorter than the shape says.
    Truncated {
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// Bytes after the data.
    TrailingBytes {
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NpyError::NotNpy => write!(f, "not a .npy file (no \\x93NUMPY magic)"),
            NpyError::Version(major, minor) => {
                write!(
                    f,
                    ".npy version {major}.{minor} is not supported (1.0, 2.0, 3.0 are)"
                )
            }
            NpyError::TruncatedHeader => write!(f, "the .npy file ends inside its header"),
            NpyError::BadHeader(why) => write!(f, "bad .npy header: {why}"),
            NpyError::Dtype(descr) => write!(
                f,
                "dtype {descr:?} is not supported (uint8, int8 and float32 are)"
            ),
            NpyError::FortranOrder => write!(
                f,
                "the array is in Fortran order; save it in C order (numpy.ascontiguousarray)"
            ),
            NpyError::ShapeOverflow => write!(f, "the shape's element count overflows"),
            NpyError::Truncated { expected, actual } => write!(
                f,
                "truncated: the shape needs {expected} data bytes, the file has {actual}"
            ),
            NpyError::TrailingBytes { expected, actual } => write!(
                f,
                "{} bytes after the data (the shape needs {expected}, the file has {actual})",
                actual - expected
            ),
        }
    }
}

impl std::error::Error for NpyError {}

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Largest header accepted: NumPy's own limit for reading untrusted files.
const MAX_HEADER: usize = 10_000;

/// Parses a whole `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<Array, NpyError> {
    if bytes.len() < 8 {
        return Err(
            if bytes.starts_with(&MAGIC[..bytes.len().min(6)]) && !bytes.is_empty() {
                NpyError::TruncatedHeader
            } else {
                NpyError::NotNpy
            },
        );
    }
    if &bytes[..6] != MAGIC {
        return Err(NpyError::NotNpy);
    }
    let (len_bytes, header_start) = match (bytes[6], bytes[7]) {
        (1, 0) => (2, 10),
        (2 | 3, 0) => (4, 12),
        (major, minor) => return Err(NpyError::Version(major, minor)),
    };
    let len_field = bytes
        .get(8..8 + len_bytes)
        .ok_or(NpyError::TruncatedHeader)?;
    let header_len = len_field.iter().rev().fold(0usize, |acc, &b| {
        acc.saturating_mul(256).saturating_add(usize::from(b))
    });
    if header_len > MAX_HEADER {
        return Err(NpyError::BadHeader(format!(
            "{header_len} bytes long (at most {MAX_HEADER})"
        )));
    }
    let header = bytes
        .get(header_start..header_start + header_len)
        .ok_or(NpyError::TruncatedHeader)?;
    let header =
        std::str::from_utf8(header).map_err(|_| NpyError::BadHeader("not UTF-8".into()))?;
    let Header {
        descr,
        fortran_order,
        shape,
    } = Header::parse(header)?;
    let (dtype, big_endian) = match descr.as_str() {
        "|u1" | "u1" | "<u1" | ">u1" => (Dtype::U8, false),
        "|i1" | "i1" | "<i1" | ">i1" => (Dtype::I8, false),
        "<f4" | "f4" => (Dtype::F32, false),
        ">f4" => (Dtype::F32, true),
        _ => return Err(NpyError::Dtype(descr)),
    };
    if fortran_order && shape.len() > 1 {
        return Err(NpyError::FortranOrder);
    }
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or(NpyError::ShapeOverflow)?;
    let expected = count
        .checked_mul(dtype.size())
        .ok_or(NpyError::ShapeOverflow)? as u64;
    let data = &bytes[header_start + header_len..];
    let actual = data.len() as u64;
    if actual < expected {
        return Err(NpyError::Truncated { expected, actual });
    }
    if actual > expected {
        return Err(NpyError::TrailingBytes { expected, actual });
    }
    let data = match dtype {
        Dtype::U8 => Data::U8(data.to_vec()),
        Dtype::I8 => Data::I8(data.iter().map(|&b| b as i8).collect()),
        Dtype::F32 => Data::F32(
            data.chunks_exact(4)
                .map(|c| {
                    let b = [c[0], c[1], c[2], c[3]];
                    if big_endian {
                        f32::from_be_bytes(b)
                    } else {
                        f32::from_le_bytes(b)
                    }
                })
                .collect(),
        ),
    };
    Ok(Array { shape, data })
}

/// A labelled set from two `.npy` files: `images` N × 784 uint8 pixels in MNIST's form (28×28,
/// ink 255 on 0), `labels` N uint8 labels 0–9 (or N × 1), each file at most
/// [`crate::idx::MAX_FILE_BYTES`].
///
/// # Errors
/// [`crate::DataError::Npy`] naming the file for a file that is not such an array; as
/// [`crate::Dataset::from_files`] for the pair.
pub fn load_labelled(images: &Path, labels: &Path) -> Result<crate::Dataset, crate::DataError> {
    let read = |path: &Path| {
        let file = crate::read::show(path);
        let bytes = crate::read::read_capped(path, crate::idx::MAX_FILE_BYTES, "a .npy file")
            .map_err(|source| crate::DataError::Read {
                file: file.clone(),
                source,
            })?;
        let array = parse(&bytes).map_err(|e| crate::DataError::Npy {
            file: file.clone(),
            why: e.to_string(),
        })?;
        Ok::<_, crate::DataError>((file, array))
    };
    let wrong = |file: &str, why: String| crate::DataError::Npy {
        file: file.to_owned(),
        why,
    };
    let (images_file, x) = read(images)?;
    let pixels = match (&x.shape[..], x.data) {
        ([_, crate::PIXELS], Data::U8(pixels)) => pixels,
        ([_, crate::PIXELS], data) => {
            return Err(wrong(
                &images_file,
                format!(
                    "{} images; expected uint8 pixels 0-255 (numpy: x.astype(numpy.uint8))",
                    data.dtype().name()
                ),
            ));
        }
        (shape, _) => {
            return Err(wrong(
                &images_file,
                format!(
                    "shape {shape:?}; expected N rows of {} pixels (numpy: x.reshape(-1, {}))",
                    crate::PIXELS,
                    crate::PIXELS
                ),
            ));
        }
    };
    let (labels_file, y) = read(labels)?;
    let labels = match (&y.shape[..], y.data) {
        ([_] | [_, 1], Data::U8(labels)) => labels,
        ([_] | [_, 1], data) => {
            return Err(wrong(
                &labels_file,
                format!(
                    "{} labels; expected uint8 (numpy: y.astype(numpy.uint8))",
                    data.dtype().name()
                ),
            ));
        }
        (shape, _) => {
            return Err(wrong(
                &labels_file,
                format!("shape {shape:?}; expected one label per image, N or N x 1"),
            ));
        }
    };
    crate::Dataset::from_files(pixels, &images_file, labels, &labels_file)
}

/// Encodes an array as a version 1.0 `.npy` file.
///
/// # Panics
/// If `array.data.len()` is not the product of `array.shape` (a caller's bug).
pub fn encode(array: &Array) -> Vec<u8> {
    let count: usize = array.shape.iter().product();
    assert_eq!(
        count,
        array.data.len(),
        "npy::encode: shape and data disagree"
    );
    let shape = match &array.shape[..] {
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        array.data.dtype().descr()
    );
    // Magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
    let unpadded = 10 + header.len() + 1;
    header.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + count * array.data.dtype().size());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    match &array.data {
        Data::U8(v) => out.extend_from_slice(v),
        Data::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
        Data::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    out
}

/// The three keys of a `.npy` header.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl Header {
    /// Reads `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` in any key order,
    /// with the whitespace and trailing commas NumPy's writers put in.
    fn parse(text: &str) -> Result<Header, NpyError> {
        let bad = |why: &str| NpyError::BadHeader(why.to_owned());
        let mut p = Cursor(text.trim_end_matches(['\n', ' ', '\0']).trim_start());
        p.eat('{').ok_or_else(|| bad("does not start with '{'"))?;
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        loop {
            p.skip_space();
            if p.eat('}').is_some() {
                break;
            }
            let key = p.string().ok_or_else(|| bad("expected a quoted key"))?;
            p.skip_space();
            p.eat(':').ok_or_else(|| bad("expected ':' after a key"))?;
            p.skip_space();
            match key {
                "descr" => descr = Some(p.string().ok_or_else(|| bad("descr is not a string"))?),
                "fortran_order" => {
                    fortran = Some(
                        p.boolean()
                            .ok_or_else(|| bad("fortran_order is not True/False"))?,
                    )
                }
                "shape" => {
                    shape = Some(
                        p.tuple()
                            .ok_or_else(|| bad("shape is not a tuple of sizes"))?,
                    )
                }
                other => return Err(NpyError::BadHeader(format!("unknown key {other:?}"))),
            }
            p.skip_space();
            if p.eat(',').is_none() {
                p.skip_space();
                p.eat('}').ok_or_else(|| bad("expected ',' or '}'"))?;
                break;
            }
        }
        if !p.0.trim().is_empty() {
            return Err(bad("text after the dict"));
        }
        Ok(Header {
            descr: descr.ok_or_else(|| bad("no 'descr'"))?.to_owned(),
            fortran_order: fortran.ok_or_else(|| bad("no 'fortran_order'"))?,
            shape: shape.ok_or_else(|| bad("no 'shape'"))?,
        })
    }
}

/// What is left of the header text to read.
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    fn skip_space(&mut self) {
        self.0 = self.0.trim_start();
    }

    fn eat(&mut self, c: char) -> Option<()> {
        self.0 = self.0.strip_prefix(c)?;
        Some(())
    }

    /// A single- or double-quoted string without escapes.
    fn string(&mut self) -> Option<&'a str> {
        let quote = self.0.chars().next().filter(|&q| q == '\'' || q == '"')?;
        let rest = &self.0[1..];
        let end = rest.find(quote)?;
        self.0 = &rest[end + 1..];
        Some(&rest[..end])
    }

    fn boolean(&mut self) -> Option<bool> {
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(rest) = self.0.strip_prefix(word) {
                self.0 = rest;
                return Some(value);
            }
        }
        None
    }

    /// `()`, `(5,)`, `(3, 4)`, `(3, 4,)`.
    fn tuple(&mut self) -> Option<Vec<usize>> {
        self.eat('(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_space();
            if self.eat(')').is_some() {
                return Some(dims);
            }
            let digits = self.0.len()
                - self
                    .0
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            if digits == 0 {
                return None;
            }
            dims.push(self.0[..digits].parse().ok()?);
            self.0 = &self.0[digits..];
            self.skip_space();
            if self.eat(',').is_none() {
                self.skip_space();
                self.eat(')')?;
                return Some(dims);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as NumPy 2.x writes `np.save(f, np.arange(6, dtype=np.float32).reshape(2, 3))`.
    fn numpy_f32_2x3() -> Vec<u8> {
        let mut header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".to_vec();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(&header);
        for i in 0..6 {
            out.extend_from_slice(&(i as f32).to_le_bytes());
        }
        out
    }

    #[test]
    fn reads_what_numpy_writes() {
        let a = parse(&numpy_f32_2x3()).unwrap();
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.data, Data::F32(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
        assert_eq!(a.as_matrix(), Some((2, 3)));
    }

    #[test]
    fn writes_what_numpy_writes_byte_for_byte() {
        let a = Array {
            shape: vec![2, 3],
            data: Data::F32((0..6).map(|i| i as f32).collect()),
        };
        assert_eq!(encode(&a), numpy_f32_2x3());
    }

    #[test]
    fn every_dtype_and_rank_round_trips() {
        for a in [
            Array {
                shape: vec![4],
                data: Data::U8(vec![0, 1, 254, 255]),
            },
            Array {
                shape: vec![2, 2],
                data: Data::I8(vec![-128, -1, 0, 127]),
            },
            Array {
                shape: vec![1, 2, 1],
                data: Data::F32(vec![-0.5, f32::MAX]),
            },
            Array {
                shape: vec![0, 640],
                data: Data::I8(vec![]),
            },
            Array {
                shape: vec![],
                data: Data::U8(vec![7]),
            },
        ] {
            let bytes = encode(&a);
            assert_eq!(
                (bytes.len()) % 64,
                (a.data.len() * a.data.dtype().size()) % 64
            );
            assert_eq!(parse(&bytes).unwrap(), a);
        }
    }

    fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn header_variants_numpy_accepts() {
        let h = "{'shape': (2,), \"fortran_order\": True, 'descr': '>f4'}\n";
        let a = parse(&with_header(h, &[0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0])).unwrap();
        assert_eq!(a.data, Data::F32(vec![1.0, -2.0]));
        let v2 = {
            let h = "{'descr': '|i1', 'fortran_order': False, 'shape': (1, 1), }\n";
            let mut out = b"\x93NUMPY\x02\x00".to_vec();
            out.extend_from_slice(&(h.len() as u32).to_le_bytes());
            out.extend_from_slice(h.as_bytes());
            out.push(0x80);
            out
        };
        assert_eq!(parse(&v2).unwrap().data, Data::I8(vec![-128]));
    }

    #[test]
    fn bad_arrays_get_their_own_error() {
        let ok = numpy_f32_2x3();
        let cases: Vec<(Vec<u8>, NpyError)> = vec![
            (b"PK\x03\x04 not npy".to_vec(), NpyError::NotNpy),
            (vec![], NpyError::NotNpy),
            (ok[..5].to_vec(), NpyError::TruncatedHeader),
            (ok[..40].to_vec(), NpyError::TruncatedHeader),
            (
                [&ok[..6], &[4, 0], &ok[8..]].concat(),
                NpyError::Version(4, 0),
            ),
            (
                ok[..ok.len() - 1].to_vec(),
                NpyError::Truncated {
                    expected: 24,
                    actual: 23,
                },
            ),
            (
                [&ok[..], &[0]].concat(),
                NpyError::TrailingBytes {
                    expected: 24,
                    actual: 25,
                },
            ),
            (
                with_header(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                    &[0; 8],
                ),
                NpyError::Dtype("<f8".into()),
            ),
            (
                with_header(
                    "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                    &[0; 16],
                ),
                NpyError::FortranOrder,
            ),
            (
                with_header(
                    "{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
                    &[],
                ),
                NpyError::ShapeOverflow,
            ),
        ];
        for (bytes, want) in cases {
            let got = parse(&bytes).unwrap_err();
            assert_eq!(got, want);
            assert!(!got.to_string().contains('\n'));
        }
        for header in [
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
            "{'descr': '<f4', 'fortran_order': maybe, 'shape': (6,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}",
            "['descr']",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (6,) } trailing",
        ] {
            let err = parse(&with_header(header, &[0; 24])).unwrap_err();
            assert!(matches!(err, NpyError::BadHeader(_)), "{header}: {err:?}");
        }
    }

    #[test]
    fn never_panics_on_truncations_and_bit_flips() {
        let ok = numpy_f32_2x3();
        for cut in 0..ok.len() {
            let _ = parse(&ok[..cut]);
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bytes = ok.clone();
            let at = (state % bytes.len() as u64) as usize;
            bytes[at] ^= 1 << (state >> 40 & 7);
            let _ = parse(&bytes);
        }
    }
}
