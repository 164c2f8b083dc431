//! The Administration Hub: the administrator's console and JSON API (accounts, groups,
//! rights, settings, audit log), the registry API the other components read, and the
//! registry of the installation's components.
//!
//! Its data: `hub/accountreg/accountreg.sqlite` (administrator password, groups, accounts,
//! settings of every level) and `hub/hubreg/hubreg.sqlite` (component registry, sessions,
//! audit log).

mod audit;
mod backups;
mod body;
pub use backups::BackupReport;
mod components_api;
mod console;
mod json_api;
mod login;
mod registry;
mod registry_api;
mod remote_keys;
mod service;
mod sessions;
pub mod setup_password;
mod store;
mod web_auth;

use std::sync::Arc;

use axum::routing::{delete, get, post};
use axum::{Json, Router};
use tutti_core::Component;
use tutti_core::config::HubConfig;
use tutti_core::runtime::{ComponentContext, Started, component_router};
use utoipa::openapi::OpenApi;

pub use registry::Registry;

/// Shared by the Hub's handlers.
pub(crate) struct HubState {
    pub ctx: ComponentContext,
    pub registry: Registry,
    pub store: store::Store,
    pub sessions: tutti_core::sessions::SessionStore,
    pub audit: audit::Audit,
    pub limits: tutti_core::login_limits::LoginLimits,
    /// `TrustedProxies`: whose `X-Forwarded-For` names the client of a login.
    pub trusted_proxies: tutti_core::client_address::TrustedProxies,
    /// Checked against when a login names no account, so timing reveals nothing.
    pub dummy_hash: String,
    /// `tutti_hub_logins_total{result}`: accepted and refused passwords.
    pub logins: tutti_core::metrics::CounterBy,
    /// Company name, header text, logo and colours of the console (`hub/branding`).
    pub branding: Arc<tutti_core::branding::Branding>,
    /// hub.ini, for the backup keys.
    pub backup: tutti_core::config::HubConfig,
    /// Held while a backup runs; the id of the last one.
    pub backup_lock: tokio::sync::Mutex<String>,
    /// The cluster secret, to call the components.
    pub secret: tutti_core::ClusterSecret,
    /// RemoteAdminPasswords typed on the Logs page, by session and component.
    pub remote_keys: remote_keys::RemoteKeys,
}

/// The first password of installations made by earlier versions: anyone could guess it,
/// so such a password still unchanged is replaced by a setup password at start, and it
/// can never be chosen again.
pub const LEGACY_ADMIN_PASSWORD: &str = "admin";

/// Opens the Hub's data, records the Hub itself in its registry and returns its routes.
pub async fn start(ctx: ComponentContext, config: HubConfig) -> anyhow::Result<Started> {
    let store = open_store(&ctx.root).await?;
    let setup = setup_password::path(&ctx.root);
    if setup.exists() {
        tracing::warn!(
            "the administrator has not chosen a password yet: log in to /hub with the one-time setup password in {}",
            setup.display()
        );
    }
    let hubreg = tutti_core::sqlite::Db::open(
        &ctx.root.join("hub/hubreg/hubreg.sqlite"),
        &[
            registry::SCHEMA,
            tutti_core::sessions::SCHEMA,
            audit::SCHEMA,
        ],
    )
    .await?;
    let dummy_hash =
        tutti_core::password::hash_blocking("no account has this password".into()).await?;
    let branding = tutti_core::branding::load(&ctx.root, tutti_core::Component::Hub);
    for warning in &branding.warnings {
        tracing::warn!("{warning}");
    }
    let state = Arc::new(HubState {
        branding: Arc::new(branding.branding),
        registry: Registry::new(hubreg.clone()),
        sessions: tutti_core::sessions::SessionStore::new(hubreg.clone()),
        audit: audit::Audit::new(hubreg),
        limits: tutti_core::login_limits::LoginLimits::default(),
        trusted_proxies: config.trusted_proxies.clone(),
        store,
        dummy_hash,
        logins: ctx.metrics.counter_by(
            "hub_logins",
            "Password checks of logins (console, API, User Interface), by result",
            "result",
        ),
        backup: config.clone(),
        backup_lock: tokio::sync::Mutex::new(String::new()),
        secret: config.common.cluster_secret.clone(),
        remote_keys: remote_keys::RemoteKeys::default(),
        ctx,
    });
    components_api::register_self(&state).await?;
    tracing::info!(
        "Administration Hub started (instance {})",
        state.ctx.instance_id
    );

    let (people_api, mut doc) = json_api::router().split_for_parts();
    let (registry_api, registry_doc) = registry_api::router().split_for_parts();
    doc.merge(registry_doc);
    let doc = describe(doc);
    let api = registry_api
        .route(
            "/components",
            get(components_api::list).post(components_api::announce),
        )
        .route("/components/{instance_id}", delete(components_api::forget))
        .route("/backups", post(backups::run_now))
        .with_state(state.clone());
    let public = Router::new()
        .nest(
            "/api",
            people_api.route("/openapi.json", get(move || async move { Json(doc) })),
        )
        .merge(console::router())
        .with_state(state.clone());
    let router = component_router(
        Component::Hub,
        &state.ctx,
        &config.common.cluster_secret,
        public,
        api,
    );
    Ok(Started {
        router,
        tasks: backups::schedule(state, &config).into_iter().collect(),
        fast: Vec::new(),
        hot: None,
    })
}

