//! `tutti backup`: a consistent copy of an installation root while it runs. SQLite
//! databases go through SQLite's online backup (a snapshot, whatever the writers do);
//! everything else is copied as it is, except logs, backups, uploads being imported, and
//! SQLite's own -wal and -shm files (the snapshot holds their content).

use std::path::Path;
use std::process::ExitCode;

use tutti_core::Component;
use tutti_core::backup::{Copied, copy_path};
use tutti_core::config::schema::peer_host_keys;
use tutti_core::config::{Installation, ServerConfig};
use tutti_hub::BackupReport;

use crate::address_keys;
use crate::cli::{BackupArgs, RestoreArgs};
use crate::fail;

pub fn run(args: &BackupArgs) -> ExitCode {
    match &args.to {
        Some(to) => copy_root(&args.root.root, to),
        None => ask_the_hub(&args.root.root),
    }
}

/// Asks the installation's Hub for a backup of every component and prints its report.
fn ask_the_hub(root: &Path) -> ExitCode {
    let installation = match Installation::load(root) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let (hub, secret) = if let Some(hub) = &installation.hub {
        (
            installation.server.local_host_port(),
            hub.common.cluster_secret.clone(),
        )
    } else if let Some(c) = &installation.lui {
        (c.registry_hub_host.clone(), c.common.cluster_secret.clone())
    } else if let Some(c) = &installation.trk {
        (c.registry_hub_host.clone(), c.common.cluster_secret.clone())
    } else if let Some(c) = &installation.mailer {
        (c.registry_hub_host.clone(), c.common.cluster_secret.clone())
    } else {
        return fail("server.ini lists no component");
    };
    let url = format!("{}/hub/api/backups", hub.base_url());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let http = match tutti_core::client::http_client(&installation.server) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let answer = runtime.block_on(async {
        let response = http
            .post(&url)
            .bearer_auth(secret.expose())
            .timeout(std::time::Duration::from_secs(3600))
            .send()
            .await
            .map_err(|e| format!("the Hub at {url} did not answer: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let said = response.text().await.unwrap_or_default();
            return Err(format!("the Hub refused ({status}): {said}"));
        }
        response
            .json::<BackupReport>()
            .await
            .map_err(|e| format!("the Hub's answer is not a backup report: {e}"))
    });
    let report = match answer {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match std::fs::read_to_string(&report.report_file) {
        Ok(text) => print!("{text}"),
        Err(_) => say!(
            "Backup {} done; the Hub's report is {} on its server.",
            report.id,
            report.report_file
        ),
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `tutti restore`: puts a backup back into this (stopped) root.
pub fn restore(args: &RestoreArgs) -> ExitCode {
    let root = &args.root.root;
    let installation = match Installation::load(root) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if crate::move_cmd::running(&installation.server) {
        return fail(format!(
            "{}: something answers on port {}: stop tutti serve before restoring",
            root.display(),
            installation.server.port
        ));
    }
    let components = match &args.component {
        Some(name) => match name.parse::<Component>() {
            Ok(c) => vec![c],
            Err(e) => return fail(e),
        },
        None => installation.server.components.clone(),
    };
    // The root's own view of its peers, before the backup's INI files replace it.
    let mut before = Vec::new();
    for component in &components {
        match address_keys::peer_values(root, *component) {
            Ok(values) => before.push(values),
            Err(e) => return fail(e),
        }
    }
    for &component in &components {
        match tutti_core::backup::restore(root, component, &args.backup) {
            Ok(paths) => say!(
                "Restored the {} from backup {}: {}",
                component.title(),
                args.backup,
                paths.join(", ")
            ),
            Err(e) => return fail(e),
        }
    }
    let checks = address_checks(root, &installation.server, &components, &before);
    if !checks.is_empty() {
        say!(
            "Check these keys before you start it: the backup names other addresses than this root (was it taken on another server?)."
        );
        for check in &checks {
            say!("  - {check}");
        }
        say!(
            "On another server, set them to where this server reaches its peers. The restored components keep their instance ids: while they report to the old installation's Hub, it lists them in place of the old ones."
        );
    }
    say!("Start it with tutti serve --root {}.", root.display());
    ExitCode::SUCCESS
}

/// What to check after a restore: the peer host keys the backup brought that are not what
/// this root had (`before`) or do not fit this root's own listener when it runs that peer,
/// and then the components' own address keys that name a loopback address.
fn address_checks(
    root: &Path,
    server: &ServerConfig,
    components: &[Component],
    before: &[Vec<Option<String>>],
) -> Vec<String> {
    let mut checks = Vec::new();
    for (component, before) in components.iter().zip(before) {
        let file = component.ini_file();
        let Ok(after) = address_keys::peer_values(root, *component) else {
            continue;
        };
        let keys = peer_host_keys(*component);
        for (((key, peer), had), restored) in keys.iter().zip(before).zip(&after) {
            let Some(restored) = restored else { continue };
            let title = address_keys::peer_title(*peer);
            let mut why = Vec::new();
            if let Some(had) = had
                && !address_keys::same_place(had, restored)
            {
                why.push(format!("this root had {had}"));
            }
            if server.components.contains(peer)
                && address_keys::fits_server(restored, server) == Some(false)
            {
                why.push(format!(
                    "this server runs {title} itself, at {}",
                    server.local_host_port()
                ));
            }
            if !why.is_empty() {
                checks.push(format!(
                    "{key}={restored} in {file} (from the backup): {}; it must say where this server reaches {title}.",
                    why.join(", and ")
                ));
            }
        }
    }
    if !checks.is_empty() {
        for component in components {
            checks.extend(address_keys::own_address_checks(root, *component, None));
        }
    }
    checks
}

fn copy_root(root: &Path, to: &Path) -> ExitCode {
    if !root.join("server.ini").is_file() {
        return fail(format!(
            "{} is not an installation root (no server.ini)",
            root.display()
        ));
    }
    if to.exists()
        && std::fs::read_dir(to)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return fail(format!(
            "{} is not empty: back up into a new folder",
            to.display()
        ));
    }
    if let Err(e) = std::fs::create_dir_all(to) {
        return fail(format!("cannot create {}: {e}", to.display()));
    }
    let mut copied = Copied::default();
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) => return fail(format!("cannot read {}: {e}", root.display())),
    };
    for entry in entries.flatten() {
        if let Err(e) = copy_path(root, &entry.path(), to, &mut copied) {
            return fail(format!("the backup is incomplete: {e}"));
        }
    }
    say!(
        "Backed up {} into {}: {} databases (consistent snapshots) and {} other files.",
        root.display(),
        to.display(),
        copied.databases.len(),
        copied.files
    );
    for db in &copied.databases {
        say!("  {}", db.display());
    }
    let lui_ini = std::fs::read_to_string(root.join("lui/lui.ini")).unwrap_or_default();
    if lui_ini
        .lines()
        .any(|l| l.trim().eq_ignore_ascii_case("DatabaseType=postgresql"))
    {
        say!(
            "The User Interface's system database is in PostgreSQL: back it up with pg_dump as well."
        );
    }
    ExitCode::SUCCESS
}
