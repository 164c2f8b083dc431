//! Backups: each component snapshots its own files while it runs, into its own
//! `{component}/backup/<ID>/` folder, and keeps the last N; `restore` puts a snapshot back.
//!
//! SQLite databases go through SQLite's online backup (a consistent snapshot, whatever the
//! writers do); everything else is copied as it is: the Tracker's event log is append-only
//! (a record being written while it is copied is cut off, and opening the log leaves such
//! a record behind), the rest changes only between runs. Logs, uploads being imported and
//! SQLite's own -wal, -shm and -journal files are left out.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Component;

/// What belongs to a component, relative to the root: its INI file and the folders the
/// reference names for moving it (section 15.2), and its branding. `lui/database` is there
/// only with the internal database.
pub fn component_paths(component: Component) -> &'static [&'static str] {
    match component {
        Component::Hub => &[
            "hub/hub.ini",
            "hub/accountreg",
            "hub/hubreg",
            "hub/branding",
        ],
        Component::Lui => &[
            "lui/lui.ini",
            "lui/luidata",
            "lui/registry",
            "lui/database",
            "lui/branding",
        ],
        Component::Trk => &["trk/tracker.ini", "trk/data"],
        Component::Mailer => &["mailer/mailer.ini", "mailer/spool"],
    }
}

