//! `hotspots serve`: serve a published snapshot over HTTP (one made at start in a temporary
//! directory when incident files are given instead).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;

use super::IncidentArgs;
use crate::server::config::ServeConfig;
use crate::server::live::{spawn_watch, Live};
use crate::server::map::MapAssets;
use crate::server::{serve, AppState, Settings};

/// `hotspots serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Settings file (TOML: bind, boundaries, incidents, rejects, map_assets, [cors],
    /// [heatmap]); flags given here win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub input: IncidentArgs,
    /// Serve a published snapshot (the output directory of `hotspots refresh`: its
    /// `current` run, or one run's directory) instead of computing layers at start.
    #[arg(long, value_name = "DIR", conflicts_with = "incidents")]
    pub layers: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port; the address is printed);
    /// default 127.0.0.1:8080.
    #[arg(long)]
    pub bind: Option<String>,
}

/// The default of `--rejects`, which a config file's `rejects` replaces.
const DEFAULT_REJECTS: &str = "rejects.csv";

/// Fills in from `config` what the command line left unset.
pub fn fill_from_config(input: &mut IncidentArgs, config: &ServeConfig) {
    if input.incidents.is_empty() {
        input.incidents = config.incidents.clone();
    }
    if input.pack.boundaries.is_none() {
        input.pack.boundaries = config.boundaries.clone();
    }
    if input.offence_map.is_none() {
        input.offence_map = config.offence_map.clone();
    }
    if input.schemas.is_empty() {
        input.schemas = config.schemas.clone();
    }
    if let Some(rule) = &config.duplicates {
        input.duplicate_window_min.get_or_insert(rule.window_min);
        input.duplicate_distance_m.get_or_insert(rule.distance_m);
        input
            .duplicate_priority
            .get_or_insert_with(|| rule.priority.clone());
    }
    if let Some(r) = &config.rejects {
        if input.rejects == Path::new(DEFAULT_REJECTS) {
            input.rejects = r.clone();
        }
    }
}

/// Runs the refresh into `dir` every day at `at` (Europe/London) on a thread of its own;
/// the watcher then serves what it publishes. Outcomes go to stderr and `/status`; a
/// failed run leaves the served snapshot as it was.
fn spawn_schedule(live: Arc<Live>, at: jiff::civil::Time, config: Option<PathBuf>, dir: PathBuf) {
    std::thread::spawn(move || loop {
        let now = jiff::Timestamp::now();
        let Ok(next) = crate::publish::schedule::next_run(now, at) else {
            tracing::error!("scheduled refresh stopped: no next run time after {now}");
            return;
        };
        live.status().next_refresh = Some(next.to_string());
        loop {
            let left = next.as_second() - jiff::Timestamp::now().as_second();
            if left <= 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs(left.clamp(1, 60) as u64));
        }
        let args = super::refresh::RefreshArgs {
            config: config.clone(),
            input: IncidentArgs {
                pack: super::PackArg { boundaries: None },
                incidents: Vec::new(),
                offence_map: None,
                schemas: Vec::new(),
                duplicate_window_min: None,
                duplicate_distance_m: None,
                duplicate_priority: None,
                rejects: PathBuf::from(DEFAULT_REJECTS),
                dates: None,
            },
            out: Some(dir.clone()),
            retain: None,
            force: false,
        };
        let stamp = jiff::Timestamp::now();
        let outcome = match super::refresh::refresh(args) {
            Ok(o) => format!("{stamp}: published {}", o.manifest.run_id),
            Err(e) => format!("{stamp}: failed, the served snapshot stays: {e:#}"),
        };
        tracing::info!("scheduled refresh {outcome}");
        live.status().last_refresh = Some(outcome);
    });
}

