//! `tutti init`.

use std::path::Path;
use std::process::ExitCode;

use tutti_core::ClusterSecret;
use tutti_core::config::IniFile;
use tutti_core::config::schema::ALL_FILES;
use tutti_core::root::{InitOptions, InitReport, init};

use crate::cli::{InitArgs, InitOptionArgs};
use crate::fail;

pub fn run(args: &InitArgs) -> ExitCode {
    match initialise(&args.root.root, &args.options) {
        Ok(report) => {
            print_report(&args.root.root, &report);
            ExitCode::SUCCESS
        }
        Err(message) => fail(message),
    }
}

/// Runs `init` with the command-line options; the error is one sentence.
pub fn initialise(root: &Path, args: &InitOptionArgs) -> Result<InitReport, String> {
    let cluster_secret = match (
        &args.cluster_secret_file,
        std::env::var("TUTTI_CLUSTER_SECRET"),
    ) {
        (Some(file), _) => Some(secret_from_file(file)?),
        (None, Ok(text)) => {
            Some(ClusterSecret::parse(&text).map_err(|e| format!("TUTTI_CLUSTER_SECRET: {e}"))?)
        }
        (None, Err(_)) => None,
    };
    let opts = InitOptions {
        components: match &args.components {
            Some(list) => {
                let mut list = list.clone();
                list.sort();
                list.dedup();
                list
            }
            None => tutti_core::Component::ALL.to_vec(),
        },
        port: args.port,
        bind_address: args.bind_address,
        host_name: args.host_name.clone(),
        hub_host: args.hub_host.clone(),
        tracker_host: args.tracker_host.clone(),
        cluster_secret,
    };
    let mut report = init(root, &opts).map_err(|e| e.to_string())?;
    // A Hub that never ran gets its one-time setup password now, so that the administrator
    // can read it before the first start.
    if opts.components.contains(&tutti_core::Component::Hub)
        && !root.join("hub/accountreg/accountreg.sqlite").exists()
    {
        let file = tutti_hub::setup_password::path(root);
        tutti_hub::setup_password::ensure(root)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        report.setup_password = Some(file);
    }
    Ok(report)
}

/// The secret in `file`: either an INI file of an installation or a file with the secret.
fn secret_from_file(file: &Path) -> Result<ClusterSecret, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let entries = tutti_core::properties::parse(text.as_bytes()).unwrap_or_default();
    if entries.iter().any(|e| e.key == "ClusterSecret") {
        let spec = ALL_FILES[1];
        let ini = IniFile::from_entries(file.to_path_buf(), spec, entries);
        return ini
            .get::<ClusterSecret>("ClusterSecret")
            .map_err(|e| e.to_string());
    }
    ClusterSecret::parse(text.lines().next().unwrap_or(""))
        .map_err(|e| format!("{}: {e}", file.display()))
}

pub fn print_report(root: &Path, report: &InitReport) {
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    say!("Installation root {}:", root.display());
    for path in &report.written {
        say!("  wrote {}", rel(path));
    }
    for path in &report.kept {
        say!("  kept  {} (it exists; init never overwrites)", rel(path));
    }
    for note in &report.notes {
        say!("  note: {note}");
    }
    if let Some(file) = &report.setup_password {
        say!(
            "The administrator's one-time setup password is in {} (readable by this user only). \
             Log in to the Hub (/hub) with it and choose your own; the file is then removed.",
            file.display()
        );
    }
    if report.generated_secret {
        say!(
            "A new ClusterSecret was written into every component INI file. A server that joins \
             this installation needs the same one: tutti init --cluster-secret-file {}/hub/hub.ini (or any INI file of this root).",
            root.display()
        );
    }
}
