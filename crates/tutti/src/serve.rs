//! `tutti serve`: runs the components listed in server.ini on one HTTP listener (and one
//! HTTPS listener), each under its path prefix; stops gracefully on SIGTERM or SIGINT.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use axum::http::{StatusCode, Uri};
use axum::{Router, ServiceExt};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tutti_core::Component;
use tutti_core::config::Installation;
use tutti_core::fast_route::WithFastRoutes;
use tutti_core::logging::{self, LogTarget};
use tutti_core::runtime::{ComponentContext, Shutdown, Started};

use crate::cli::ServeArgs;
use crate::{fail, init_cmd, listen};

pub fn run(args: ServeArgs) -> ExitCode {
    let root = args.root.root.clone();
    if !root.join("server.ini").exists() {
        match init_cmd::initialise(&root, &args.options) {
            Ok(report) => init_cmd::print_report(&root, &report),
            Err(message) => {
                return fail(format!("cannot initialise {}: {message}", root.display()));
            }
        }
    }
    let mut installation = match Installation::load(&root) {
        Ok(i) => i,
        Err(e) => return fail(format!("cannot start: {e}")),
    };
    if let Err(e) = installation.check_one_cluster_secret() {
        return fail(format!("cannot start: {e}"));
    }
    if let Some(port) = args.options.port {
        installation.server.port = port;
    }
    let server = &installation.server;
    let http = match listen::bind(
        SocketAddr::new(server.bind_address, server.port),
        "Port",
        &root,
    ) {
        Ok(l) => l,
        Err(message) => return fail(message),
    };
    let https = match &server.ssl {
        Some(ssl) => match listen::bind(
            SocketAddr::new(server.bind_address, ssl.port),
            "SslPort",
            &root,
        ) {
            Ok(l) => Some(l),
            Err(message) => return fail(message),
        },
        None => None,
    };
    let targets: Vec<LogTarget> = server
        .components
        .iter()
        .filter_map(|&c| {
            installation.common(c).map(|common| LogTarget {
                component: c,
                level: common.log_level,
                retention_days: common.log_retention_days,
            })
        })
        .collect();
    let log_guard = match logging::init(&root, &targets) {
        Ok(g) => g,
        Err(e) => return fail(format!("cannot open the log files: {e}")),
    };
    for warning in &installation.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(serve(installation, http, https));
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("stopped on an error: {e:#}");
            eprintln!("tutti: {e:#}");
            ExitCode::FAILURE
        }
    };
    // Flushes every log line still queued.
    drop(log_guard);
    code
}

