//! `tutti`: one binary for every component of a Tutti installation.

/// Prints a line of a command's output (as `println!`). When the reader has gone
/// (`tutti ports | head -3`), the command ends quietly with the status a shell gives a
/// command stopped by SIGPIPE (141), as other Unix tools do, instead of panicking.
macro_rules! say {
    () => { $crate::say_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::say_line(format_args!($($arg)*)) };
}

mod address_keys;
mod backup_cmd;
mod check;
mod cli;
mod hand_off;
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

pub(crate) fn say_line(line: std::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}")
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(141);
    }
}

/// Prints a one-line error the way every command does, and gives the exit code for it.
pub(crate) fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("tutti: {message}");
    ExitCode::from(2)
}
