//! `tutti hub ...`: Hub tasks that work offline.

use std::io::BufRead;
use std::process::ExitCode;

use crate::cli::RootArg;
use crate::fail;

/// Reads the new password from the first line of standard input.
pub fn reset_admin_password(args: &RootArg) -> ExitCode {
    if !args.root.join("hub/hub.ini").is_file() {
        return fail(format!(
            "{} has no Administration Hub (no hub/hub.ini)",
            args.root.display()
        ));
    }
    eprintln!("New administrator password (at least 8 characters), then Enter:");
    let mut line = String::new();
    if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
        return fail(format!("cannot read the password from standard input: {e}"));
    }
    let password = line.trim_end_matches(['\r', '\n']);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(tutti_hub::reset_admin_password(&args.root, password)) {
        Ok(()) => {
            say!(
                "The administrator password of {} is set. Every administrator session has ended.",
                args.root.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("the password was not changed: {e}")),
    }
}
