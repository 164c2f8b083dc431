//! `tutti check`: reads the configuration as `serve` would, then tries every peer it names.

use std::process::ExitCode;

use tutti_core::api::MailerConnectionUse;
use tutti_core::client::{HttpClient, PeerClient, http_client, probe_health};
use tutti_core::config::Installation;
use tutti_core::{ClusterSecret, Component, HostPort};

use crate::cli::RootArg;

/// One peer to try: who asks, whom, through which key.
struct Peer {
    from: Component,
    to: Component,
    key: &'static str,
    address: HostPort,
    secret: ClusterSecret,
}

pub fn run(args: &RootArg) -> ExitCode {
    let installation = match Installation::load(&args.root) {
        Ok(i) => i,
        Err(e) => {
            say!("FAIL  configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let names: Vec<&str> = installation
        .server
        .components
        .iter()
        .map(|c| c.name())
        .collect();
    say!(
        "ok    configuration: {} read; this server runs {}",
        installation.root.join("server.ini").display(),
        names.join(", ")
    );
    for warning in &installation.warnings {
        say!("warn  {warning}");
    }
    let mut config_failures = 0;
    if let Err(e) = installation.check_one_cluster_secret() {
        say!("FAIL  {e}");
        config_failures += 1;
    }
    // The key files are read as the Mailer reads them at its start.
    if let Some(mailer) = &installation.mailer
        && let Err(e) = tutti_mailer::check_dkim_keys(mailer, &installation.root)
    {
        say!("FAIL  {e}");
        config_failures += 1;
    }
    // Branding (lui/branding, hub/branding): wrong values only fall back to defaults.
    for &c in &installation.server.components {
        if matches!(c, Component::Hub | Component::Lui) {
            for warning in tutti_core::branding::load(&installation.root, c).warnings {
                say!("warn  {warning}");
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return crate::fail(format!("cannot start the async runtime: {e}")),
    };
    let failures = config_failures + runtime.block_on(check_peers(&installation));
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn peers(inst: &Installation) -> Vec<Peer> {
    let mut peers = Vec::new();
    if let Some(lui) = &inst.lui {
        let secret = lui.common.cluster_secret.clone();
        peers.push(Peer {
            from: Component::Lui,
            to: Component::Hub,
            key: "RegistryHubHost",
            address: lui.registry_hub_host.clone(),
            secret: secret.clone(),
        });
        peers.push(Peer {
            from: Component::Lui,
            to: Component::Trk,
            key: "TrackerHost",
            address: lui.tracker_host.clone(),
            secret,
        });
    }
    if let Some(trk) = &inst.trk {
        peers.push(Peer {
            from: Component::Trk,
            to: Component::Hub,
            key: "RegistryHubHost",
            address: trk.registry_hub_host.clone(),
            secret: trk.common.cluster_secret.clone(),
        });
        // A Tracker that hands over sends its events to its successor.
        if let Some(successor) = &trk.hand_over_to {
            peers.push(Peer {
                from: Component::Trk,
                to: Component::Trk,
                key: "HandOverTo",
                address: successor.clone(),
                secret: trk.common.cluster_secret.clone(),
            });
        }
    }
    if let Some(mailer) = &inst.mailer {
        peers.push(Peer {
            from: Component::Mailer,
            to: Component::Hub,
            key: "RegistryHubHost",
            address: mailer.registry_hub_host.clone(),
            secret: mailer.common.cluster_secret.clone(),
        });
    }
    if let Some(hub) = &inst.hub {
        // The Hub of this server, reached as this server's own listener.
        peers.push(Peer {
            from: Component::Hub,
            to: Component::Hub,
            key: "Port",
            address: inst.server.local_host_port(),
            secret: hub.common.cluster_secret.clone(),
        });
    }
    peers
}

/// Tries every peer; prints a line each; returns how many failed.
async fn check_peers(inst: &Installation) -> usize {
    let http = match http_client(&inst.server) {
        Ok(http) => http,
        Err(e) => {
            say!("FAIL  HTTP client: {e}");
            return 1;
        }
    };
    let mut failures = 0;
    let mut hub_to_list = None;
    for peer in peers(inst) {
        let client = PeerClient::new(
            http.clone(),
            peer.address.clone(),
            peer.to,
            peer.secret.clone(),
        );
        let via = if peer.key == "Port" {
            format!("this server's listener {}", peer.address)
        } else {
            format!("{}={} in {}", peer.key, peer.address, peer.from.ini_file())
        };
        let label = if peer.key == "Port" {
            format!("{} here", peer.to.title())
        } else if peer.key == "HandOverTo" {
            format!("{} → successor {}", peer.from.name(), peer.to.title())
        } else {
            format!("{} → {}", peer.from.name(), peer.to.title())
        };
        match client.ping().await {
            Ok(ping) => {
                say!(
                    "ok    {label} ({via}): reachable at {}, ClusterSecret accepted (instance {})",
                    client.url(""),
                    ping.instance_id
                );
                if peer.to == Component::Hub && hub_to_list.is_none() {
                    hub_to_list = Some(client);
                }
            }
            Err(e) => {
                failures += 1;
                say!("FAIL  {label} ({via}): {e}");
            }
        }
    }
    if let (Some(hub), Some(_)) = (&hub_to_list, &inst.lui) {
        failures += check_mailers(&http, hub).await;
    }
    if let Some(hub) = hub_to_list {
        match hub
            .get::<tutti_core::api::ComponentList>("/api/components")
            .await
        {
            Ok(list) => {
                say!("      components the Hub knows of:");
                for c in list.components {
                    let state = match &c.problem {
                        None => "answering".to_string(),
                        Some(p) => format!("NOT ANSWERING: {p}"),
                    };
                    say!("      - {:<18} {:<40} {state}", c.title, c.url);
                }
            }
            Err(e) => say!("warn  cannot list the Hub's components: {e}"),
        }
    }
    failures
}

/// The Mailers the Hub's mailer connections name: each must answer as a Tutti Mailer.
async fn check_mailers(http: &HttpClient, hub: &PeerClient) -> usize {
    let uses: Vec<MailerConnectionUse> = match hub.get("/api/registry/mailer-connections").await {
        Ok(u) => u,
        Err(e) => {
            say!("FAIL  lui → Mailer: cannot read the mailer connections from the Hub: {e}");
            return 1;
        }
    };
    if uses.is_empty() {
        say!(
            "warn  lui → Mailer: no mailer connection is set in the Hub (Settings → Mailer connection): jobs cannot be sent yet"
        );
        return 0;
    }
    let mut failures = 0;
    for u in uses {
        let label = format!(
            "lui → Mailer ({} as {}, set at: {})",
            u.host,
            u.client_address,
            u.set_at.join(", ")
        );
        let address = match u.host.parse::<HostPort>() {
            Ok(a) => a,
            Err(e) => {
                failures += 1;
                say!("FAIL  {label}: {e}");
                continue;
            }
        };
        match probe_health(http, &address, Component::Mailer).await {
            Ok(h) => say!(
                "ok    {label}: a Tutti Mailer answers (instance {})",
                h.instance_id
            ),
            Err(e) => {
                failures += 1;
                say!("FAIL  {label}: {e}");
            }
        }
    }
    failures
}
