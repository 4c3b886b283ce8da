//! The command line parsed by clap, with the first line of every error about a flag's value
//! able to stand alone.
//!
//! clap spreads such an error over lines: `invalid value 'x' for '--preset <PRESET>'` and,
//! below it, the possible values; or the standard library's `invalid digit found in string`,
//! which does not say what was expected. A first line read alone (a log, a CI summary)
//! names the flag, the value and what the flag takes: [`parse`] writes that line and leaves
//! the rest of clap's message (usage, `--help` hint) and its exit status 2 as they are.
//!
//! A negative number is taken as a flag's value (`--lr -1`), so that it is refused for what
//! it is, not as an unknown flag `-1`.

use std::error::Error as _;
use std::ffi::OsString;
use std::num::{IntErrorKind, ParseFloatError, ParseIntError};

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

/// `P` from the process's arguments; on a bad command line, clap's message with the first
/// line from [`first_line`], and clap's exit status (help and version print as clap prints
/// them).
pub fn parse<P: Parser>() -> P {
    match try_parse_from(std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(e) => match first_line(&e) {
            Some(line) => {
                let rendered = e.render().to_string();
                let rest: Vec<&str> = rendered
                    .lines()
                    .skip(1)
                    .filter(|l| !l.trim_start().starts_with("[possible values:"))
                    .collect();
                eprintln!("error: {line}\n{}", rest.join("\n"));
                std::process::exit(e.exit_code());
            }
            None => e.exit(),
        },
    }
}

/// `P` from `args` (the program name first), negative numbers taken as values.
///
/// # Errors
/// clap's error, formatted for `P`'s command.
pub fn try_parse_from<P, I, T>(args: I) -> Result<P, clap::Error>
where
    P: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = P::command()
        .allow_negative_numbers(true)
        .mut_subcommands(|s| s.allow_negative_numbers(true));
    command
        .try_get_matches_from(args)
        .and_then(|mut m| P::from_arg_matches_mut(&mut m))
        .map_err(|e| e.format(&mut P::command()))
}

/// For an error about one flag's value: `invalid value 'V' for 'FLAG': what FLAG takes`;
/// `None` for any other error, whose first line clap already makes whole.
pub fn first_line(e: &clap::Error) -> Option<String> {
    let string = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let (arg, value) = (
        string(ContextKind::InvalidArg)?,
        string(ContextKind::InvalidValue)?,
    );
    let why = match e.kind() {
        ErrorKind::InvalidValue => match e.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => format!("expected one of {}", valid.join(", ")),
            _ => return None,
        },
        ErrorKind::ValueValidation => {
            let source = e.source()?;
            if let Some(p) = source.downcast_ref::<ParseIntError>() {
                match p.kind() {
                    IntErrorKind::PosOverflow => "too large for this flag".to_owned(),
                    _ => "expected a whole number (0, 1, 2, ...)".to_owned(),
                }
            } else if source.is::<ParseFloatError>() {
                "expected a number, such as 0.001 or 1e-3".to_owned()
            } else {
                // The program's own parsers and clap's ranged ones say what is expected.
                source.to_string()
            }
        }
        _ => return None,
    };
    Some(format!("invalid value '{value}' for '{arg}': {why}"))
}
