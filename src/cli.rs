//! The command line (DESIGN §11): `serve`, `migrate`, `user create`, `verify`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::{Application, open_store};
use crate::config::{Config, LogFormat};
use crate::domain::SystemClock;
use crate::domain::circuit::validate_handle;

#[derive(Parser)]
#[command(
    name = "qrun",
    version,
    about = "Run-lifecycle service for quantum-circuit execution"
)]
struct Cli {
    /// Configuration file layered over the defaults (see config/default.toml).
    #[arg(long, global = true, env = "QRUN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Check the lifecycle invariants over the whole database.
    Verify,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user and print a new API token (shown once) as the only line on stdout.
    Create { handle: String },
}

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("qrun: {err}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("qrun: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("qrun: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            Application::build(config)
                .await?
                .run_until_stopped()
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            open_store(&config, Arc::new(SystemClock)).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            command: UserCommand::Create { handle },
        } => {
            if let Err(err) = validate_handle(&handle) {
                eprintln!("qrun: {err}");
                return Ok(ExitCode::from(2));
            }
            let store = open_store(&config, Arc::new(SystemClock)).await?;
            match store.create_user(&handle).await {
                Ok((_, token)) => {
                    println!("{token}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) if err.unique_violation().is_some() => {
                    eprintln!("qrun: user `{handle}` already exists");
                    Ok(ExitCode::from(2))
                }
                Err(err) => Err(err.into()),
            }
        }
        Command::Verify => {
            let store = open_store(&config, Arc::new(SystemClock)).await?;
            let report = store.verify().await?;
            for violation in &report.violations {
                println!("{violation}");
            }
            println!(
                "verified {} runs: {} violations",
                report.runs,
                report.violations.len()
            );
            Ok(if report.violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Logs go to stderr, so stdout carries only a command's output.
fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::new(&config.logging.level);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.logging.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