/// Runs `hotspots serve`.
pub fn run(mut a: ServeArgs) -> Result<()> {
    let config = match &a.config {
        Some(p) => ServeConfig::load(p)?,
        None => ServeConfig::default(),
    };
    fill_from_config(&mut a.input, &config);
    a.input.incidents = super::refresh::expand_globs(&a.input.incidents)?;
    let bind_text = a
        .bind
        .or(config.bind.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let bind: SocketAddr = bind_text
        .parse()
        .with_context(|| format!("bind {bind_text}: expected HOST:PORT"))?;
    // Take the address first: a port in use is reported at once, before any work.
    let listener = std::net::TcpListener::bind(bind)
        .with_context(|| format!("cannot listen on {bind}: is another service using it?"))?;
    listener.set_nonblocking(true)?;
    let open_files = crate::server::listen::raise_open_files();
    if (open_files as usize) < config.limits.max_connections + 64 {
        tracing::warn!(
            "limits.max_connections = {} but only {open_files} files may be open: connections past that wait in the backlog",
            config.limits.max_connections
        );
    }
    let started = std::time::Instant::now();
    let map = MapAssets::load(
        &config
            .map_assets
            .clone()
            .unwrap_or_else(crate::server::map::default_assets_dir),
    );
    if !map.installed() {
        tracing::warn!(
            "no Leaflet in {}: /map needs `npm ci --prefix web`",
            map.dir.display()
        );
    }
    let access = crate::server::access::Access::new(&config.orgs, config.audit_log.as_deref())?;
    let settings = Arc::new(Settings {
        cors: config.cors.clone(),
        map,
        map_config: config.map.clone(),
        base: config.base_policy(),
        access: Arc::new(access),
        tiers: config.layers.clone(),
        limits: config.limits,
        expensive: Arc::new(tokio::sync::Semaphore::new(config.limits.max_expensive)),
    });
    let layers_dir = a.layers.clone();
    let mut quick_look_dir = None;
    let state = match &layers_dir {
        Some(dir) => {
            // A published snapshot: read, nothing computed.
            let p = crate::publish::read_published(dir)?;
            tracing::info!(
                "serving snapshot {} ({} incidents, made {})",
                p.run_dir.display(),
                p.report.accepted,
                p.manifest.finished_at
            );
            AppState::from_published(p, settings.clone())?
        }
        None => {
            // A quick look at incident files: the same refresh as the nightly one, into a
            // private temporary directory removed when the service stops.
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::Builder::new()
                .prefix("hotspots-serve-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir()
                .context("creating a temporary directory for the snapshot")?;
            let outcome = super::refresh::refresh(super::refresh::RefreshArgs {
                config: a.config.clone(),
                input: a.input.clone(),
                out: Some(dir.path().to_path_buf()),
                retain: Some(1),
                force: true,
            })?;
            let p = crate::publish::read_published(&outcome.run_dir)?;
            quick_look_dir = Some(dir);
            let mut state = AppState::from_published(p, settings.clone())?;
            state.computed_at_start = true;
            state
        }
    };
    tracing::info!(
        "{} collections ready in {:.2} s",
        state.collections.len(),
        started.elapsed().as_secs_f64()
    );
    let live = Arc::new(Live::new(state));
    if let Some(at) = &config.refresh_at {
        let dir = layers_dir.clone().context(
            "refresh_at: the scheduled refresh publishes into --layers DIR; give --layers",
        )?;
        let at = crate::publish::schedule::parse_at(at).map_err(anyhow::Error::msg)?;
        spawn_schedule(live.clone(), at, a.config.clone(), dir);
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        if let Some(dir) = layers_dir {
            // A new `current` from the nightly refresh is served without a restart.
            let every = std::time::Duration::from_secs_f64(config.refresh.watch_s);
            let s = settings.clone();
            spawn_watch(live.clone(), dir, every, move |run| {
                let p = crate::publish::read_published(run)?;
                AppState::from_published(p, s.clone())
            });
        }
        serve(live, tokio::net::TcpListener::from_std(listener)?).await
    })?;
    drop(quick_look_dir);
    Ok(())
}
