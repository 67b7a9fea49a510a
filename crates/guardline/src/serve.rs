//! `guardline serve` and `guardline init`: the guarded, OpenAI-compatible gateway.

use crate::ledger_opts::LedgerArgs;
use crate::Global;
use anyhow::{bail, Context, Result};
use axum::serve::ListenerExt;
use clap::Args;
use guardline_detect::Engine;
use guardline_gateway::config::{Config, TEMPLATE};
use guardline_gateway::keys::{keys_path, KeyStore};
use guardline_gateway::vault_store::VaultStore;
use guardline_gateway::{Gateway, Guard, Upstreams};
use guardline_ledger::{checkpoint, Ledger, Options};
use guardline_policy::{Policy, PolicySet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args, Debug)]
#[command(
    about = "Run the guarded, OpenAI-compatible gateway",
    long_about = "Run the guarded, OpenAI-compatible gateway. Point apps at it instead of at \
OpenAI, Azure, DeepSeek, vLLM or Ollama: Hong Kong personal data is pseudonymised before it \
leaves and restored on the way back, secrets and prompt injection are stopped, every answer is \
labelled as AI-generated, and every exchange is recorded in the evidence ledger. Works with no \
configuration at all: loopback, the hk-baseline policy, the SQLite ledger in the data directory."
)]
pub struct ServeArgs {
    /// Configuration file [default: ./guardline.toml when it exists]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// The OpenAI-compatible upstream base URL, e.g. https://api.openai.com/v1
    #[arg(long, env = "OPENAI_BASE_URL", value_name = "URL")]
    upstream: Option<String>,
    /// A policy file [default: the config's, else the embedded hk-baseline]
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    #[command(flatten)]
    ledger: LedgerArgs,
}

#[derive(Args, Debug)]
#[command(about = "Write a commented guardline.toml")]
pub struct InitArgs {
    /// Where to write it
    #[arg(default_value = "guardline.toml")]
    path: PathBuf,
    /// Replace an existing file
    #[arg(long)]
    force: bool,
}

pub fn init(args: InitArgs) -> Result<ExitCode> {
    if args.path.exists() && !args.force {
        bail!("{} exists; give --force to replace it", args.path.display());
    }
    std::fs::write(&args.path, TEMPLATE)
        .with_context(|| format!("cannot write {}", args.path.display()))?;
    println!(
        "wrote {}: every key is optional; `guardline serve --config {}` reads it",
        args.path.display(),
        args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Where the policies come from, kept so that SIGHUP can read them again.
struct PolicyFiles {
    default: Option<PathBuf>,
    tenants: Vec<(String, PathBuf)>,
}

impl PolicyFiles {
    /// `--policy` wins over the config's `[policy] file`.
    fn of(config: &Config, policy_arg: Option<&Path>) -> PolicyFiles {
        PolicyFiles {
            default: policy_arg
                .map(Path::to_path_buf)
                .or(config.policy.file.clone()),
            tenants: config
                .tenants
                .iter()
                .map(|(name, t)| (name.clone(), t.policy.clone()))
                .collect(),
        }
    }

    fn load(&self) -> Result<PolicySet> {
        let default = match &self.default {
            Some(p) => load_policy(p)?,
            None => Policy::hk_baseline(),
        };
        let mut set = PolicySet {
            default: Arc::new(default),
            tenants: Default::default(),
        };
        for (name, path) in &self.tenants {
            set.tenants
                .insert(name.clone(), Arc::new(load_policy(path)?));
        }
        Ok(set)
    }
}

fn load_policy(path: &Path) -> Result<Policy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy {}", path.display()))?;
    Ok(Policy::from_toml(&text, &path.display().to_string())?)
}

/// `--config FILE`, else `guardline.toml` in the current directory if there is one.
pub(crate) fn config_path(arg: Option<PathBuf>) -> Option<PathBuf> {
    arg.or_else(|| {
        let p = PathBuf::from("guardline.toml");
        p.exists().then_some(p)
    })
}

/// The pseudonym key: `GUARDLINE_KEY`, else the data directory's key file (made if missing).
pub(crate) fn pseudonym_key(data_dir: &Path) -> Result<guardline_detect::Key> {
    Ok(guardline_scan::keys::resolve(
        &guardline_scan::keys::KeySource {
            key_file: None,
            secret: std::env::var("GUARDLINE_KEY").ok(),
            data_dir: Some(data_dir.to_path_buf()),
        },
    )?)
}

/// The store of kept pseudonyms `config` names: its `[vault] redis`, or `vault.sqlite` in the
/// data directory.
pub(crate) fn vault_store(
    config: &Config,
    data_dir: &Path,
    key: &guardline_detect::Key,
    ttl: std::time::Duration,
) -> Result<VaultStore> {
    match &config.vault.redis {
        Some(url) => VaultStore::redis(url, key, ttl),
        None => VaultStore::sqlite(&data_dir.join("vault.sqlite"), key, ttl),
    }
    .map_err(anyhow::Error::msg)
}

pub(crate) fn load_config(path: Option<&Path>) -> Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    })
}

