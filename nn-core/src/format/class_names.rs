//! The class-name list of a version-2 file: what a name may be, its encoded length, reading
//! and checking it, and [`ClassNames`], the view over it.

use super::{CLASS_NAME_MAX_LEN, header_error};
use crate::error::Error;

/// Bytes of `n` as a postcard varint.
const fn varint_len(n: usize) -> usize {
    let mut len = 1;
    let mut rest = n >> 7;
    while rest != 0 {
        len += 1;
        rest >>= 7;
    }
    len
}

/// A class name is 1 to [`CLASS_NAME_MAX_LEN`] bytes of UTF-8 without control characters
/// (`inspect` and `predict` print it on one line).
fn check_class_name(index: usize, name: &str) -> Result<(), Error> {
    let ok =
        !name.is_empty() && name.len() <= CLASS_NAME_MAX_LEN && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(Error::BadClassName { index })
    }
}

/// At most `output` names, each valid.
pub(super) fn check_class_names(output: u32, names: &[&str]) -> Result<(), Error> {
    if u32::try_from(names.len()).map_or(true, |n| n > output) {
        return Err(Error::TooManyClassNames {
            found: names.len(),
            max: output as usize,
        });
    }
    for (index, name) in names.iter().enumerate() {
        check_class_name(index, name)?;
    }
    Ok(())
}

/// Bytes of the class-name list: a varint count, then each name as a varint length and UTF-8.
pub(super) fn class_names_len(names: &[&str]) -> usize {
    names
        .iter()
        .map(|n| varint_len(n.len()) + n.len())
        .sum::<usize>()
        + varint_len(names.len())
}

/// Reads the class-name list at the start of `bytes`: checks it and returns its length.
pub(super) fn read_class_names(bytes: &[u8], output: u32, found: usize) -> Result<usize, Error> {
    let (count, mut rest) =
        postcard::take_from_bytes::<u32>(bytes).map_err(|e| header_error(e, found))?;
    if count > output {
        return Err(Error::TooManyClassNames {
            found: count as usize,
            max: output as usize,
        });
    }
    for index in 0..count as usize {
        let (name, after) = postcard::take_from_bytes::<&str>(rest).map_err(|e| match e {
            postcard::Error::DeserializeUnexpectedEnd => header_error(e, found),
            _ => Error::BadClassName { index },
        })?;
        check_class_name(index, name)?;
        rest = after;
    }
    Ok(bytes.len() - rest.len())
}

/// The class names of a model file, in output order (see [`ModelFile::class_names`]).
///
/// [`ModelFile::class_names`]: super::ModelFile::class_names
#[derive(Clone, Copy, Debug)]
pub struct ClassNames<'a> {
    /// The encoded list, count first, already checked by
    /// [`ModelFile::parse`](super::ModelFile::parse).
    pub(super) bytes: &'a [u8],
}

impl<'a> ClassNames<'a> {
    /// How many names there are.
    pub fn count(&self) -> usize {
        postcard::take_from_bytes::<u32>(self.bytes).map_or(0, |(n, _)| n as usize)
    }

    /// Name `k`, if the file has one.
    pub fn get(&self, k: usize) -> Option<&'a str> {
        self.into_iter().nth(k)
    }
}

impl<'a> IntoIterator for ClassNames<'a> {
    type Item = &'a str;
    type IntoIter = ClassNamesIter<'a>;

    fn into_iter(self) -> ClassNamesIter<'a> {
        let (remaining, rest) = postcard::take_from_bytes::<u32>(self.bytes).unwrap_or((0, &[]));
        ClassNamesIter { rest, remaining }
    }
}

/// Iterator over [`ClassNames`].
#[derive(Clone, Debug)]
pub struct ClassNamesIter<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for ClassNamesIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.remaining == 0 {
            return None;
        }
        // Parse checked the list; a failure here cannot happen, and ends the iteration.
        let (name, rest) = postcard::take_from_bytes::<&str>(self.rest).ok()?;
        self.rest = rest;
        self.remaining -= 1;
        Some(name)
    }
}
