//! Binding the server's ports, with errors that say how to fix them.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;

/// Binds `addr`; `key` is the server.ini key that sets this port.
pub fn bind(addr: SocketAddr, key: &str, root: &Path) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| {
        let port = addr.port();
        let server_ini = root.join("server.ini");
        let how = if key == "Port" {
            format!("choose another port with --port N or {key}= in {}", server_ini.display())
        } else {
            format!("choose another port with {key}= in {}", server_ini.display())
        };
        match e.kind() {
            ErrorKind::AddrInUse => format!("cannot listen on {addr}: port {port} is already in use by another program; {how}"),
            ErrorKind::PermissionDenied => format!(
                "cannot listen on {addr}: port {port} needs root privileges (ports below 1024); run as root or with CAP_NET_BIND_SERVICE, or {how}, e.g. 8080"
            ),
            ErrorKind::AddrNotAvailable => format!(
                "cannot listen on {addr}: {} is not an address of this server; correct BindAddress in {}",
                addr.ip(),
                server_ini.display()
            ),
            _ => format!("cannot listen on {addr} (port {port}): {e}; {how}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_in_use_names_the_port_and_the_way_out() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind(addr, "Port", Path::new("/srv/tutti")).unwrap_err();
        assert!(
            err.contains(&format!("port {} is already in use", addr.port())),
            "{err}"
        );
        assert!(
            err.contains("--port N or Port= in /srv/tutti/server.ini"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }
}
