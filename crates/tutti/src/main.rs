//! `tutti`: one binary for every component of a Tutti installation.

mod backup_cmd;
mod check;
mod cli;
mod hub_cmd;
mod init_cmd;
mod listen;
mod lui_cmd;
mod move_cmd;
mod ports_cmd;
mod redirect;
mod serve;

use std::process::ExitCode;

use clap::Parser;

// The Tracker answers each click with a handful of short-lived allocations; mimalloc
// serves those faster than glibc's malloc across threads (bench/tracker).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // One TLS provider for the whole process (aws-lc-rs); see docs/architecture.md.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match cli.command {
        cli::Command::Init(args) => init_cmd::run(&args),
        cli::Command::Serve(args) => serve::run(args),
        cli::Command::Check(args) => check::run(&args),
        cli::Command::Backup(args) => backup_cmd::run(&args),
        cli::Command::Restore(args) => backup_cmd::restore(&args),
        cli::Command::Ports(args) => ports_cmd::run(&args),
        cli::Command::Move(args) => move_cmd::run(&args),
        cli::Command::Hub(cli::HubCommand::ResetAdminPassword(args)) => {
            hub_cmd::reset_admin_password(&args)
        }
        cli::Command::Lui(cli::LuiCommand::MoveDatabase(args)) => lui_cmd::move_database(&args),
    }
}

/// Prints a one-line error the way every command does, and gives the exit code for it.
pub(crate) fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("tutti: {message}");
    ExitCode::from(2)
}
