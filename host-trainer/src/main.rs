fn main() -> std::process::ExitCode {
    host_trainer::commands::main()
}
