//! Files: bounded reads of what a user names ([`io`]) and atomic, crash-safe writes
//! ([`atomic`]).

pub mod atomic;
pub mod io;
