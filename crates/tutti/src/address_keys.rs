//! The INI keys that name addresses, for `tutti move` and `tutti restore`: the peer host
//! keys, which describe the server a file is on (kept from the new root by a move, pointed
//! out by a restore when they are not this root's), and the component's own address keys,
//! which come along but may name the old server itself.

use std::path::Path;

use tutti_core::Component;
use tutti_core::config::ServerConfig;
use tutti_core::config::schema::{own_address_keys, peer_host_keys};
use tutti_core::hostport::HostPort;

/// The values of `keys` in the INI file at `path` (the last one wins, as when it is read;
/// empty is none). A missing file has none of them.
pub fn values(path: &Path, keys: &[&str]) -> Result<Vec<Option<String>>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![None; keys.len()]),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let entries = tutti_core::properties::parse(&bytes)
        .map_err(|e| format!("{}, line {}: {}", path.display(), e.line, e.message))?;
    Ok(keys
        .iter()
        .map(|key| {
            entries
                .iter()
                .rev()
                .find(|e| e.key == *key)
                .map(|e| e.value.trim().to_string())
                .filter(|v| !v.is_empty())
        })
        .collect())
}

/// The peer host keys of `component` with their values in the root's INI file.
pub fn peer_values(root: &Path, component: Component) -> Result<Vec<Option<String>>, String> {
    let keys: Vec<&str> = peer_host_keys(component).iter().map(|(k, _)| *k).collect();
    values(&root.join(component.ini_file()), &keys)
}

/// Whether two values of a host key name the same place (`a:80` is `a`).
pub fn same_place(a: &str, b: &str) -> bool {
    match (a.parse::<HostPort>(), b.parse::<HostPort>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim().eq_ignore_ascii_case(b.trim()),
    }
}

/// `host:port` values that do not parse are left to the component's own start to refuse.
fn host_port(text: &str) -> Option<HostPort> {
    text.parse().ok()
}

/// The hosts an address key's value names.
fn hosts(key: &str, value: &str) -> Vec<String> {
    match key {
        "DatabaseUrl" => {
            // postgres://user:password@host:port/database?...; no host is the local socket.
            let rest = value.split_once("://").map_or(value, |(_, r)| r);
            let authority = rest.split(['/', '?']).next().unwrap_or("");
            let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if authority.is_empty() {
                vec!["localhost".to_string()]
            } else {
                host_port(authority).map(|h| h.host).into_iter().collect()
            }
        }
        _ => value
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .filter_map(host_port)
            .map(|h| h.host)
            .collect(),
    }
}

fn loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `host` is one of the names `server` is known by: a loopback name, its HostName,
/// or the address it is bound to.
fn names_server(host: &str, server: &ServerConfig) -> bool {
    loopback(host)
        || server
            .host_name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(host))
        || server
            .advertised_host()
            .is_some_and(|a| a.eq_ignore_ascii_case(host))
}

/// The component's own address keys in the INI file under `root` that name `server` (the
/// server the file was written for; `None`: unknown, only loopback names count), each as a
/// line saying what to check.
pub fn own_address_checks(
    root: &Path,
    component: Component,
    server: Option<&ServerConfig>,
) -> Vec<String> {
    let keys = own_address_keys(component);
    let file = component.ini_file();
    let Ok(found) = values(&root.join(file), keys) else {
        // The component's own start names a file that does not parse.
        return Vec::new();
    };
    keys.iter()
        .zip(found)
        .filter_map(|(key, value)| {
            let value = value?;
            let host = hosts(key, &value)
                .into_iter()
                .find(|h| server.map_or_else(|| loopback(h), |s| names_server(h, s)))?;
            let shown = if *key == "DatabaseUrl" {
                // Not the password.
                format!("a database on {host}")
            } else {
                format!("{key}={value}")
            };
            Some(format!(
                "Check {key} in {file} ({shown}): it names {host}, the server the file was written for, and here means this server; make sure that is right, or change it."
            ))
        })
        .collect()
}

/// The peer a key names, for messages.
pub fn peer_title(peer: Component) -> &'static str {
    match peer {
        Component::Hub => "the Hub",
        Component::Lui => "the User Interface",
        Component::Trk => "the Tracker",
        Component::Mailer => "the Mailer",
    }
}

/// Whether a peer host key's `value` can name `server`'s own listener, when `server` runs
/// that peer: the same port (HTTP or HTTPS), and, when the server is bound to one address
/// and the value is an IP address, that address. `None` when it cannot be told.
pub fn fits_server(value: &str, server: &ServerConfig) -> Option<bool> {
    let place = host_port(value)?;
    let ports = [Some(server.port), server.ssl.as_ref().map(|s| s.port)];
    if !ports.contains(&Some(place.port)) {
        return Some(false);
    }
    let ip = place
        .host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>();
    match ip {
        Ok(ip) if !server.bind_address.is_unspecified() => Some(ip == server.bind_address),
        Ok(ip) if ip.is_loopback() => Some(true),
        _ if names_server(&place.host, server) => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_address_keys() {
        assert_eq!(
            hosts(
                "DatabaseUrl",
                "postgres://u:p@w@db.example:5432/t?sslmode=require"
            ),
            ["db.example"]
        );
        assert_eq!(hosts("DatabaseUrl", "postgres:///tutti"), ["localhost"]);
        assert_eq!(
            hosts("SmtpRelays", "127.0.0.1:25, relay.example"),
            ["127.0.0.1", "relay.example"]
        );
        assert!(loopback("localhost") && loopback("127.0.0.3") && loopback("[::1]"));
        assert!(!loopback("10.0.0.1"));
        assert!(same_place("a.example:80", "http://a.example"));
        assert!(!same_place("127.0.0.1:18280", "127.0.0.2:18280"));
    }
}
