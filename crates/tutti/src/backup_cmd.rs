//! `tutti backup`: a consistent copy of an installation root while it runs. SQLite
//! databases go through SQLite's online backup (a snapshot, whatever the writers do);
//! everything else is copied as it is, except logs, uploads being imported, and SQLite's
//! own -wal and -shm files (the snapshot holds their content).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::BackupArgs;
use crate::fail;

/// What a backup copied.
#[derive(Default)]
struct Copied {
    databases: Vec<PathBuf>,
    files: usize,
}

fn skipped(relative: &Path) -> bool {
    let name = relative.to_string_lossy();
    name.ends_with("-wal")
        || name.ends_with("-shm")
        || name.ends_with("-journal")
        || relative.components().any(|c| c.as_os_str() == "log")
        || name.contains("luidata/uploads")
}

fn is_sqlite(path: &Path) -> bool {
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

fn copy_tree(root: &Path, dir: &Path, to: &Path, copied: &mut Copied) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = entry.path();
        let relative = path.strip_prefix(root).map_err(|e| e.to_string())?;
        if skipped(relative) {
            continue;
        }
        let target = to.join(relative);
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
            copy_tree(root, &path, to, copied)?;
        } else if kind.is_file() {
            if is_sqlite(&path) {
                let source = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .map_err(|e| format!("{}: {e}", path.display()))?;
                source
                    .backup(rusqlite::MAIN_DB, &target, None)
                    .map_err(|e| format!("backing up {}: {e}", path.display()))?;
                copied.databases.push(relative.to_path_buf());
            } else {
                std::fs::copy(&path, &target)
                    .map_err(|e| format!("copying {}: {e}", path.display()))?;
                copied.files += 1;
            }
        }
    }
    Ok(())
}

pub fn run(args: &BackupArgs) -> ExitCode {
    let root = &args.root.root;
    if !root.join("server.ini").is_file() {
        return fail(format!(
            "{} is not an installation root (no server.ini)",
            root.display()
        ));
    }
    if args.to.exists()
        && std::fs::read_dir(&args.to)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return fail(format!(
            "{} is not empty: back up into a new folder",
            args.to.display()
        ));
    }
    if let Err(e) = std::fs::create_dir_all(&args.to) {
        return fail(format!("cannot create {}: {e}", args.to.display()));
    }
    let mut copied = Copied::default();
    if let Err(e) = copy_tree(root, root, &args.to, &mut copied) {
        return fail(format!("the backup is incomplete: {e}"));
    }
    println!(
        "Backed up {} into {}: {} databases (consistent snapshots) and {} other files.",
        root.display(),
        args.to.display(),
        copied.databases.len(),
        copied.files
    );
    for db in &copied.databases {
        println!("  {}", db.display());
    }
    let lui_ini = std::fs::read_to_string(root.join("lui/lui.ini")).unwrap_or_default();
    if lui_ini
        .lines()
        .any(|l| l.trim().eq_ignore_ascii_case("DatabaseType=postgresql"))
    {
        println!(
            "The User Interface's system database is in PostgreSQL: back it up with pg_dump as well."
        );
    }
    ExitCode::SUCCESS
}