/// Opens `hub/accountreg`. A new registry's administrator password is the one-time
/// setup password ([`setup_password`]); so is that of a registry written by an earlier
/// version whose password is still the old well-known `admin`.
async fn open_store(root: &std::path::Path) -> anyhow::Result<store::Store> {
    let db = tutti_core::sqlite::Db::open(
        &root.join("hub/accountreg/accountreg.sqlite"),
        &[store::SCHEMA],
    )
    .await?;
    let store = store::Store::open(db);
    let replace = match store.admin_opt().await? {
        None => true,
        Some((hash, true)) => {
            tutti_core::password::verify_blocking(LEGACY_ADMIN_PASSWORD.into(), hash).await?
        }
        Some((_, false)) => false,
    };
    if replace {
        let setup = setup_password::ensure(root).map_err(|e| {
            anyhow::anyhow!(
                "cannot write the setup password to {}: {e}",
                setup_password::path(root).display()
            )
        })?;
        let hash = tutti_core::password::hash_blocking(setup).await?;
        store.set_first_admin_password(hash).await?;
    }
    Ok(store)
}

/// Sets the administrator password offline (`tutti hub reset-admin-password`); the Hub
/// need not run. Every admin session ends.
pub async fn reset_admin_password(root: &std::path::Path, password: &str) -> anyhow::Result<()> {
    tutti_core::password::check_new_password(password)
        .map_err(|e| anyhow::anyhow!("the new password: {e}"))?;
    let store = open_store(root).await?;
    let hash = tutti_core::password::hash_blocking(password.to_string()).await?;
    store.set_admin_password(hash, false).await?;
    setup_password::remove(root);
    let hubreg = tutti_core::sqlite::Db::open(
        &root.join("hub/hubreg/hubreg.sqlite"),
        &[
            registry::SCHEMA,
            tutti_core::sessions::SCHEMA,
            audit::SCHEMA,
        ],
    )
    .await?;
    tutti_core::sessions::SessionStore::new(hubreg.clone())
        .end_all(&sessions::Principal::Admin, None)
        .await?;
    audit::Audit::new(hubreg)
        .record(
            "tutti hub reset-admin-password",
            "admin.password",
            "admin",
            "reset offline",
        )
        .await?;
    Ok(())
}

fn describe(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "Tutti Administration Hub API".into();
    doc.info.version = tutti_core::api::VERSION.into();
    doc.info.description = Some(
        "People and automation log in with POST /session (cookie session; send the returned csrf_token as X-CSRF-Token on every change). \
         The registry paths are for Tutti's components and need Authorization: Bearer <ClusterSecret>."
            .into(),
    );
    doc.servers = Some(vec![utoipa::openapi::Server::new("/hub/api")]);
    tutti_core::openapi::describe_session_auth(&mut doc, web_auth::COOKIES.session);
    // The registry paths are the components' (the ClusterSecret), not people's.
    let components = tutti_core::openapi::cluster_secret(&mut doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        if path.starts_with("/registry/") {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                operation.security = Some(vec![components.clone()]);
            }
        }
    }
    tutti_core::openapi::describe_errors(&mut doc);
    doc
}
