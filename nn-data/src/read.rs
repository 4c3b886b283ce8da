//! Reading files a user names without trusting them.
//!
//! Every file this program reads (model, checkpoint, IDX, image) goes through [`read_capped`]:
//! 1. opened once, without blocking (`O_NONBLOCK`), so a FIFO cannot stall the open;
//! 2. checked on that open descriptor to be a regular file, so a FIFO, a device
//!    (`/dev/zero`, `/dev/urandom`), a directory or a socket is refused with its kind named;
//! 3. refused when its size is over the cap its format allows, before a byte is read;
//! 4. read to the end in one allocation of its size, and never past the cap (a file that
//!    grows while it is read is cut off there and refused).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Opening, inspecting or reading it failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// It exists but is not a regular file (a FIFO, a device, a directory, a socket).
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    /// It is larger than anything of its kind this program reads.
    #[error("is {size} bytes, over the {limit}-byte limit for {what}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
        /// What kind of file it was read as ("a model file").
        what: &'static str,
    },
}

impl ReadError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// Opens `path` for reading without blocking and checks that it is a regular file;
/// returns it and its length.
///
/// # Errors
/// [`ReadError::NotRegular`] for anything but a regular file (the check is made on the
/// opened descriptor, so a symlink to `/dev/zero` is refused too); [`ReadError::Io`].
pub fn open_regular(path: &Path) -> Result<(File, u64), ReadError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading blocks until a writer appears; non-blocking, it
        // returns at once and the type check below refuses it.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotRegular(kind_name(&kind)));
    }
    Ok((file, meta.len()))
}

/// Reads the whole regular file at `path`, refusing one over `limit` bytes (see the module
/// docs). `what` names the kind of file in the error ("a model file").
///
/// # Errors
/// As [`open_regular`], and [`ReadError::TooLarge`].
pub fn read_capped(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    let (file, size) = open_regular(path)?;
    let too_large = |size| ReadError::TooLarge { size, limit, what };
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // One byte past the limit tells "grew past it" from "exactly at it".
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// What a non-regular file is, in words.
fn kind_name(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

/// A path for an error message: as it is when it is plain text, quoted and escaped
/// (`{:?}`) when it holds a control character such as a newline or is not UTF-8, so an
/// error stays one line whatever the file is called.
pub fn show(path: &Path) -> String {
    match path.to_str() {
        Some(s) if !s.chars().any(char::is_control) => s.to_owned(),
        _ => format!("{path:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_and_refuses_one_over_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_capped(&path, 5, "a test file").unwrap(), b"12345");
        let err = read_capped(&path, 4, "a test file").unwrap_err();
        assert_eq!(
            err.to_string(),
            "is 5 bytes, over the 4-byte limit for a test file"
        );
    }

    #[test]
    fn refuses_directories_and_devices_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_capped(dir.path(), 10, "x").unwrap_err();
        assert_eq!(err.to_string(), "is a directory, not a regular file");
        #[cfg(unix)]
        {
            let err = read_capped(Path::new("/dev/zero"), 10, "x").unwrap_err();
            assert_eq!(err.to_string(), "is a character device, not a regular file");
        }
    }

    #[test]
    fn odd_names_are_quoted_plain_ones_are_not() {
        assert_eq!(show(Path::new("models/a b.nnm")), "models/a b.nnm");
        assert_eq!(show(Path::new("a\nb.nnm")), "\"a\\nb.nnm\"");
    }
}
