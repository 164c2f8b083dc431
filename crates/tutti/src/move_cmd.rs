//! `tutti move COMPONENT --from DIR --to DIR`: the reference's procedure for moving a
//! component to another server (section 15.2). Both roots are stopped; the new one was made
//! by `tutti init` with the component. It copies exactly the files the reference names (the
//! internal database only when the User Interface uses it), then prints which INI keys on
//! which servers must change next. The keys that say where this server reaches its peers
//! (RegistryHubHost, TrackerHost) stay as the new root's `init` wrote them: the old
//! server's values are its own view (often its loopback address).

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use tutti_core::Component;
use tutti_core::config::{DatabaseConfig, Installation, ServerConfig};

use tutti_core::config::schema::peer_host_keys;

use crate::address_keys;
use crate::cli::MoveArgs;
use crate::fail;

/// The files and folders of `component` that move, relative to the root: those a backup
/// holds, without `lui/database` when the system database is elsewhere.
fn moving(component: Component, installation: &Installation) -> Vec<&'static str> {
    let external = installation
        .lui
        .as_ref()
        .is_some_and(|l| l.database != DatabaseConfig::Internal);
    tutti_core::backup::component_paths(component)
        .iter()
        .copied()
        .filter(|p| !(external && *p == "lui/database"))
        .collect()
}

/// Whether something answers on the root's port (a running `tutti serve`).
pub(crate) fn running(server: &ServerConfig) -> bool {
    let host = server.local_host_port();
    let ip = host.host.trim_matches(['[', ']']).parse();
    ip.is_ok_and(|ip| {
        TcpStream::connect_timeout(&SocketAddr::new(ip, server.port), Duration::from_secs(1))
            .is_ok()
    })
}

/// Where the component is reached at its new place, `host:port`.
fn new_place(server: &ServerConfig) -> String {
    match server.advertised_host() {
        Some(host) => format!("{host}:{}", server.port),
        None => format!("THIS-SERVER'S-NAME:{}", server.port),
    }
}

/// What must change after the copy, on which servers.
fn next_steps(component: Component, place: &str) -> Vec<String> {
    match component {
        Component::Hub => vec![
            format!("On every server of the installation, set RegistryHubHost={place} in lui/lui.ini, trk/tracker.ini and mailer/mailer.ini."),
            "If browsers reach the Hub under another name (a proxy), set ExternalHubHostName in lui/lui.ini.".into(),
        ],
        Component::Lui => vec![
            "Nothing else names the User Interface: start it, and log in at its new address.".into(),
            "If browsers reach it under another name (a proxy), keep ExternalHostName in lui/lui.ini and the Hub's setting \"User Interface name for browsers\" at that name.".into(),
        ],
        Component::Trk => vec![
            format!("On the User Interface's server, set TrackerHost={place} in lui/lui.ini."),
            "Every message already sent links to the old Tracker's external name (the Hub's Tracking URL): point that name at the new server (DNS or the proxy), or keep the old Tracker running until no one clicks those links any more.".into(),
        ],
        Component::Mailer => vec![
            format!("In the Hub (Settings), set the mailer connection's host to {place} (globally, and in every group or user that overrides it)."),
            "If DkimKeys in mailer/mailer.ini names key files outside the root, copy them to the same paths on the new server.".into(),
        ],
    }
}

/// Puts the new root's peer host keys (`before`, read before the copy) back into the copied
/// INI file; `old` are the old server's. Returns what it did and what is left to check.
fn keep_peer_keys(
    to: &Path,
    component: Component,
    before: &[Option<String>],
    old: &[Option<String>],
) -> Result<(Vec<String>, Vec<String>), String> {
    let file = component.ini_file();
    let path = to.join(file);
    let mut text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (mut kept, mut checks) = (Vec::new(), Vec::new());
    let keys = peer_host_keys(component);
    for (((key, peer), here), there) in keys.iter().zip(before).zip(old) {
        let peer = address_keys::peer_title(*peer);
        match (here, there) {
            (Some(here), Some(there)) if address_keys::same_place(here, there) => {}
            (Some(here), there) => {
                text = tutti_core::properties::set_in_text(&text, key, here)
                    .map_err(|e| format!("{}, line {}: {}", path.display(), e.line, e.message))?;
                let was = there.as_deref().unwrap_or("not set");
                kept.push(format!(
                    "kept {key}={here} in {file}, as tutti init wrote it here: where this server reaches {peer} (the old server's {key} was {was}, its own view)"
                ));
            }
            (None, Some(there)) => checks.push(format!(
                "Check {key}={there} in {file}: it came from the old server ({} had no {key}); it must say where this server reaches {peer}.",
                to.display()
            )),
            (None, None) => {}
        }
    }
    fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((kept, checks))
}

