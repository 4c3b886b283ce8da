//! The command line (placeholder).

/// Parses the arguments and runs the chosen command.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
