//! Writing to stdout without trusting it: [`Stdout`] errors let the edge tell a closed pipe
//! (`… | head -1`: stop quietly) from a failed write (`> /dev/full`: one line, non-zero
//! status).

use std::fmt;
use std::io;

/// A failed write to stdout. A closed pipe (the reader has what it wanted) ends the
/// program quietly with status 0; any other failure is an error.
#[derive(Debug)]
pub struct Stdout(pub io::Error);

impl Stdout {
    /// Whether the reader closed the pipe.
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

impl fmt::Display for Stdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "writing to stdout: {}", self.0)
    }
}

impl std::error::Error for Stdout {}

/// Writes `text` and a newline to stdout, flushed (so `> /dev/full` fails here, not later
/// in a destructor that cannot report it).
///
/// # Errors
/// [`Stdout`] when the write fails.
pub fn print_line(text: &str) -> Result<(), Stdout> {
    use std::io::Write;
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(Stdout)
}
