//! The admin command line: the operations an administrator performs on the directory, Call
//! Via Work policies, routing and dial plans, and the call log — the same ones the admin API
//! exposes.
//!
//! Each area is a file of service functions that take a `&dyn Store` and plain input,
//! check everything through the domain layer before writing, and return a serialisable
//! view (what `--output json` prints and the API answers) or an [`AdminError`] naming the
//! field at fault. They know nothing of clap or HTTP; [`command`] is the clap layer over
//! them and `main.rs` the binary's front end.
//!
//! | Skype for Business | ViaWork | File |
//! |---|---|---|
//! | `New-`/`Set-`/`Get-CsUser`, `Set-CsClientPin` | `viawork user new/set/get/list/remove` | `users.rs` |
//! | `Get-CsUser \| Export-Csv` | `viawork user import FILE.csv` | `import.rs` |
//! | `New-`/`Set-`/`Get-`/`Remove-`/`Grant-CsCallViaWorkPolicy` | `viawork policy ...` | `policies.rs` |
//! | `Set-CsRoutingConfiguration -CallViaWorkCallerId` | `viawork routing set/get` | `routing.rs` |
//! | `New-`/`Remove-CsVoiceNormalizationRule`, `Test-CsVoiceNormalizationRule` | `viawork dialplan rule ...`, `viawork dialplan test` | `dialplan.rs` |
//! | (call detail records) | `viawork calllog list`, `viawork calllog export FILE.csv` | `call_log.rs` (times: `rfc3339.rs`) |

pub mod call_log;
pub mod command;
pub mod csv;
pub mod dialplan;
mod error;
pub mod import;
pub mod output;
pub mod policies;
pub mod rfc3339;
pub mod routing;
pub mod users;

use std::path::Path;

pub use command::{run, AdminCommand, Status};
pub use error::AdminError;
pub use output::Format;

/// The database the admin commands work on: `database` (from `--database`) if given, else
/// the configuration's `database` key (which `VIAWORK_DATABASE` overrides; default
/// `sqlite://viawork.db`). The configuration file is loaded and validated as the server
/// loads it, so the CLI and the server agree on the database.
pub fn database_url(
    config_path: Option<&Path>,
    database: Option<&str>,
) -> Result<String, crate::config::ConfigError> {
    let config = crate::config::Config::load(config_path)?;
    Ok(database.map_or(config.database, str::to_owned))
}

/// Prints `error` on stderr: `viawork: field: message`, or with `--output json` a JSON
/// object `{"error": {"kind", "field", "message"}}`.
pub fn print_error(format: Format, error: &AdminError) {
    match format {
        Format::Human => eprintln!("viawork: {error}"),
        Format::Json => {
            let body = serde_json::json!({
                "error": {
                    "kind": error.kind(),
                    "field": error.field(),
                    "message": error.to_string(),
                }
            });
            eprintln!("{body}");
        }
    }
}
