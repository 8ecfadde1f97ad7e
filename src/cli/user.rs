//! `qrun user …` (docs/DESIGN.md §11, §15): accounts and their credentials as an operator manages
//! them, on the database `serve` uses (its configuration), while the service runs or not. Each
//! change commits with its audit row saying `"by": "operator"`.
//!
//! - `create HANDLE`: a user and their first token, printed as the only stdout line.
//! - `token HANDLE` (or `token create HANDLE`) `[--name NAME]`: another token, printed so.
//! - `token list HANDLE`: the user's tokens, one line each (id, name, created, last used,
//!   revoked) — never a secret: only hashes are stored, so no token can be shown again.
//! - `token revoke ID`: revokes a token (and the browser sessions signed in with it).
//! - `disable HANDLE`: refuses every credential of the user and cancels their pending runs
//!   as `qrun run cancel` would; `enable HANDLE` lets them in again.
//! - `grant HANDLE ROLE`, `revoke HANDLE ROLE`: gives the user a role (`operator`: the
//!   console's `/admin/runs`, docs/DESIGN.md §15) or takes it back, audited
//!   (`user.role_granted`, `user.role_revoked`).
//!
//! The service refuses a credential changed here within `auth.token_cache_ttl_s` (its nodes
//! cache answers that long; this process is none of them), and the lines printed say so.
//!
//! Exit codes: 0 done; 1 for a token that does not exist or a change that changes nothing, with
//! one line on stderr; 2 for an unknown or invalid handle, name or role.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use uuid::Uuid;

use super::run::at;
use crate::config::Config;
use crate::domain::circuit::validate_handle;
use crate::domain::credential::validate_token_name;
use crate::domain::{Role, User, escape_untrusted};
use crate::store::Store;
use crate::store::users::Revoked;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user and print a new API token (shown once) as the only line on stdout.
    Create { handle: String },
    /// API tokens: `qrun user token HANDLE` issues another (shown once, the only line on
    /// stdout; the user's other tokens keep working); `list` and `revoke` below.
    Token(TokenArgs),
    /// Disable a user: every credential of theirs is refused (within auth.token_cache_ttl_s)
    /// and their pending runs are cancelled (`"by": "operator"`); running ones finish.
    Disable { handle: String },
    /// Enable a disabled user again: their tokens and unexpired sessions work again.
    Enable { handle: String },
    /// Grant a user a role. `operator`: sees and cancels every user's runs in the console
    /// (/admin/runs). Takes effect within auth.token_cache_ttl_s.
    Grant { handle: String, role: String },
    /// Take a role back from a user (within auth.token_cache_ttl_s).
    Revoke { handle: String, role: String },
}

/// `qrun user token HANDLE [--name NAME]`, or one of [`TokenCommand`].
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: Option<TokenCommand>,
    /// Issue another token for this user (as `qrun user token create HANDLE`).
    #[arg(required = true)]
    handle: Option<String>,
    /// The new token's name: 1–64 characters, no control characters.
    #[arg(long, default_value = "cli")]
    name: String,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Issue another API token (shown once, the only line on stdout).
    Create {
        handle: String,
        /// The new token's name: 1–64 characters, no control characters.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a user's tokens, newest first: id, name, created, last used, revoked. Never a
    /// token itself (only its SHA-256 is stored).
    List { handle: String },
    /// Revoke a token by its id (from `list`); the browser sessions signed in with it end too.
    Revoke { id: String },
}

/// Runs `command` against the configured database; the exit code.
pub async fn run(store: &Store, config: &Config, command: UserCommand) -> anyhow::Result<ExitCode> {
    let ttl = config.auth.token_cache_ttl_s;
    match command {
        UserCommand::Create { handle } => create(store, &handle).await,
        UserCommand::Token(TokenArgs {
            command: Some(TokenCommand::Create { handle, name }),
            ..
        })
        | UserCommand::Token(TokenArgs {
            command: None,
            handle: Some(handle),
            name,
        }) => issue(store, &handle, &name).await,
        UserCommand::Token(TokenArgs {
            command: Some(TokenCommand::List { handle }),
            ..
        }) => list(store, &handle).await,
        UserCommand::Token(TokenArgs {
            command: Some(TokenCommand::Revoke { id }),
            ..
        }) => revoke(store, &id, ttl).await,
        UserCommand::Token(TokenArgs {
            command: None,
            handle: None,
            ..
        }) => {
            // clap requires the handle when no subcommand is given.
            eprintln!("qrun: `qrun user token` needs a HANDLE or a subcommand");
            Ok(ExitCode::from(2))
        }
        UserCommand::Disable { handle } => disable(store, &handle, ttl).await,
        UserCommand::Enable { handle } => enable(store, &handle).await,
        UserCommand::Grant { handle, role } => set_role(store, &handle, &role, true, ttl).await,
        UserCommand::Revoke { handle, role } => set_role(store, &handle, &role, false, ttl).await,
    }
}

/// One line on stderr, exit `code`.
fn refuse(line: &str, code: u8) -> ExitCode {
    eprintln!("qrun: {line}");
    ExitCode::from(code)
}

/// The user `handle` names, or the exit code of its refusal (2).
async fn find(store: &Store, handle: &str) -> anyhow::Result<Result<User, ExitCode>> {
    Ok(store
        .user_by_handle(handle)
        .await?
        .ok_or_else(|| refuse(&format!("no user `{}`", escape_untrusted(handle)), 2)))
}

