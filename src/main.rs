//! The `hypersweep` binary.

mod cli;

use clap::Parser;

fn main() {
    // Warnings (failed trials, reaped trials) go to stderr; RUST_LOG
    // overrides the level.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            cli::output::stderr(format_args!("error: {err:#}\n"));
            std::process::exit(1);
        }
    }
}
