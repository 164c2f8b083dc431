//! `tutti lui ...`: User Interface tasks that work offline.

use std::process::ExitCode;

use crate::cli::MoveDatabaseArgs;
use crate::fail;

pub fn move_database(args: &MoveDatabaseArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(tutti_lui::move_database(&args.root.root, &args.to)) {
        Ok(moved) => {
            say!(
                "Moved the system database from {} to {}:",
                moved.from,
                moved.to
            );
            for (table, rows) in &moved.tables {
                say!("  {table}: {rows} rows");
            }
            say!(
                "lui/lui.ini now points at it; the old data was left in place. Start the User Interface again."
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("the system database was not moved: {e}")),
    }
}
