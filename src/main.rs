//! `qrun`: see the library's docs and README.md.

fn main() -> std::process::ExitCode {
    qrun::cli::main()
}
