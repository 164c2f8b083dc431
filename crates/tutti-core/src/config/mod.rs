//! The installation's configuration: `server.ini` and one INI file per component.
//!
//! Every key of every file is declared once in [`schema`], with its default, what it
//! expects and what it means. The same declaration drives reading (unknown keys are warned
//! about with the nearest known key), `tutti init` (which writes every key, documented) and
//! `docs/configuration.md` (kept equal to it by a test).

mod files;
mod ini;
mod render;
pub mod schema;
mod values;

pub use files::{
    CommonConfig, DatabaseConfig, HubConfig, Installation, LuiConfig, MailerConfig, ServerConfig,
    SslConfig, TestSendCaps, TrkConfig, TrustedCertificates,
};
pub use ini::{ConfigError, IniFile};
pub use render::{render_ini, render_markdown};
pub use values::{ConfigValue, DatabaseType, LogLevel, RelayList, RelaySecurity};
