//! Logging: each component writes to its own `log/` folder (rotated daily, kept for
//! `LogRetentionDays`) and everything also goes to standard error.
//!
//! Components of one process share one subscriber, so each log line is routed by who wrote
//! it: lines from a component's crate (`tutti_hub::…`), or written while a request or task
//! of that component runs (inside the span named after its crate), go to that component's
//! log; lines that belong to no component (the server starting, a listener stopping) go to
//! every component's log. Other crates' lines are kept from warnings up.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::{Level, Metadata, Subscriber};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::filter::{EnvFilter, dynamic_filter_fn};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, fmt};

use crate::component::Component;
use crate::config::LogLevel;

/// Where and how much one component logs.
#[derive(Debug, Clone)]
pub struct LogTarget {
    pub component: Component,
    pub level: LogLevel,
    pub retention_days: u32,
}

/// Keeps the background log writers alive; dropping it flushes every line still queued.
#[must_use = "dropping the guard stops the log writers"]
pub struct LogGuard {
    _guards: Vec<WorkerGuard>,
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Each component's log level now (an index into [`LogLevel::ALL`]): set from its INI file
/// at start, changed at run time from the Hub's console.
static LEVELS: [AtomicU8; 4] = [const { AtomicU8::new(1) }; 4];

fn slot(component: Component) -> &'static AtomicU8 {
    let i = Component::ALL
        .iter()
        .position(|c| *c == component)
        .unwrap_or(0);
    &LEVELS[i]
}

/// What `component` writes to its log now.
pub fn level(component: Component) -> LogLevel {
    let i = usize::from(slot(component).load(Ordering::Relaxed));
    LogLevel::ALL.get(i).copied().unwrap_or(LogLevel::Standard)
}

/// Changes what `component` writes to its log, at once.
pub fn set_level(component: Component, level: LogLevel) {
    let i = LogLevel::ALL.iter().position(|l| *l == level).unwrap_or(1);
    slot(component).store(i as u8, Ordering::Relaxed);
}

/// Builds the layers for `targets` under `root`.
fn layers(root: &Path, targets: &[LogTarget]) -> io::Result<(Vec<BoxedLayer>, Vec<WorkerGuard>)> {
    let mut layers: Vec<BoxedLayer> = Vec::new();
    let mut guards = Vec::new();
    for target in targets {
        let dir = root.join(target.component.log_dir());
        std::fs::create_dir_all(&dir)?;
        let appender = Builder::new()
            .rotation(Rotation::DAILY)
            .filename_prefix(target.component.name())
            .filename_suffix("log")
            .max_log_files(target.retention_days.max(1) as usize)
            .build(&dir)
            .map_err(|e| io::Error::other(format!("{}: {e}", dir.display())))?;
        // Not lossy: a log line is dropped never, the writer blocks instead.
        let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(appender);
        guards.push(guard);
        let component = target.component;
        set_level(component, target.level);
        let filter = dynamic_filter_fn(move |meta, cx| {
            if meta.is_span() {
                return true;
            }
            if meta.level() > &level(component).tracing_level() || !kept_from(meta) {
                return false;
            }
            match owner(meta, cx) {
                Some(owner) => owner == component,
                None => true,
            }
        });
        layers.push(
            fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(filter)
                .boxed(),
        );
    }
    Ok((layers, guards))
}

/// Installs the process-wide subscriber. `RUST_LOG`, when set, decides what goes to
/// standard error; the log files always follow each component's `LogLevel`.
pub fn init(root: &Path, targets: &[LogTarget]) -> io::Result<LogGuard> {
    let (mut layers, guards) = layers(root, targets)?;
    let most = targets
        .iter()
        .map(|t| t.level.tracing_level())
        .max()
        .unwrap_or(Level::INFO);
    let stderr = fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal());
    layers.push(match EnvFilter::try_from_env("RUST_LOG") {
        Ok(env) => stderr.with_filter(env).boxed(),
        Err(_) => stderr
            .with_filter(dynamic_filter_fn(move |meta, _| {
                meta.is_span() || (meta.level() <= &most && kept_from(meta))
            }))
            .boxed(),
    });
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| io::Error::other(format!("logging is already set up: {e}")))?;
    Ok(LogGuard { _guards: guards })
}

/// Tutti's own lines at every level; other crates' only from warnings up.
fn kept_from(meta: &Metadata<'_>) -> bool {
    meta.target().starts_with("tutti") || meta.level() <= &Level::WARN
}

/// The component a log line belongs to, if any.
fn owner<S>(meta: &Metadata<'_>, cx: &Context<'_, S>) -> Option<Component>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let by_crate = |name: &str| {
        Component::ALL.into_iter().find(|c| {
            name == c.crate_name()
                || name
                    .strip_prefix(c.crate_name())
                    .is_some_and(|r| r.starts_with("::"))
        })
    };
    if let Some(c) = by_crate(meta.target()) {
        return Some(c);
    }
    let span = cx.lookup_current()?;
    span.scope().find_map(|s| {
        Component::ALL
            .into_iter()
            .find(|c| s.name() == c.crate_name())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_to_their_component_and_shared_lines_to_all() {
        let root = tempfile::tempdir().unwrap();
        let targets = [
            LogTarget {
                component: Component::Hub,
                level: LogLevel::Standard,
                retention_days: 3,
            },
            LogTarget {
                component: Component::Trk,
                level: LogLevel::All,
                retention_days: 3,
            },
        ];
        let (layers, guards) = layers(root.path(), &targets).unwrap();
        let subscriber = tracing_subscriber::registry().with(layers);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("server started");
            tracing::info_span!("tutti_hub").in_scope(|| tracing::info!("hub request served"));
            tracing::info_span!("tutti_trk").in_scope(|| {
                tracing::debug!("trk detail");
                tracing::info!(secret_free = true, "trk click recorded");
            });
            tracing::debug_span!("tutti_hub").in_scope(|| tracing::debug!("hub detail"));
        });
        drop(guards);
        let read = |c: Component| {
            let dir = root.path().join(c.log_dir());
            let mut text = String::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                assert!(
                    path.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(c.name())
                );
                text.push_str(&std::fs::read_to_string(path).unwrap());
            }
            text
        };
        let hub = read(Component::Hub);
        let trk = read(Component::Trk);
        assert!(hub.contains("server started") && trk.contains("server started"));
        assert!(hub.contains("hub request served") && !trk.contains("hub request served"));
        assert!(trk.contains("trk click recorded") && !hub.contains("trk click recorded"));
        assert!(trk.contains("trk detail"), "the Tracker logs everything");
        assert!(
            !hub.contains("hub detail"),
            "the Hub's standard level leaves out details"
        );
    }
}