async fn create(store: &Store, handle: &str) -> anyhow::Result<ExitCode> {
    if let Err(err) = validate_handle(handle) {
        return Ok(refuse(&err.to_string(), 2));
    }
    match store.create_user(handle).await {
        Ok((_, token)) => {
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) if err.unique_violation().is_some() => {
            Ok(refuse(&format!("user `{handle}` already exists"), 2))
        }
        Err(err) => Err(err.into()),
    }
}

async fn issue(store: &Store, handle: &str, name: &str) -> anyhow::Result<ExitCode> {
    if let Err(err) = validate_token_name(name) {
        return Ok(refuse(&err.to_string(), 2));
    }
    let user = match find(store, handle).await? {
        Ok(user) => user,
        Err(code) => return Ok(code),
    };
    let (_, token) = store.create_token(user.id, name).await?;
    if user.disabled_at.is_some() {
        eprintln!(
            "qrun: note: user `{handle}` is disabled; the token works once `qrun user enable` \
             lets them in again"
        );
    }
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

/// `when`, or `-`.
fn maybe_at(when: Option<chrono::DateTime<chrono::Utc>>) -> String {
    when.map(at).unwrap_or_else(|| "-".into())
}

async fn list(store: &Store, handle: &str) -> anyhow::Result<ExitCode> {
    let user = match find(store, handle).await? {
        Ok(user) => user,
        Err(code) => return Ok(code),
    };
    let line = |id: &str, name: &str, created: &str, used: &str, revoked: &str| {
        format!("{id:<36}  {name:<24}  {created:<27}  {used:<27}  {revoked:<27}")
    };
    println!(
        "{}",
        line("ID", "NAME", "CREATED", "LAST USED", "REVOKED").trim_end()
    );
    for token in store.tokens_of(user.id).await? {
        let text = line(
            &token.id.to_string(),
            &token.name,
            &at(token.created_at),
            &maybe_at(token.last_used_at),
            &maybe_at(token.revoked_at),
        );
        println!("{}", escape_untrusted(text.trim_end()));
    }
    Ok(ExitCode::SUCCESS)
}

async fn revoke(store: &Store, id: &str, ttl_s: u64) -> anyhow::Result<ExitCode> {
    let Ok(uuid) = Uuid::parse_str(id.trim()) else {
        return Ok(refuse(
            &format!("`{}` is not a token id", escape_untrusted(id)),
            1,
        ));
    };
    match store
        .revoke_token(uuid, None, crate::domain::ChangedBy::Operator)
        .await?
    {
        Revoked::Now(token) => {
            let owner = store.user(token.user_id).await?;
            let line = format!(
                "revoked token {uuid} ({} of {}); refused everywhere within {ttl_s} s \
                 (auth.token_cache_ttl_s)",
                token.name,
                owner.map(|u| u.handle).unwrap_or_else(|| "?".into())
            );
            println!("{}", escape_untrusted(&line));
            Ok(ExitCode::SUCCESS)
        }
        Revoked::Already(_) => Ok(refuse(
            &format!("token {uuid} is already revoked; nothing changed"),
            1,
        )),
        Revoked::NotFound => Ok(refuse(&format!("no token {uuid}"), 1)),
    }
}

/// Disables the user and cancels their pending runs — again when they already were disabled:
/// a node that still held one of their credentials in its cache may have accepted a run since.
async fn disable(store: &Store, handle: &str, ttl_s: u64) -> anyhow::Result<ExitCode> {
    let user = match find(store, handle).await? {
        Ok(user) => user,
        Err(code) => return Ok(code),
    };
    let now = store.set_disabled(user.id, true).await? == Some(true);
    let cancelled = store.cancel_pending_runs_of(user.id).await?;
    let runs = if cancelled == 1 { "run" } else { "runs" };
    if now {
        println!(
            "disabled user {handle}: cancelled {cancelled} pending {runs}; their credentials \
             are refused everywhere within {ttl_s} s (auth.token_cache_ttl_s)"
        );
    } else {
        println!("user {handle} was already disabled: cancelled {cancelled} pending {runs}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn enable(store: &Store, handle: &str) -> anyhow::Result<ExitCode> {
    let user = match find(store, handle).await? {
        Ok(user) => user,
        Err(code) => return Ok(code),
    };
    if store.set_disabled(user.id, false).await? == Some(true) {
        println!("enabled user {handle}");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(refuse(
            &format!("user `{handle}` is not disabled; nothing changed"),
            1,
        ))
    }
}

/// Grants (`granted`) or revokes the role `role` of the user `handle`.
async fn set_role(
    store: &Store,
    handle: &str,
    role: &str,
    granted: bool,
    ttl_s: u64,
) -> anyhow::Result<ExitCode> {
    let role: Role = match role.parse() {
        Ok(role) => role,
        Err(err) => return Ok(refuse(&escape_untrusted(&err.to_string()), 2)),
    };
    let user = match find(store, handle).await? {
        Ok(user) => user,
        Err(code) => return Ok(code),
    };
    let changed = store.set_role(user.id, role, granted).await? == Some(true);
    match (changed, granted) {
        (true, true) => println!(
            "granted the {role} role to {handle}; in effect everywhere within {ttl_s} s \
             (auth.token_cache_ttl_s)"
        ),
        (true, false) => println!(
            "revoked the {role} role from {handle}; in effect everywhere within {ttl_s} s \
             (auth.token_cache_ttl_s)"
        ),
        (false, true) => {
            return Ok(refuse(
                &format!("user `{handle}` already holds the {role} role; nothing changed"),
                1,
            ));
        }
        (false, false) => {
            return Ok(refuse(
                &format!("user `{handle}` does not hold the {role} role; nothing changed"),
                1,
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