/// The components of the new root whose ClusterSecret is not the moved component's.
fn other_secrets(new: &Installation, moved: Component, to: &Path) -> Vec<String> {
    let Ok(after) = Installation::load(to) else {
        return Vec::new();
    };
    let Some(secret) = after
        .common(moved)
        .map(|c| c.cluster_secret.expose().to_string())
    else {
        return Vec::new();
    };
    new.server
        .components
        .iter()
        .filter(|c| **c != moved)
        .filter(|c| {
            after
                .common(**c)
                .is_some_and(|o| o.cluster_secret.expose() != secret)
        })
        .map(|c| {
            format!(
                "The {moved} brought the installation's ClusterSecret with it; {} in {} has another one: give it the same (every INI file of an installation has one ClusterSecret).",
                c.ini_file(),
                to.display(),
                moved = moved.title()
            )
        })
        .collect()
}

/// Turns the old Tracker into one that hands over to `successor`: a new instance id (the
/// successor took the old one), hand-over from the end of its log, `HandOverTo` set.
fn hand_over(from: &Path, successor: &str) -> Result<(), String> {
    let data = from.join(Component::Trk.data_dir());
    let id = data.join("instance-id");
    match fs::remove_file(&id) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove {}: {e}", id.display())),
    }
    tutti_trk::prepare_hand_over(&data)
        .map_err(|e| format!("cannot prepare {} to hand over: {e}", data.display()))?;
    let ini = from.join(Component::Trk.ini_file());
    let text =
        fs::read_to_string(&ini).map_err(|e| format!("cannot read {}: {e}", ini.display()))?;
    let text = tutti_core::properties::set_in_text(&text, "HandOverTo", successor)
        .map_err(|e| format!("{}, line {}: {}", ini.display(), e.line, e.message))?;
    fs::write(&ini, text).map_err(|e| format!("cannot write {}: {e}", ini.display()))
}

pub fn run(args: &MoveArgs) -> ExitCode {
    let component: Component = match args.component.parse() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let (old, new) = match (Installation::load(&args.from), Installation::load(&args.to)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    for (name, installation, root) in [("--from", &old, &args.from), ("--to", &new, &args.to)] {
        if !installation.server.components.contains(&component) {
            return fail(format!(
                "{name} {} does not run the {} (Components in server.ini); on the new server run tutti init --root DIR --components {} first",
                root.display(),
                component.title(),
                component.name()
            ));
        }
        if running(&installation.server) {
            return fail(format!(
                "{name} {}: something answers on port {}: stop tutti serve on both servers before moving",
                root.display(),
                installation.server.port
            ));
        }
    }
    if args.hand_over && component != Component::Trk {
        return fail("--hand-over is for the Tracker (trk) only");
    }
    // This server's view of its peers, as init wrote it, before the copy replaces the file.
    let (here, there) = match (
        address_keys::peer_values(&args.to, component),
        address_keys::peer_values(&args.from, component),
    ) {
        (Ok(here), Ok(there)) => (here, there),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let files = moving(component, &old);
    for file in &files {
        let (from, to) = (args.from.join(file), args.to.join(file));
        if !from.exists() {
            say!("  {file}: not in {} (nothing to copy)", args.from.display());
            continue;
        }
        let replaced = if to.is_dir() {
            fs::remove_dir_all(&to)
        } else if to.exists() {
            fs::remove_file(&to)
        } else {
            Ok(())
        };
        if let Err(e) = replaced {
            return fail(format!("cannot replace {}: {e}", to.display()));
        }
        let mut copied = tutti_core::backup::Copied::default();
        if let Err(e) = tutti_core::backup::copy_path(&args.from, &from, &args.to, &mut copied) {
            return fail(format!("cannot copy {}: {e}", from.display()));
        }
        say!("  copied {file} ({} bytes)", copied.bytes);
    }
    let mut checks = Vec::new();
    if args.from.join(component.ini_file()).exists() {
        match keep_peer_keys(&args.to, component, &here, &there) {
            Ok((kept, mut left)) => {
                for line in kept {
                    say!("  {line}");
                }
                checks.append(&mut left);
            }
            Err(e) => return fail(e),
        }
    }
    checks.extend(address_keys::own_address_checks(
        &args.to,
        component,
        Some(&old.server),
    ));
    checks.extend(other_secrets(&new, component, &args.to));
    say!(
        "The {} is copied to {}. Before you start it there:",
        component.title(),
        args.to.display()
    );
    for check in &checks {
        say!("  - {check}");
    }
    let place = new_place(&new.server);
    if args.hand_over {
        if let Err(e) = hand_over(&args.from, &place) {
            return fail(e);
        }
        say!("  - On the User Interface's server, set TrackerHost={place} in lui/lui.ini.");
        say!(
            "  - In the Hub, set the Tracking URL to the new Tracker's external name, for the messages sent from now on."
        );
        say!(
            "Then start both. The old Tracker (in {}) has a new instance id and HandOverTo={place}: it answers the links already sent and hands every event to the new one. Keep it running as long as those links matter.",
            args.from.display()
        );
        return ExitCode::SUCCESS;
    }
    for step in next_steps(component, &place) {
        say!("  - {step}");
    }
    say!(
        "Then remove {} from Components in {}/server.ini (or the root), so that it does not start twice.",
        component.name(),
        args.from.display()
    );
    ExitCode::SUCCESS
}
