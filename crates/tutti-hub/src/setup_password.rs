//! The one-time setup password of a new installation. A well-known first password lets
//! whoever reaches a new Hub first take it over, so the administrator's first password is
//! random, written to `hub/accountreg/setup-password` (readable by the installation's
//! owner only) and removed once the administrator has chosen their own.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file, relative to the installation root.
pub const FILE: &str = "hub/accountreg/setup-password";

pub fn path(root: &Path) -> PathBuf {
    root.join(FILE)
}

/// The setup password, written first when there is none yet.
pub fn ensure(root: &Path) -> io::Result<String> {
    let file = path(root);
    match std::fs::read_to_string(&file) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let password = tutti_core::password::random_password()?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&file)?;
    // A file left by another umask or copied in keeps no wider mode.
    #[cfg(unix)]
    out.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    writeln!(out, "{password}")?;
    out.sync_all()?;
    Ok(password)
}

/// Removes the file once the administrator password is their own.
pub fn remove(root: &Path) {
    match std::fs::remove_file(path(root)) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("cannot remove {}: {e}", path(root).display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_once_for_the_owner_only_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure(dir.path()).unwrap();
        assert_eq!(first.len(), 20);
        assert_eq!(
            ensure(dir.path()).unwrap(),
            first,
            "read again, not replaced"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        remove(dir.path());
        assert!(!path(dir.path()).exists());
        assert_ne!(
            ensure(dir.path()).unwrap(),
            first,
            "a new one after removal"
        );
    }
}
