fn main() -> std::process::ExitCode {
    lagesbild::cli::main()
}