async fn serve(
    installation: Installation,
    http: TcpListener,
    https: Option<TcpListener>,
) -> anyhow::Result<()> {
    // Signal handlers first: a SIGTERM that arrives while components start is a request to
    // stop, not a kill.
    let signals = Signals::install()?;
    let (stop, shutdown) = Shutdown::new();
    let http_client = tutti_core::client::http_client(&installation.server)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started_at = chrono::Utc::now();
    let root = installation.root.clone();
    let server = installation.server.clone();

    let mut app = Router::new();
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    let mut fast = Vec::new();
    let mut hot = None;
    for &component in &server.components {
        let instance_id = tutti_core::root::instance_id(&root, component)
            .with_context(|| format!("cannot read the instance id of the {}", component.title()))?;
        let metrics = tutti_core::metrics::Metrics::new(component);
        let ctx = ComponentContext {
            root: root.clone(),
            server: server.clone(),
            instance_id,
            started_at,
            http: http_client.clone(),
            shutdown: shutdown.clone(),
            metrics: metrics.clone(),
        };
        let started = start_component(component, ctx, &installation)
            .await
            .with_context(|| format!("the {} did not start", component.title()))?;
        let prefix = component.prefix();
        let access = tutti_core::metrics::MetricsAccess {
            metrics: metrics.clone(),
            token: server.metrics_token.clone(),
        };
        let router = started
            .router
            .route_layer(axum::middleware::from_fn_with_state(
                metrics,
                tutti_core::metrics::measure,
            ))
            .route(
                "/metrics",
                axum::routing::get(tutti_core::metrics::endpoint).with_state(access),
            )
            .merge(tutti_core::remote_admin::router(
                component,
                &root,
                installation
                    .common(component)
                    .and_then(|c| c.remote_admin_password.clone()),
            ));
        // `/hub/` and `/hub` are the same page.
        app = app.nest(prefix, router).route(
            &format!("{prefix}/"),
            axum::routing::get(move || async move { axum::response::Redirect::permanent(prefix) }),
        );
        tasks.extend(started.tasks);
        fast.extend(started.fast);
        hot = hot.or(started.hot);
    }
    let prefixes: Vec<&'static str> = server.components.iter().map(|c| c.prefix()).collect();
    let app = app
        .fallback(move |uri: Uri| async move {
            (
                StatusCode::NOT_FOUND,
                format!(
                    "Not found: {}\nThis server answers under {}.\n",
                    uri.path(),
                    prefixes.join(", ")
                ),
            )
        })
        .layer(axum::middleware::from_fn(
            tutti_core::http_error::json_errors,
        ))
        .layer(axum::middleware::from_fn(tutti_core::browser_headers::add));

    let handle: Handle<SocketAddr> = Handle::new();
    let grace = server.shutdown_grace;
    let mut servers = Vec::new();
    let http_addr = http.local_addr()?;
    let http_app = match &server.ssl {
        Some(ssl) if ssl.redirect_http => {
            let to = crate::redirect::ToHttps {
                port: ssl.port,
                prefixes: server
                    .components
                    .iter()
                    .filter(|c| matches!(c, Component::Hub | Component::Lui))
                    .map(|c| c.prefix())
                    .collect(),
                fallback_host: server.advertised_host(),
            };
            tracing::info!(
                "RedirectHttpToHttps: pages of {} on HTTP go to HTTPS port {}",
                to.prefixes.join(" and "),
                ssl.port
            );
            app.clone().layer(axum::middleware::from_fn_with_state(
                std::sync::Arc::new(to),
                crate::redirect::to_https,
            ))
        }
        _ => app.clone(),
    };
    // With the Tracker here, its event loops take the plain-HTTP listener and hand hyper
    // every connection that is not for an open or click URL.
    let (stop_handed, handed_stopping) = Shutdown::new();
    let mut hot_server = None;
    match hot {
        Some(start) => {
            let (hand_off, handed) = tokio::sync::mpsc::unbounded_channel();
            hot_server = Some(start(http, hand_off).context("cannot start the HTTP event loops")?);
            let app = make_service(WithFastRoutes::new(fast.clone(), http_app));
            servers.push(tokio::spawn(async move {
                crate::hand_off::serve(handed, app, handed_stopping, grace).await;
                Ok(())
            }));
        }
        None => servers.push(tokio::spawn(
            axum_server::from_tcp(http)?
                .handle(handle.clone())
                .serve(make_service(WithFastRoutes::new(fast.clone(), http_app))),
        )),
    }
    let mut tls = None;
    if let (Some(listener), Some(ssl)) = (https, &server.ssl) {
        let config = RustlsConfig::from_pem_file(&ssl.certificate, &ssl.private_key)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot load SslCertificate {} / SslPrivateKey {}: {}",
                    ssl.certificate.display(),
                    ssl.private_key.display(),
                    explain_tls_error(&e)
                )
            })?;
        let https_addr = listener.local_addr()?;
        servers.push(tokio::spawn(
            axum_server::from_tcp_rustls(listener, config.clone())?
                .handle(Handle::with_control(handle.control()))
                .serve(make_service(WithFastRoutes::new(
                    fast,
                    app.layer(axum::Extension(tutti_core::runtime::ViaTls)),
                ))),
        ));
        tracing::info!("listening for HTTPS on {https_addr}");
        tls = Some((config, ssl.certificate.clone(), ssl.private_key.clone()));
    }
    let names: Vec<&str> = server.components.iter().map(|c| c.name()).collect();
    tracing::info!(
        "Tutti {} serving {} on http://{http_addr}",
        tutti_core::api::VERSION,
        names.join(", ")
    );

    signals.wait_for_stop(tls).await;
    tracing::info!(
        "stopping: no new connections; waiting up to {} s for requests in flight",
        server.shutdown_grace.as_secs()
    );
    handle.graceful_shutdown(Some(server.shutdown_grace));
    if let Some(hot) = hot_server {
        // Answers the requests already read, once their events are durable.
        tokio::task::spawn_blocking(move || hot.stop(grace)).await?;
    }
    let _ = stop_handed.send(true);
    for s in servers {
        s.await??;
    }
    let _ = stop.send(true);
    for task in tasks {
        if tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .is_err()
        {
            tracing::warn!("a background task did not stop within 5 s");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// What a listener serves: the fast routes, then the router, with the caller's address.
pub type App =
    axum::extract::connect_info::IntoMakeServiceWithConnectInfo<WithFastRoutes, SocketAddr>;

fn make_service(app: WithFastRoutes) -> App {
    ServiceExt::<axum::http::Request<hyper::body::Incoming>>::into_make_service_with_connect_info(
        app,
    )
}

async fn start_component(
    component: Component,
    ctx: ComponentContext,
    inst: &Installation,
) -> anyhow::Result<Started> {
    // Installation::load reads the INI file of every component server.ini lists.
    let missing = || anyhow::anyhow!("{} was not read", component.ini_file());
    match component {
        Component::Hub => tutti_hub::start(ctx, inst.hub.clone().ok_or_else(missing)?).await,
        Component::Lui => tutti_lui::start(ctx, inst.lui.clone().ok_or_else(missing)?).await,
        Component::Trk => tutti_trk::start(ctx, inst.trk.clone().ok_or_else(missing)?).await,
        Component::Mailer => {
            tutti_mailer::start(ctx, inst.mailer.clone().ok_or_else(missing)?).await
        }
    }
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for SIGTERM or SIGINT. SIGHUP reloads the TLS certificate and key from their
    /// files without dropping a connection.
    async fn wait_for_stop(mut self, tls: Option<(RustlsConfig, PathBuf, PathBuf)>) {
        loop {
            tokio::select! {
                _ = self.term.recv() => return,
                _ = self.int.recv() => return,
                _ = self.hup.recv() => reload_certificate(tls.as_ref()).await,
            }
        }
    }
}

async fn reload_certificate(tls: Option<&(RustlsConfig, PathBuf, PathBuf)>) {
    let Some((config, cert, key)) = tls else {
        tracing::info!("SIGHUP: no HTTPS listener, nothing to reload");
        return;
    };
    match config.reload_from_pem_file(cert, key).await {
        Ok(()) => tracing::info!(
            "SIGHUP: reloaded the TLS certificate from {}",
            cert.display()
        ),
        Err(e) => tracing::error!(
            "SIGHUP: cannot reload {} / {}: {}; the old certificate stays in use",
            cert.display(),
            key.display(),
            explain_tls_error(&e)
        ),
    }
}

/// rustls's reason, with what it means for the two files.
fn explain_tls_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    if text.contains("KeyMismatch") {
        format!("{text} (SslPrivateKey is not the private key of SslCertificate)")
    } else {
        text
    }
}
