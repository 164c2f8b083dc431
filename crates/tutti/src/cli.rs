//! The command line.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tutti_core::HostPort;

#[derive(Debug, Parser)]
#[command(
    name = "tutti",
    version,
    about = "Tutti: self-hosted email jobs (Administration Hub, User Interface, Tracker, Mailer)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an installation root: server.ini, the INI file of each component, its folders.
    Init(InitArgs),
    /// Run the components listed in server.ini (initialising an empty root first).
    Serve(ServeArgs),
    /// Check the configuration and every peer it names: reachable, and the secret accepted.
    Check(RootArg),
    /// Print the firewall matrix of this server: each port, direction, who talks over it,
    /// and what must face the Internet.
    Ports(RootArg),
    /// Back up every component of the installation now (the Hub asks each to snapshot its
    /// data into its backup folder and writes a report); with --to, copy this root instead,
    /// consistently, while it runs.
    Backup(BackupArgs),
    /// Restore the components of this root (stopped) from a backup in their backup folders,
    /// INI files included; names the host keys to check when the backup's addresses are not
    /// this root's (a backup from another server).
    Restore(RestoreArgs),
    /// Move a component (hub, lui, trk, mailer) to another server's root, as the reference's
    /// section 15.2 describes: copies its INI file and data, keeping the new root's
    /// RegistryHubHost and TrackerHost (where the new server reaches its peers), then says
    /// which INI keys on which servers to change. Both roots must be stopped; make the new
    /// one with tutti init.
    Move(MoveArgs),
    /// Administration Hub tasks that work while it is stopped.
    #[command(subcommand)]
    Hub(HubCommand),
    /// User Interface tasks that work while it is stopped.
    #[command(subcommand)]
    Lui(LuiCommand),
}

#[derive(Debug, Args)]
pub struct MoveArgs {
    /// hub, lui, trk or mailer
    pub component: String,
    /// The old server's installation root.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The new server's installation root (made by tutti init with the component).
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// trk only: the old Tracker stays, answers the links already sent, and hands every
    /// event it records to the new one (HandOverTo in its tracker.ini).
    #[arg(long)]
    pub hand_over: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// Copy this root into this empty or new folder instead of asking the Hub.
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// The backup's id (YYYYMMDD-HHMMSS), a folder in each component's backup folder.
    #[arg(long, value_name = "ID")]
    pub backup: String,
    /// Only this component (hub, lui, trk or mailer); default: every one this root runs.
    #[arg(long, value_name = "COMPONENT")]
    pub component: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LuiCommand {
    /// Move all of the system database to PostgreSQL (a URL) or back to the internal one
    /// (`internal`), then point lui/lui.ini at it. Stop the User Interface first; the target
    /// must be empty; the source is left as it was.
    MoveDatabase(MoveDatabaseArgs),
}

#[derive(Debug, Args)]
pub struct MoveDatabaseArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// `internal`, or postgres://user:password@host:port/database
    #[arg(long, value_name = "URL")]
    pub to: String,
}

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Set a new administrator password, read from standard input (the password cannot be
    /// recovered, only replaced). Ends every administrator session.
    ResetAdminPassword(RootArg),
}

#[derive(Debug, Args)]
pub struct RootArg {
    /// The installation root.
    #[arg(long, env = "TUTTI_ROOT", value_name = "DIR")]
    pub root: PathBuf,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub root: RootArg,
    #[command(flatten)]
    pub options: InitOptionArgs,
}

/// Options that `init` writes into the new files (and `serve` uses for an empty root).
#[derive(Debug, Args, Clone)]
pub struct InitOptionArgs {
    /// Components this server runs, e.g. hub,lui (default: all four).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_component)]
    pub components: Option<Vec<tutti_core::Component>>,
    /// HTTP port (default 80). With serve it also overrides Port of an existing server.ini.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Address to listen on (default 0.0.0.0: every IPv4 address).
    #[arg(long, value_name = "IP")]
    pub bind_address: Option<IpAddr>,
    /// Name under which the other components reach this server.
    #[arg(long, value_name = "NAME")]
    pub host_name: Option<String>,
    /// Where the Hub is, when it runs on another server.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_host_port)]
    pub hub_host: Option<HostPort>,
    /// Where the Tracker is, when it runs on another server.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_host_port)]
    pub tracker_host: Option<HostPort>,
    /// File holding the installation's ClusterSecret, or an INI file of the installation
    /// that holds it (e.g. a copy of hub/hub.ini from the first server).
    #[arg(long, value_name = "FILE")]
    pub cluster_secret_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub root: RootArg,
    #[command(flatten)]
    pub options: InitOptionArgs,
}

fn parse_component(s: &str) -> Result<tutti_core::Component, String> {
    s.parse()
}

fn parse_host_port(s: &str) -> Result<HostPort, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn component_list_parses() {
        let cli = Cli::try_parse_from(["tutti", "init", "--root", "/x", "--components", "trk,hub"])
            .unwrap();
        let Command::Init(args) = cli.command else {
            panic!("init")
        };
        assert_eq!(
            args.options.components.unwrap(),
            vec![tutti_core::Component::Trk, tutti_core::Component::Hub]
        );
        assert!(
            Cli::try_parse_from(["tutti", "init", "--root", "/x", "--components", "hub,web"])
                .is_err()
        );
    }
}
