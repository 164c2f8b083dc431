//! The installation root: creating it (`tutti init`) and the instance id each component
//! keeps in its data folder.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::component::Component;
use crate::config::schema::{ALL_FILES, SERVER_INI, component_file};
use crate::config::{IniFile, render_ini};
use crate::hostport::{HostPort, Scheme};
use crate::secret::ClusterSecret;

/// What `tutti init` was asked to set up.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub components: Vec<Component>,
    pub port: Option<u16>,
    pub bind_address: Option<IpAddr>,
    pub host_name: Option<String>,
    /// Where the Hub is, when it is not on this server.
    pub hub_host: Option<HostPort>,
    /// Where the Tracker is, when it is not on this server.
    pub tracker_host: Option<HostPort>,
    /// The installation's secret, for a second server; generated when absent.
    pub cluster_secret: Option<ClusterSecret>,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            components: Component::ALL.to_vec(),
            port: None,
            bind_address: None,
            host_name: None,
            hub_host: None,
            tracker_host: None,
            cluster_secret: None,
        }
    }
}

/// What `init` did.
#[derive(Debug, Default)]
pub struct InitReport {
    pub written: Vec<PathBuf>,
    /// Files that existed and were left as they were.
    pub kept: Vec<PathBuf>,
    /// Whether a new cluster secret was generated (the user must copy it to other servers).
    pub generated_secret: bool,
    /// Advice, e.g. a component asked for that an existing server.ini does not list.
    pub notes: Vec<String>,
    /// The file that holds the Hub's one-time setup password, when one was written.
    pub setup_password: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> InitError + '_ {
    move |source| InitError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates the installation root: `server.ini`, the INI file of each selected component and
/// their folders. Existing files are never overwritten.
pub fn init(root: &Path, opts: &InitOptions) -> Result<InitReport, InitError> {
    let mut report = InitReport::default();
    let port = opts.port.unwrap_or(80);
    let here = local_host(opts);
    let has = |c| opts.components.contains(&c);
    let needs_hub = opts.components.iter().any(|&c| c != Component::Hub);
    let hub_host = match (&opts.hub_host, has(Component::Hub)) {
        (Some(h), _) => Some(h.clone()),
        (None, true) => Some(HostPort::new(Scheme::Http, here.clone(), port)),
        (None, false) if needs_hub => {
            return Err(InitError::Usage(
                "the Hub is not among the components of this server: say where it is with --hub-host HOST[:PORT]".into(),
            ));
        }
        (None, false) => None,
    };
    let tracker_host = match (&opts.tracker_host, has(Component::Trk)) {
        (Some(h), _) => Some(h.clone()),
        (None, true) => Some(HostPort::new(Scheme::Http, here.clone(), port)),
        (None, false) if has(Component::Lui) => {
            return Err(InitError::Usage(
                "the Tracker is not among the components of this server: say where it is with --tracker-host HOST[:PORT]".into(),
            ));
        }
        (None, false) => None,
    };
    let secret = match &opts.cluster_secret {
        Some(s) => s.clone(),
        None => match existing_secret(root) {
            Some(s) => s,
            None => {
                report.generated_secret = true;
                ClusterSecret::generate().map_err(io_err(root))?
            }
        },
    };

    fs::create_dir_all(root).map_err(io_err(root))?;
    let mut server_values = HashMap::new();
    server_values.insert(
        "Components",
        opts.components
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(","),
    );
    if let Some(port) = opts.port {
        server_values.insert("Port", port.to_string());
    }
    if let Some(addr) = opts.bind_address {
        server_values.insert("BindAddress", addr.to_string());
    }
    if let Some(name) = &opts.host_name {
        server_values.insert("HostName", name.clone());
    }
    let server_path = root.join(SERVER_INI.path);
    let written = write_new(
        &server_path,
        &render_ini(SERVER_INI, &server_values),
        &mut report,
    )?;
    // An existing server.ini is kept: say which asked-for components it does not list.
    if !written
        && let Ok(ini) = IniFile::load(root, SERVER_INI)
        && let Ok(listed) = ini.get::<Vec<Component>>("Components")
    {
        for c in opts.components.iter().filter(|c| !listed.contains(c)) {
            report.notes.push(format!(
                "{} is not in Components of the existing {}: add it there to run the {}",
                c.name(),
                server_path.display(),
                c.title()
            ));
        }
    }

    for &component in &opts.components {
        for folder in component.folders() {
            let dir = root.join(folder);
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        let mut values = HashMap::new();
        values.insert("ClusterSecret", secret.expose().to_string());
        if let Some(h) = &hub_host {
            values.insert("RegistryHubHost", h.to_string());
        }
        if let Some(t) = &tracker_host {
            values.insert("TrackerHost", t.to_string());
        }
        let spec = component_file(component);
        write_new(
            &root.join(spec.path),
            &render_ini(spec, &values),
            &mut report,
        )?;
        // The pages' branding: a commented example, so the default look stays.
        if matches!(component, Component::Hub | Component::Lui) {
            write_new(
                &crate::branding::file(root, component),
                crate::branding::EXAMPLE,
                &mut report,
            )?;
        }
    }
    Ok(report)
}

/// The address processes on this server use to reach it.
fn local_host(opts: &InitOptions) -> String {
    if let Some(name) = &opts.host_name {
        return name.clone();
    }
    match opts.bind_address {
        Some(ip) if !ip.is_unspecified() => match ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        },
        _ => "127.0.0.1".to_string(),
    }
}

/// The cluster secret already written in any INI file of the root, if one is.
pub fn existing_secret(root: &Path) -> Option<ClusterSecret> {
    ALL_FILES.iter().skip(1).find_map(|spec| {
        IniFile::load(root, spec)
            .ok()?
            .get::<ClusterSecret>("ClusterSecret")
            .ok()
    })
}

/// Writes `text` to a file that must not exist yet; returns false (and notes it) if it does.
fn write_new(path: &Path, text: &str, report: &mut InitReport) -> Result<bool, InitError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes()).map_err(io_err(path))?;
            file.sync_all().map_err(io_err(path))?;
            restrict_permissions(path).map_err(io_err(path))?;
            report.written.push(path.to_path_buf());
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            report.kept.push(path.to_path_buf());
            Ok(false)
        }
        Err(e) => Err(InitError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// INI files hold the cluster secret: readable by the owner only.
fn restrict_permissions(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

/// The component's instance id: created at its first start and kept in its data folder, so
/// that a component moved to another server (with its data) keeps its identity.
pub fn instance_id(root: &Path, component: Component) -> io::Result<String> {
    let dir = root.join(component.data_dir());
    let path = dir.join("instance-id");
    match fs::read_to_string(&path) {
        Ok(id) if valid_instance_id(id.trim()) => return Ok(id.trim().to_string()),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} does not hold an instance id (32 hexadecimal digits)",
                    path.display()
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(&dir)?;
    let id: String = crate::secret::random_bytes::<16>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let tmp = dir.join("instance-id.tmp");
    let mut file = fs::File::create(&tmp)?;
    file.write_all(format!("{id}\n").as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, &path)?;
    fs::File::open(&dir)?.sync_all()?;
    Ok(id)
}

fn valid_instance_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Installation;

    #[test]
    fn init_writes_a_loadable_installation_with_one_secret() {
        let dir = tempfile::tempdir().unwrap();
        let report = init(
            dir.path(),
            &InitOptions {
                port: Some(8080),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(report.generated_secret);
        // server.ini, four component INI files, two commented branding.ini examples.
        assert_eq!(report.written.len(), 7);
        let inst = Installation::load(dir.path()).unwrap();
        assert!(inst.warnings.is_empty(), "{:?}", inst.warnings);
        for c in [Component::Hub, Component::Lui] {
            let branding = crate::branding::load(dir.path(), c);
            assert!(branding.warnings.is_empty(), "{:?}", branding.warnings);
            assert_eq!(branding.branding.css(), "", "the example changes nothing");
        }
        assert_eq!(inst.server.port, 8080);
        let lui = inst.lui.unwrap();
        assert_eq!(lui.registry_hub_host.base_url(), "http://127.0.0.1:8080");
        let secret = &lui.common.cluster_secret;
        assert_eq!(&inst.hub.unwrap().common.cluster_secret, secret);
        assert_eq!(&inst.mailer.unwrap().common.cluster_secret, secret);
        for c in Component::ALL {
            for folder in c.folders() {
                assert!(dir.path().join(folder).is_dir(), "{folder}");
            }
        }
    }

    #[test]
    fn init_never_overwrites_and_reuses_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let opts = InitOptions {
            components: vec![Component::Hub],
            ..Default::default()
        };
        init(dir.path(), &opts).unwrap();
        let hub_ini = dir.path().join("hub/hub.ini");
        fs::write(
            &hub_ini,
            fs::read_to_string(&hub_ini).unwrap() + "# edited\n",
        )
        .unwrap();
        let opts = InitOptions {
            components: vec![Component::Hub, Component::Trk],
            ..Default::default()
        };
        let report = init(dir.path(), &opts).unwrap();
        assert!(!report.generated_secret);
        assert!(report.kept.contains(&hub_ini));
        assert!(
            fs::read_to_string(&hub_ini)
                .unwrap()
                .ends_with("# edited\n")
        );
        assert!(
            report.notes[0].contains("trk is not in Components"),
            "{:?}",
            report.notes
        );
    }

    #[test]
    fn init_of_a_remote_component_needs_the_hub_host() {
        let dir = tempfile::tempdir().unwrap();
        let opts = InitOptions {
            components: vec![Component::Trk],
            ..Default::default()
        };
        let err = init(dir.path(), &opts).unwrap_err();
        assert!(err.to_string().contains("--hub-host"));
        assert!(
            !dir.path().join("server.ini").exists(),
            "nothing is written on a usage error"
        );
    }

    #[test]
    fn instance_id_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = instance_id(dir.path(), Component::Trk).unwrap();
        let b = instance_id(dir.path(), Component::Trk).unwrap();
        assert_eq!(a, b);
        assert!(valid_instance_id(&a));
        fs::write(dir.path().join("trk/data/instance-id"), "garbage").unwrap();
        assert!(instance_id(dir.path(), Component::Trk).is_err());
    }
}
