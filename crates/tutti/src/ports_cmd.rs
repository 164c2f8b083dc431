//! `tutti ports`: the firewall matrix of this server's configuration (reference section
//! 11): every port it listens on or calls out to, who talks over it, and which must face
//! the Internet.

use std::process::ExitCode;

use tutti_core::Component;
use tutti_core::config::{DatabaseConfig, Installation};

use crate::cli::RootArg;
use crate::fail;

/// One line of the matrix.
struct Rule {
    direction: &'static str,
    port: String,
    peer: String,
    why: String,
    internet: bool,
}

/// A host as the matrix names it: a loopback name is this server.
fn place(host: &str) -> String {
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        format!("{host} (this server)")
    } else {
        host.to_string()
    }
}

fn rules(installation: &Installation) -> Vec<Rule> {
    let server = &installation.server;
    let runs = |c: Component| server.components.contains(&c);
    let mut listen_ports = vec![server.port.to_string()];
    if let Some(ssl) = &server.ssl {
        listen_ports.push(ssl.port.to_string());
    }
    let mut rules = Vec::new();
    let mut inbound = |peer: &str, why: &str, internet: bool| {
        for port in &listen_ports {
            rules.push(Rule {
                direction: "in",
                port: format!("tcp/{port}"),
                peer: peer.to_string(),
                why: why.to_string(),
                internet,
            });
        }
    };
    if runs(Component::Trk) {
        inbound(
            "mail readers",
            "opens, clicks and unsubscribes of every message sent",
            true,
        );
        inbound("User Interface", "link tables, the event feed", false);
    }
    if runs(Component::Lui) {
        inbound(
            "users' browsers",
            "the User Interface's pages and API",
            false,
        );
    }
    if runs(Component::Hub) {
        inbound("administrators' browsers", "the console and its API", false);
        inbound(
            "User Interface, Tracker, Mailer",
            "announcements, logins, settings (the registry)",
            false,
        );
    }
    if runs(Component::Mailer) {
        inbound("User Interface", "distribute jobs, delivery events", false);
    }
    let mut outbound = |port: String, peer: String, why: &str| {
        rules.push(Rule {
            direction: "out",
            port,
            peer,
            why: why.to_string(),
            internet: false,
        });
    };
    let hub_of = |host: &tutti_core::HostPort| {
        (
            format!("tcp/{}", host.port),
            format!("Hub at {}", place(&host.host)),
        )
    };
    if let Some(lui) = &installation.lui {
        let (port, peer) = hub_of(&lui.registry_hub_host);
        outbound(port, peer, "logins, settings, announcements");
        outbound(
            format!("tcp/{}", lui.tracker_host.port),
            format!("Tracker at {}", place(&lui.tracker_host.host)),
            "link tables, the event feed",
        );
        outbound(
            "the Mailers' ports".into(),
            "each Mailer of a mailer connection in the Hub".into(),
            "jobs and their recipients, delivery events",
        );
        if let DatabaseConfig::Postgresql(url) = &lui.database
            && let Ok(u) = url::Url::parse(url)
        {
            outbound(
                format!("tcp/{}", u.port().unwrap_or(5432)),
                format!("PostgreSQL at {}", u.host_str().unwrap_or_default()),
                "the system database",
            );
        }
    }
    if let Some(trk) = &installation.trk {
        let (port, peer) = hub_of(&trk.registry_hub_host);
        outbound(port, peer, "announcements");
        if let Some(successor) = &trk.hand_over_to {
            outbound(
                format!("tcp/{}", successor.port),
                format!("successor Tracker at {}", place(&successor.host)),
                "every event recorded, handed over (HandOverTo)",
            );
        }
    }
    if let Some(mailer) = &installation.mailer {
        let (port, peer) = hub_of(&mailer.registry_hub_host);
        outbound(port, peer, "announcements");
        for relay in &mailer.relays {
            outbound(
                format!("tcp/{}", relay.port),
                format!("SMTP relay {}", relay.host),
                "every message sent",
            );
        }
        if let Some(listener) = &mailer.bounce_listener {
            rules.push(Rule {
                direction: "in",
                port: format!("tcp/{}", listener.rsplit_once(':').map_or("25", |(_, p)| p)),
                peer: "mail servers returning mail".into(),
                why: "bounces and complaints (BounceListener)".into(),
                internet: true,
            });
        }
    }
    rules
}

pub fn run(args: &RootArg) -> ExitCode {
    let installation = match Installation::load(&args.root) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let rules = rules(&installation);
    let width = |f: &dyn Fn(&Rule) -> usize| rules.iter().map(f).max().unwrap_or(0);
    let (wp, wpeer) = (
        width(&|r| r.port.len()).max(4),
        width(&|r| r.peer.len()).max(4),
    );
    say!(
        "Ports of {} (components: {}):",
        args.root.display(),
        installation
            .server
            .components
            .iter()
            .map(|c| c.prefix().trim_start_matches('/'))
            .collect::<Vec<_>>()
            .join(", ")
    );
    say!(
        "{:<4} {:<wp$} {:<wpeer$} {:<8} why",
        "dir",
        "port",
        "peer",
        "internet"
    );
    for r in &rules {
        say!(
            "{:<4} {:<wp$} {:<wpeer$} {:<8} {}",
            r.direction,
            r.port,
            r.peer,
            if r.internet { "yes" } else { "no" },
            r.why
        );
    }
    if rules.iter().any(|r| r.internet) {
        say!("Only the lines marked \"yes\" need to be reachable from the Internet.");
    }
    ExitCode::SUCCESS
}
