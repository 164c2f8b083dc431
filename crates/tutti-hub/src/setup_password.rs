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

/// The setup password, written first when there is none yet. A file that is not a regular
/// file of this user readable by it alone (a symbolic link, say, or one another user could
/// have written) is not trusted: a new password replaces it.
pub fn ensure(root: &Path) -> io::Result<String> {
    let file = path(root);
    match std::fs::symlink_metadata(&file) {
        Ok(meta) if trusted(&meta) => {
            let text = std::fs::read_to_string(&file)?;
            if !text.trim().is_empty() {
                return Ok(text.trim().to_string());
            }
            std::fs::remove_file(&file)?;
        }
        Ok(_) => std::fs::remove_file(&file)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let password = tutti_core::password::random_password()?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    // A file that appeared meanwhile (or a link put there) makes this fail, never followed.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&file)?;
    writeln!(out, "{password}")?;
    out.sync_all()?;
    Ok(password)
}

#[cfg(unix)]
fn trusted(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    meta.file_type().is_file()
        && meta.permissions().mode() & 0o077 == 0
        && meta.uid() == nix::unistd::Uid::effective().as_raw()
}

#[cfg(not(unix))]
fn trusted(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_file()
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
        // A link in its place is replaced, not followed.
        #[cfg(unix)]
        {
            let elsewhere = dir.path().join("elsewhere");
            std::fs::write(&elsewhere, "keep").unwrap();
            std::fs::remove_file(path(dir.path())).unwrap();
            std::os::unix::fs::symlink(&elsewhere, path(dir.path())).unwrap();
            let new = ensure(dir.path()).unwrap();
            assert_ne!(new, "keep");
            assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "keep");
            assert!(
                !std::fs::symlink_metadata(path(dir.path()))
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
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