/// A backup id: the UTC time it was taken, `YYYYMMDD-HHMMSS`.
pub fn valid_id(id: &str) -> bool {
    id.len() == 15
        && id.bytes().enumerate().all(|(i, b)| {
            if i == 8 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// The id for a backup taken now.
pub fn new_id() -> String {
    chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string()
}

/// `POST /{component}/api/backup`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupRequest {
    pub id: String,
    /// How many backups to keep, this one included.
    pub keep: u32,
}

/// One component's snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    /// Where it is, on the component's server.
    pub folder: String,
    /// SQLite databases, each a consistent snapshot.
    pub databases: usize,
    pub files: usize,
    pub bytes: u64,
    /// Older backups deleted to keep the last N.
    pub deleted: Vec<String>,
}

fn skipped(relative: &Path) -> bool {
    let name = relative.to_string_lossy();
    name.ends_with("-wal")
        || name.ends_with("-shm")
        || name.ends_with("-journal")
        || relative
            .components()
            .any(|c| c.as_os_str() == "log" || c.as_os_str() == "backup")
        || name.contains("luidata/uploads")
}

fn is_sqlite(path: &Path) -> bool {
    let mut header = [0u8; 16];
    fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

/// What a copy holds.
#[derive(Debug, Default)]
pub struct Copied {
    pub databases: Vec<PathBuf>,
    pub files: usize,
    pub bytes: u64,
}

/// Copies `path` (a file or a folder, below `root`) to the same place below `to`.
pub fn copy_path(root: &Path, path: &Path, to: &Path, copied: &mut Copied) -> Result<(), String> {
    let relative = path.strip_prefix(root).map_err(|e| e.to_string())?;
    if skipped(relative) {
        return Ok(());
    }
    let target = to.join(relative);
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let entries =
            fs::read_dir(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
            copy_path(root, &entry.path(), to, copied)?;
        }
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    if is_sqlite(path) {
        let source =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        source
            .backup(rusqlite::MAIN_DB, &target, None)
            .map_err(|e| format!("backing up {}: {e}", path.display()))?;
        copied.databases.push(relative.to_path_buf());
    } else {
        fs::copy(path, &target).map_err(|e| format!("copying {}: {e}", path.display()))?;
        copied.files += 1;
    }
    copied.bytes += fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok(())
}

/// The backups of `component` in `root`, oldest first.
pub fn list(root: &Path, component: Component) -> Vec<String> {
    let mut ids: Vec<String> = fs::read_dir(root.join(component.dir()).join("backup"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| valid_id(n))
        .collect();
    ids.sort();
    ids
}

/// Snapshots `component`'s files into `{component}/backup/<id>/` and deletes all but the
/// newest `keep` backups.
pub fn snapshot(
    root: &Path,
    component: Component,
    id: &str,
    keep: u32,
) -> Result<Snapshot, String> {
    if !valid_id(id) {
        return Err(format!("\"{id}\" is not a backup id (YYYYMMDD-HHMMSS)"));
    }
    let backups = root.join(component.dir()).join("backup");
    let folder = backups.join(id);
    if folder.exists() {
        return Err(format!("{} exists already", folder.display()));
    }
    // Written under another name and renamed when whole: a folder with the id is complete.
    let partial = backups.join(format!(".{id}.partial"));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    let mut copied = Copied::default();
    for path in component_paths(component) {
        let source = root.join(path);
        if source.exists() {
            copy_path(root, &source, &partial, &mut copied)?;
        }
    }
    fs::rename(&partial, &folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let mut deleted = Vec::new();
    let ids = list(root, component);
    let excess = ids.len().saturating_sub(keep.max(1) as usize);
    for old in &ids[..excess] {
        fs::remove_dir_all(backups.join(old))
            .map_err(|e| format!("cannot delete the old backup {old}: {e}"))?;
        deleted.push(old.clone());
    }
    Ok(Snapshot {
        id: id.to_string(),
        folder: folder.display().to_string(),
        databases: copied.databases.len(),
        files: copied.files,
        bytes: copied.bytes,
        deleted,
    })
}

/// Puts `component`'s backup `id` back into `root` (which must not be running): every path
/// the backup holds replaces the one in the root. Returns the paths restored.
pub fn restore(root: &Path, component: Component, id: &str) -> Result<Vec<&'static str>, String> {
    if !valid_id(id) {
        return Err(format!("\"{id}\" is not a backup id (YYYYMMDD-HHMMSS)"));
    }
    let folder = root.join(component.dir()).join("backup").join(id);
    if !folder.is_dir() {
        return Err(format!(
            "no backup {id} of the {} in {}",
            component.title(),
            folder.display()
        ));
    }
    let mut restored = Vec::new();
    for path in component_paths(component) {
        let from = folder.join(path);
        if !from.exists() {
            continue;
        }
        let to = root.join(path);
        let removed = if to.is_dir() {
            fs::remove_dir_all(&to)
        } else if to.exists() {
            fs::remove_file(&to)
        } else {
            Ok(())
        };
        removed.map_err(|e| format!("cannot replace {}: {e}", to.display()))?;
        let mut copied = Copied::default();
        copy_path(&folder, &from, root, &mut copied)?;
        restored.push(*path);
    }
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_utc_times() {
        assert!(valid_id("20261130-235959"));
        assert!(valid_id(&new_id()));
        for bad in [
            "",
            "20261130235959",
            "2026113-0235959",
            "../../etc/passw",
            "20261130-23595x",
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_snapshot_holds_the_component_keeps_the_last_n_and_restores() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("trk/data/events")).unwrap();
        fs::create_dir_all(root.join("trk/log")).unwrap();
        fs::write(root.join("trk/tracker.ini"), "LogLevel=info\n").unwrap();
        fs::write(
            root.join("trk/data/events/00000000000000000000.log"),
            b"events",
        )
        .unwrap();
        fs::write(root.join("trk/log/trk.log"), b"not backed up").unwrap();
        let db = rusqlite::Connection::open(root.join("trk/data/jobs.sqlite")).unwrap();
        db.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES (42);")
            .unwrap();
        for (i, id) in ["20261101-000000", "20261102-000000", "20261103-000000"]
            .iter()
            .enumerate()
        {
            let s = snapshot(root, Component::Trk, id, 2).unwrap();
            assert_eq!((s.databases, s.files), (1, 2), "{s:?}");
            assert_eq!(s.deleted.len(), usize::from(i == 2));
        }
        assert_eq!(
            list(root, Component::Trk),
            ["20261102-000000", "20261103-000000"]
        );
        assert!(snapshot(root, Component::Trk, "20261103-000000", 2).is_err());
        assert!(!root.join("trk/backup/20261103-000000/trk/log").exists());

        // Into an empty root.
        let other = tempfile::tempdir().unwrap();
        let target = other.path();
        fs::create_dir_all(target.join("trk/backup")).unwrap();
        let mut copied = Copied::default();
        copy_path(
            &root.join("trk/backup"),
            &root.join("trk/backup/20261103-000000"),
            &target.join("trk/backup"),
            &mut copied,
        )
        .unwrap();
        let restored = restore(target, Component::Trk, "20261103-000000").unwrap();
        assert_eq!(restored, ["trk/tracker.ini", "trk/data"]);
        assert_eq!(
            fs::read(target.join("trk/data/events/00000000000000000000.log")).unwrap(),
            b"events"
        );
        let back = rusqlite::Connection::open(target.join("trk/data/jobs.sqlite")).unwrap();
        let x: i64 = back.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 42);
        assert!(restore(target, Component::Trk, "20261104-000000").is_err());
    }
}
