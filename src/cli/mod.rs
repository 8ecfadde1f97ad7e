//! The command line (docs/DESIGN.md §11, §15): `serve`, `migrate`, `verify`, `exec`,
//! `analytics forget`, the operator's `run show | list | cancel` ([`run`]) and `user create |
//! token | disable | enable` ([`user`]).

mod run;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use anyhow::Context as _;

use crate::app::{Application, Hooks, open_store};
use crate::config::Config;
use crate::domain::{ErrorClass, escape_untrusted};
use crate::execution::{BackendSetupError, Backends, ExecError, Job};
use crate::store::Store;
use qrun_engine::CancellationToken;

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
    /// Apply this binary's pending database migrations and exit (the only command that
    /// changes the schema; `serve` too with `database.migrate = "auto"`).
    Migrate {
        /// Print each migration and where it stands (applied, pending, or unknown: applied by
        /// a newer qrun), changing nothing.
        #[arg(long, conflicts_with = "dry_run")]
        status: bool,
        /// Print the migrations that would be applied, changing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Users and their credentials: create, tokens (issue, list, revoke), disable, enable.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Check the lifecycle invariants over the whole database.
    Verify,
    /// Runs, as an operator sees them: show one with its audit timeline, list, cancel.
    Run {
        #[command(subcommand)]
        command: run::RunCommand,
    },
    /// Analytics data operations.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
    /// Run a circuit file through the engine locally and print the result JSON.
    Exec {
        /// A circuit file: OpenQASM 2.0 or 3 (told apart by its `OPENQASM` header), or a
        /// `.py` framework source (for a command backend that accepts `python`).
        file: PathBuf,
        #[arg(long, default_value_t = 1024)]
        shots: u64,
        /// Seed for a reproducible result.
        #[arg(long)]
        seed: Option<u64>,
        /// A configured backend, TYPE/NAME.
        #[arg(long, default_value = "simulator/statevector")]
        backend: String,
        /// A parameter's value, NAME=VALUE (an OpenQASM 3 `input`); repeat for each.
        #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
        params: Vec<(String, f64)>,
    },
}

/// `NAME=VALUE` with a numeric value.
fn parse_param(text: &str) -> Result<(String, f64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    let value = value
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("`{value}` is not a number: {e}"))?;
    Ok((name.trim().to_owned(), value))
}

/// The format of a circuit file: its `OPENQASM 2`/`OPENQASM 3` header; else `python` for a
/// `.py` file; else OpenQASM 3, whose version statement is optional.
fn file_format(file: &std::path::Path, source: &str) -> &'static str {
    match qrun_engine::Format::detect(source) {
        Some(format) => format.as_str(),
        None if file.extension().is_some_and(|e| e == "py") => "python",
        None => qrun_engine::Format::OpenQasm3.as_str(),
    }
}

#[derive(Subcommand)]
enum AnalyticsCommand {
    /// Erase a user's analytics here (GDPR Art. 17): stop capture for their live runs, delete
    /// their events from the outbox, print how many undelivered events were deleted.
    /// Events already delivered must be erased at the sink.
    Forget { handle: String },
}

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // reqwest is built without a default TLS provider (one crypto library in the tree: ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("qrun: {err}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match crate::telemetry::init(&config.logging, &config.otel) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("qrun: {err}");
            return ExitCode::from(2);
        }
    };
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
    let outcome = runtime.block_on(run(cli.command, config));
    drop(runtime);
    telemetry.shutdown();
    match outcome {
        Ok(code) => code,
        // A backend whose sandbox cannot be set up is a configuration problem.
        Err(err) if err.is::<BackendSetupError>() => {
            eprintln!("qrun: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("qrun: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            Application::build(config, Hooks::default())
                .await?
                .run_until_stopped()
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { status, dry_run } => migrate(&config, status, dry_run).await,
        Command::User { command } => {
            let store = open_store(&config, None).await?;
            user::run(&store, &config, command).await
        }
        Command::Analytics {
            command: AnalyticsCommand::Forget { handle },
        } => {
            let store = open_store(&config, None).await?;
            let Some(user) = store.user_by_handle(&handle).await? else {
                eprintln!("qrun: no user `{handle}`");
                return Ok(ExitCode::from(2));
            };
            let deleted = store.forget_analytics(user.id).await?;
            println!("{deleted}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { command } => {
            let store = open_store(&config, None).await?;
            run::run(&store, command).await
        }
        Command::Exec {
            file,
            shots,
            seed,
            backend,
            params,
        } => exec(&config, &file, shots, seed, &backend, params).await,
        Command::Verify => {
            let store = open_store(&config, None).await?;
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

/// `qrun migrate [--status | --dry-run]` (docs/DESIGN.md §11): `--status` prints each
/// migration's line ([`crate::store::schema::Schema`]'s); otherwise one line per migration
/// applied (`applied NAME`, or with `--dry-run` `would apply NAME`), or `nothing to apply`.
/// A schema this binary cannot migrate exits 1 with one line saying why.
async fn migrate(config: &Config, status: bool, dry_run: bool) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&config.database, None)
        .await
        .context("cannot open the database")?;
    if status {
        print!("{}", store.schema().await?);
        return Ok(ExitCode::SUCCESS);
    }
    let applied = store.migrate(dry_run).await?;
    if applied.is_empty() {
        println!("nothing to apply");
    }
    let verb = if dry_run { "would apply" } else { "applied" };
    for name in applied {
        println!("{verb} {name}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `qrun exec`: the result JSON on stdout; an invalid source exits 2 with
/// `FILE:LINE:COL: message` on stderr, any other failure exits 1.
async fn exec(
    config: &Config,
    file: &std::path::Path,
    shots: u64,
    seed: Option<u64>,
    backend: &str,
    params: Vec<(String, f64)>,
) -> anyhow::Result<ExitCode> {
    let Some((kind, name)) = backend.split_once('/') else {
        eprintln!("qrun: --backend must be TYPE/NAME, e.g. simulator/statevector");
        return Ok(ExitCode::from(2));
    };
    let backends = match Backends::from_config(&config.backends).await {
        Ok(backends) => backends,
        Err(err) => {
            eprintln!("qrun: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(backend) = backends.get(kind, name) else {
        eprintln!("qrun: no backend `{kind}/{name}` is configured");
        return Ok(ExitCode::from(2));
    };
    let source = match std::fs::read_to_string(file) {
        Ok(source) => source,
        Err(err) => {
            eprintln!("qrun: {}: {err}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let format = file_format(file, &source);
    let job = Job {
        source,
        format: format.to_owned(),
        shots,
        seed,
        parameters: params.into_iter().collect(),
        memory: false,
        options: Default::default(),
    };
    match backend.execute(job, CancellationToken::new()).await {
        Ok(executed) => {
            println!("{}", serde_json::to_string(&executed.results)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(ExecError::Failed(failure)) => {
            // Positioned messages start with LINE:COL.
            let message = failure.message();
            let separator = if message.starts_with(|c: char| c.is_ascii_digit()) {
                ":"
            } else {
                ": "
            };
            // A command backend's message is its program's output.
            eprintln!("{}{separator}{}", file.display(), escape_untrusted(message));
            Ok(ExitCode::from(
                if failure.class == ErrorClass::ValidationError {
                    2
                } else {
                    1
                },
            ))
        }
        Err(ExecError::Cancelled) => Ok(ExitCode::FAILURE),
    }
}