/// Where the pseudonyms of stored responses and conversations are kept (`[vault] keep`): the
/// Redis it names, or `vault.sqlite` in the data directory. `None` when nothing is kept.
fn kept_pseudonyms(
    config: &Config,
    data_dir: &Path,
    key: &guardline_detect::Key,
) -> Result<Option<VaultStore>> {
    let v = &config.vault;
    if !v.keep {
        return Ok(None);
    }
    let ttl = std::time::Duration::from_secs(u64::from(v.keep_days) * 86_400);
    if v.redis.is_none() {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
    }
    vault_store(config, data_dir, key, ttl).map(Some)
}

pub fn run(args: ServeArgs, global: &Global) -> Result<ExitCode> {
    let config_path = config_path(args.config.clone());
    let mut config = load_config(config_path.as_deref())?;
    let started = config.clone();
    if let Some(l) = args.listen {
        config.server.listen = l;
    }
    let data_dir = global.data_dir()?;
    let keys_file = keys_path(&data_dir);
    let keys = KeyStore::load(&keys_file)?;
    if keys.is_empty() && !config.server.listen.ip().is_loopback() {
        bail!(
            "refusing to listen on {} with no client keys: create one with `guardline keys \
             create --tenant NAME`, or listen on loopback (open mode)",
            config.server.listen
        );
    }
    let policies = PolicyFiles::of(&config, args.policy.as_deref()).load()?;
    let key = pseudonym_key(&data_dir)?;
    let ledger_args = LedgerArgs {
        ledger: args.ledger.ledger.clone().or(config.ledger.url.clone()),
    };
    let location = ledger_args.location(global)?;
    let retain =
        policies.default.retain_content || policies.tenants.values().any(|p| p.retain_content);
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GUARDLINE_LOG")
                .unwrap_or_else(|_| "guardline=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    // A panic message may quote what was being checked: log where it happened, never what it
    // said (privacy by default; the client gets a clean 500, see guardline_gateway::panic_response).
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(location = %at, "panic (message withheld: it may quote content)");
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let ledger = Ledger::open(
            &location,
            Options {
                checkpoint_key: Some(checkpoint::load_or_create_key(&data_dir)?),
                retain_content: retain,
                sync: config.ledger.sync,
                ..Options::default()
            },
        )
        .await?;
        let engine = Arc::new(Engine::with_defaults());
        let guard = Guard::new(engine, key.clone());
        let key_for_vault = key.clone();
        let policy_name = policies.default.name.clone();
        let gw = Gateway::new(
            &config,
            guard,
            policies,
            ledger.clone(),
            key,
            args.upstream.as_deref(),
            keys,
        )
        .map_err(anyhow::Error::msg)?;
        let gw = match kept_pseudonyms(&config, &data_dir, &key_for_vault)? {
            Some(store) => gw.keep_vaults(store),
            None => gw,
        };
        let mode = if gw.open_mode() {
            "open mode: loopback only, no client keys".to_string()
        } else {
            "client keys required".to_string()
        };
        let upstream = gw.upstream_summary();
        gw.record_start()
            .await
            .context("cannot record the gateway's start in the ledger")?;
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "guardline serve: listening on http://{addr}/v1 ({mode}) · policy {policy_name} · \
             upstream {upstream} · ledger {}{}",
            ledger.stats().await.map(|s| s.storage).unwrap_or_default(),
            gw.kept_pseudonyms()
                .map(|k| format!(" · pseudonyms kept in {k}"))
                .unwrap_or_default()
        );
        let gw = Arc::new(gw);
        #[cfg(unix)]
        tokio::spawn(reload_on_hangup(
            gw.clone(),
            Reload {
                config_path,
                started,
                policy_arg: args.policy.clone(),
                upstream_arg: args.upstream.clone(),
                keys_file: keys_file.clone(),
            },
        ));
        tokio::spawn(watch_keys(gw.clone(), keys_file));
        if let Some(every) = gw.heartbeat() {
            tokio::spawn(heartbeat(gw.clone(), every));
        }
        let app = guardline_gateway::router(gw.clone());
        // Without TCP_NODELAY, a streamed event written right after another waits for the
        // client's delayed ACK (~40 ms): the time to first token would be Nagle's, not ours.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .context("the server stopped")?;
        if let Err(e) = gw.record_stop().await {
            tracing::error!(error = %e, "cannot record the gateway's stop in the ledger");
        }
        ledger.close().await?;
        eprintln!("guardline serve: stopped; ledger head signed");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Records a heartbeat every `every` while the gateway runs. A heartbeat that cannot be written
/// (the ledger is down) is logged and tried again at the next one; exchanges meanwhile are
/// refused anyway, since they cannot be recorded either.
async fn heartbeat(gw: Arc<Gateway>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate, and the start record was just written
    loop {
        tick.tick().await;
        if let Err(e) = gw.record_heartbeat().await {
            tracing::error!(error = %e, "cannot record the gateway's heartbeat in the ledger");
        }
    }
}

/// How often the key files are looked at: `guardline keys create` and `keys revoke`, and a new
/// upstream key in an `api_key_file`, take effect within this long, without a restart.
const KEYS_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Reloads the client keys whenever their file changes (size or modification time), and the
/// upstreams' `api_key_file`s whenever they hold another key. A file that cannot be read keeps
/// the keys in force, with an error in the log.
async fn watch_keys(gw: Arc<Gateway>, path: PathBuf) {
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    };
    let mut last = stamp(&path);
    let mut tick = tokio::time::interval(KEYS_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        gw.refresh_upstream_keys().await;
        let now = stamp(&path);
        if now == last {
            continue;
        }
        last = now;
        reload_keys(&gw, &path);
    }
}

