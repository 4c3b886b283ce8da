fn main() -> std::process::ExitCode {
    host_trainer::cli::main()
}