fn reload_keys(gw: &Gateway, path: &Path) {
    match KeyStore::load(path) {
        Ok(keys) => {
            gw.set_keys(keys);
        }
        Err(e) => tracing::error!(error = %e, "cannot reload the client keys; the old ones stay"),
    }
}

/// What SIGHUP reads again, and what the gateway started with.
#[cfg(unix)]
struct Reload {
    config_path: Option<PathBuf>,
    /// The config file as it was at start-up (before `--listen`).
    started: Config,
    policy_arg: Option<PathBuf>,
    upstream_arg: Option<String>,
    keys_file: PathBuf,
}

#[cfg(unix)]
impl Reload {
    /// Reads the config file, its policies and upstreams; applies them only if all of them load
    /// (nothing half-applied), and records the change in the ledger.
    async fn apply(&self, gw: &Gateway) -> Result<Result<i64, guardline_ledger::LedgerError>> {
        let config = load_config(self.config_path.as_deref())?;
        let policies = PolicyFiles::of(&config, self.policy_arg.as_deref()).load()?;
        let upstreams =
            Upstreams::build(&config, self.upstream_arg.as_deref()).map_err(anyhow::Error::msg)?;
        if config.server.listen != self.started.server.listen {
            tracing::warn!("[server] listen changed: it takes effect at the next restart");
        }
        if config.ledger != self.started.ledger {
            tracing::warn!("[ledger] changed: it takes effect at the next restart");
        }
        if config.vault != self.started.vault {
            tracing::warn!("[vault] changed: it takes effect at the next restart");
        }
        gw.set_upstreams(upstreams);
        gw.set_limits(&config.server);
        Ok(gw.set_policies(policies).await.map(|r| r.seq))
    }
}

/// SIGHUP: reads the client keys, the config file's upstreams and routes, and the policy files
/// again. Anything that does not load keeps everything as it was; a reload that does is recorded
/// in the ledger. `[server]`'s limits apply too; its `listen`, `[ledger]` and `[vault]` need a
/// restart.
#[cfg(unix)]
async fn reload_on_hangup(gw: Arc<Gateway>, reload: Reload) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; a reload needs a restart");
        return;
    };
    while hup.recv().await.is_some() {
        reload_keys(&gw, &reload.keys_file);
        match reload.apply(&gw).await {
            Ok(Ok(seq)) => tracing::info!(
                seq,
                upstreams = %gw.upstream_summary(),
                "configuration and policies reloaded and recorded"
            ),
            Ok(Err(e)) => tracing::error!(
                error = %e,
                "configuration and policies reloaded, but recording the change failed"
            ),
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "reload failed; the configuration and policies in force stay"
            ),
        }
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
