//! `guardline.toml`: every key optional, each with a safe default. Secrets (upstream API keys)
//! come from environment variables or files the config names, never from the config itself.
//! Relative paths in the file are read from the file's own directory.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    /// The upstream for models no route names. Without one (and without `OPENAI_BASE_URL`),
    /// model calls answer 503 and `/v1/guard` still works.
    pub upstream: Option<UpstreamConfig>,
    /// Upstreams chosen by model name, first match wins.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Per-tenant policy files.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
    #[serde(default)]
    pub ledger: LedgerConfig,
    #[serde(default)]
    pub vault: VaultConfig,
}

/// `[vault]`: whether the values behind pseudonyms are kept between requests, so that replies
/// referring to earlier calls (`previous_response_id`, conversations, stored responses) come back
/// restored (see [`crate::vault_store`]). Off by default: it keeps personal data at rest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    #[serde(default)]
    pub keep: bool,
    /// Days a response's or conversation's tokens are kept after it was last written (OpenAI
    /// keeps stored responses 30 days).
    #[serde(default = "default_keep_days")]
    pub keep_days: u32,
    /// A Redis that several gateways share (`redis://[:password@]host[:port][/db]`) [default:
    /// `vault.sqlite` in the data directory].
    pub redis: Option<String>,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            keep: false,
            keep_days: default_keep_days(),
            redis: None,
        }
    }
}

fn default_keep_days() -> u32 {
    30
}

/// Longest `[vault] keep_days`: ten years.
const MAX_KEEP_DAYS: u32 = 3650;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where to listen. Loopback by default.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Largest request body accepted (bytes).
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Requests handled at once; more wait (and time out as clients decide).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Requests per second per client key (0: no limit).
    #[serde(default)]
    pub rate_limit_per_key: u32,
    /// Requests a key may send at once above its rate [default: the rate].
    #[serde(default)]
    pub rate_limit_burst: u32,
    /// Count the per-key rate in this Redis (`redis://[:password@]host[:port][/db]`), shared by
    /// every gateway that names it, instead of in this process.
    #[serde(default)]
    pub rate_limit_redis: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            body_limit: default_body_limit(),
            concurrency: default_concurrency(),
            rate_limit_per_key: 0,
            rate_limit_burst: 0,
            rate_limit_redis: None,
        }
    }
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("a valid address")
}
fn default_body_limit() -> usize {
    4 << 20
}
fn default_concurrency() -> usize {
    1024
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// An OpenAI-compatible base URL ending in `/v1` (OpenAI, Azure OpenAI's v1 endpoint,
    /// DeepSeek, vLLM, Ollama, …).
    pub url: String,
    /// The environment variable holding its API key (sent as `Authorization: Bearer`).
    pub api_key_env: Option<String>,
    /// Or a file holding the key (a mounted secret): looked at every 2 s, so a rotated key
    /// takes effect without a restart or a signal (and is recorded in the ledger).
    pub api_key_file: Option<PathBuf>,
    /// Send the key as it is in this header instead (Azure OpenAI's API keys: `api-key`).
    pub api_key_header: Option<String>,
    /// A name for records and metrics [default: the URL's host].
    pub name: Option<String>,
    /// An HTTP proxy to reach this upstream through (`http://proxy.internal:3128`, credentials
    /// as `http://user:pass@host:port`) [default: `HTTPS_PROXY`/`HTTP_PROXY`, minus `NO_PROXY`].
    pub proxy: Option<String>,
    /// PEM file of extra root certificates to trust for this upstream (a private CA in front
    /// of an in-house vLLM, say), on top of the system's roots.
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    /// Until the first byte of the reply (headers) arrives.
    #[serde(default = "default_first_byte_ms")]
    pub first_byte_timeout_ms: u64,
    /// The whole exchange, streams included.
    #[serde(default = "default_total_ms")]
    pub total_timeout_ms: u64,
}

fn default_connect_ms() -> u64 {
    5_000
}
fn default_first_byte_ms() -> u64 {
    60_000
}
fn default_total_ms() -> u64 {
    600_000
}

impl UpstreamConfig {
    pub fn from_url(url: &str) -> UpstreamConfig {
        UpstreamConfig {
            url: url.to_string(),
            api_key_env: Some("OPENAI_API_KEY".into()),
            api_key_file: None,
            api_key_header: None,
            name: None,
            proxy: None,
            ca_file: None,
            connect_timeout_ms: default_connect_ms(),
            first_byte_timeout_ms: default_first_byte_ms(),
            total_timeout_ms: default_total_ms(),
        }
    }

    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.url
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap_or(&self.url)
                .to_string()
        })
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    pub fn first_byte_timeout(&self) -> Duration {
        Duration::from_millis(self.first_byte_timeout_ms)
    }
    pub fn total_timeout(&self) -> Duration {
        Duration::from_millis(self.total_timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Model-name globs (`gpt-4o*`, `deepseek-*`).
    pub models: Vec<String>,
    #[serde(flatten)]
    pub upstream: UpstreamConfig,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// A policy file [default: the embedded hk-baseline].
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub policy: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// `postgres://…` or a SQLite path [default: ledger.sqlite in the data directory].
    pub url: Option<String>,
    /// When an exchange's record counts as written, before the reply goes out: `normal` (the
    /// default) once the operating system has it — the gateway being killed loses nothing, a
    /// power cut may lose the last second, synced in the background; `full` after an fsync of
    /// each group commit (nothing lost to a power cut; about +0.4 ms a request on this machine).
    #[serde(default = "default_ledger_sync")]
    pub sync: guardline_ledger::SyncMode,
    /// How often a running gateway records that it is still running (`config_change`,
    /// `gateway_heartbeat`), in seconds; 0 turns it off. `guardline report` stops crediting a
    /// gateway that has missed two of them: it was killed, or lost its ledger, without a chance to
    /// record its stop.
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u64,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            url: None,
            sync: default_ledger_sync(),
            heartbeat_secs: default_heartbeat_secs(),
        }
    }
}

fn default_ledger_sync() -> guardline_ledger::SyncMode {
    guardline_ledger::SyncMode::Normal
}

fn default_heartbeat_secs() -> u64 {
    300
}

/// The longest heartbeat interval a config may ask for: a day.
pub const MAX_HEARTBEAT_SECS: u64 = 86_400;

impl Config {
    /// Reads and checks a config file; its relative paths are taken from its own directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        let mut config = Config::from_toml(&text, &path.display().to_string())?;
        config.resolve_paths(path.parent().unwrap_or(Path::new("")));
        Ok(config)
    }

    /// Makes the relative paths in the file (`ca_file`, `api_key_file`, policy files, a SQLite
    /// ledger) relative to `base`, the file's directory, so the gateway reads the same files
    /// whatever directory it was started from.
    pub fn resolve_paths(&mut self, base: &Path) {
        let at = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for u in self
            .upstream
            .iter_mut()
            .chain(self.routes.iter_mut().map(|r| &mut r.upstream))
        {
            u.ca_file.iter_mut().for_each(at);
            u.api_key_file.iter_mut().for_each(at);
        }
        self.policy.file.iter_mut().for_each(at);
        for t in self.tenants.values_mut() {
            at(&mut t.policy);
        }
        // A SQLite path as the ledger reads it; a URL that does not parse is left for the
        // ledger to refuse, with its own message.
        if let Some(url) = &mut self.ledger.url {
            if let Ok(guardline_ledger::Location::Sqlite(path)) =
                guardline_ledger::Location::parse(url)
            {
                if path.is_relative() {
                    *url = base.join(path).display().to_string();
                }
            }
        }
    }

    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let c: Config =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(format!("{origin}: {e}")))?;
        for u in c
            .upstream
            .iter()
            .chain(c.routes.iter().map(|r| &r.upstream))
        {
            if !(u.url.starts_with("http://") || u.url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "{origin}: upstream url `{}` must start with http:// or https://",
                    u.url
                )));
            }
            if u.api_key_env.is_some() && u.api_key_file.is_some() {
                return Err(ConfigError::Invalid(format!(
                    "{origin}: upstream `{}` names both api_key_env and api_key_file; keep one",
                    u.url
                )));
            }
            if let Some(h) = &u.api_key_header {
                if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    return Err(ConfigError::Invalid(format!(
                        "{origin}: api_key_header `{h}` is not a valid HTTP header name"
                    )));
                }
            }
        }
        if let Some(url) = &c.server.rate_limit_redis {
            let one = std::num::NonZeroU32::MIN;
            crate::rate::RateLimiter::shared(url, one, one)
                .map_err(|e| ConfigError::Invalid(format!("{origin}: [server] {e}")))?;
        }
        if !(1..=MAX_KEEP_DAYS).contains(&c.vault.keep_days) {
            return Err(ConfigError::Invalid(format!(
                "{origin}: [vault] keep_days = {} must be between 1 and {MAX_KEEP_DAYS}",
                c.vault.keep_days
            )));
        }
        if let Some(url) = &c.vault.redis {
            let key = guardline_detect::Key::from_bytes([0; 32]);
            crate::vault_store::VaultStore::redis(url, &key, std::time::Duration::ZERO)
                .map_err(|e| ConfigError::Invalid(format!("{origin}: {e}")))?;
        }
        if c.ledger.heartbeat_secs > MAX_HEARTBEAT_SECS {
            return Err(ConfigError::Invalid(format!(
                "{origin}: [ledger] heartbeat_secs = {} is over a day ({MAX_HEARTBEAT_SECS}); \
                 a killed gateway would count as running that long (0 turns heartbeats off)",
                c.ledger.heartbeat_secs
            )));
        }
        for r in &c.routes {
            for g in &r.models {
                globset::Glob::new(g).map_err(|e| {
                    ConfigError::Invalid(format!("{origin}: route model glob `{g}`: {e}"))
                })?;
            }
        }
        Ok(c)
    }
}

/// The commented configuration `guardline init` writes.
pub const TEMPLATE: &str = r#"# guardline.toml: every key is optional; the values shown are the defaults. Relative paths in
# this file are read from the directory this file is in.
# `kill -HUP` makes a running gateway read its upstreams, routes, policies and [server] limits
# again (and records that in the ledger); `listen` and [ledger] take effect at the next start.

[server]
# Loopback only until client keys exist (`guardline keys create --tenant NAME`); with no keys the
# gateway runs in open mode and refuses to listen anywhere else.
listen = "127.0.0.1:8080"
body_limit = 4194304        # bytes
concurrency = 1024          # requests in flight
rate_limit_per_key = 0      # requests per second per client key; 0 = no limit
rate_limit_burst = 0        # default: the rate
# Several gateways behind a load balancer: count each key's rate in one Redis, shared by all, so
# a key gets its rate once, not once per gateway. If Redis does not answer, requests are refused.
# rate_limit_redis = "redis://127.0.0.1:6379/0"

# The upstream for every model no route names. Without it (and without OPENAI_BASE_URL),
# model calls answer 503 and /v1/guard still works.
# [upstream]
# url = "https://api.openai.com/v1"
# api_key_env = "OPENAI_API_KEY"   # the environment variable that holds the key, or:
# api_key_file = "/run/secrets/openai-key"   # a file holding it; a rotated key is in force within 2 s
# ca_file = "internal-ca.pem"      # extra roots to trust (a private CA), besides the system's
# proxy = "http://proxy.internal:3128"   # default: HTTPS_PROXY / HTTP_PROXY, minus NO_PROXY
# connect_timeout_ms = 5000
# first_byte_timeout_ms = 60000
# total_timeout_ms = 600000

# Route models to other OpenAI-compatible upstreams (first match wins).
# [[routes]]
# models = ["deepseek-*"]
# url = "https://api.deepseek.com/v1"
# api_key_env = "DEEPSEEK_API_KEY"

# [[routes]]
# models = ["gpt-4o*"]
# url = "https://YOUR-RESOURCE.openai.azure.com/openai/v1"   # Azure OpenAI's v1 endpoint
# api_key_env = "AZURE_OPENAI_API_KEY"
# api_key_header = "api-key"       # Azure takes its keys in `api-key`, not `Authorization`

# [[routes]]
# models = ["qwen*", "llama*"]
# url = "http://127.0.0.1:11434/v1"   # Ollama

[policy]
# file = "policy.toml"      # default: the embedded hk-baseline policy

# A tenant with its own policy:
# [tenants.hospital]
# policy = "hospital-policy.toml"

[ledger]
# url = "postgres://guardline@db.internal/guardline"   # default: ledger.sqlite in the data directory
# Every exchange is recorded before its reply goes out. "normal": once the operating system has
# the record (a killed gateway loses nothing; a power cut may lose the last second, synced in the
# background). "full": after an fsync of each group commit (nothing lost to a power cut, slower).
# sync = "normal"
# Every 5 minutes the gateway records that it still runs; `guardline report` stops crediting a
# gateway that has missed two heartbeats (killed, or cut off from its ledger). 0: no heartbeats.
# heartbeat_secs = 300

[vault]
# Personal data is pseudonymised before it leaves, and a reply is restored from what its own
# request carried. Calls that continue from history the upstream keeps (the Responses API's
# previous_response_id and conversations, stored responses retrieved later) would get tokens
# back for values sent in earlier calls. keep = true keeps each stored response's and
# conversation's tokens, their values encrypted (AES-256-GCM), per tenant, so those come back
# restored too; deleting the response or conversation through the gateway deletes them, and
# `guardline vault forget VALUE` erases one person's values everywhere (an erasure request).
# Off by default: it keeps personal data at rest, in vault.sqlite in the data directory.
# keep = false
# keep_days = 30              # after the response or conversation was last written
# redis = "redis://127.0.0.1:6379/0"   # shared by several gateways (same pseudonym key)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_and_defaults_are_safe() {
        let c = Config::from_toml(TEMPLATE, "template").unwrap();
        assert!(c.server.listen.ip().is_loopback());
        assert!(c.upstream.is_none());
        let empty = Config::from_toml("", "empty").unwrap();
        assert_eq!(empty.server.body_limit, 4 << 20);
        assert_eq!(empty.ledger.sync, guardline_ledger::SyncMode::Normal);
        assert_eq!(empty.ledger.heartbeat_secs, 300);
        let off = Config::from_toml("[ledger]\nheartbeat_secs = 0", "off").unwrap();
        assert_eq!(off.ledger.heartbeat_secs, 0);
        let long = Config::from_toml("[ledger]\nheartbeat_secs = 86401", "long").unwrap_err();
        assert!(long.to_string().contains("heartbeat_secs"), "{long}");
        assert_eq!(empty.vault, VaultConfig::default());
        assert!(!empty.vault.keep);
        let kept = Config::from_toml("[vault]\nkeep = true\nkeep_days = 7", "kept").unwrap();
        assert!(kept.vault.keep && kept.vault.keep_days == 7);
        for bad in ["[vault]\nkeep_days = 0", "[vault]\nredis = 'nonsense://'"] {
            let e = Config::from_toml(bad, "v.toml").unwrap_err().to_string();
            assert!(e.contains("v.toml") && e.contains("vault"), "{bad}: {e}");
        }
        let full = Config::from_toml("[ledger]\nsync = 'full'", "full").unwrap();
        assert_eq!(full.ledger.sync, guardline_ledger::SyncMode::Full);
        let bad = Config::from_toml("[ledger]\nsync = 'sometimes'", "bad").unwrap_err();
        assert!(bad.to_string().contains("sync"), "{bad}");
    }

    #[test]
    fn bad_configs_say_where() {
        for (text, want) in [
            ("[server]\nlisten = 'nowhere'", "listen"),
            ("[upstream]\nurl = 'ftp://x'", "http"),
            ("[[routes]]\nmodels=['a[']\nurl='http://x'", "glob"),
            ("colour = 1", "unknown field"),
            (
                "[upstream]\nurl = 'https://x/v1'\napi_key_header = 'api key'",
                "not a valid HTTP header name",
            ),
        ] {
            let e = Config::from_toml(text, "g.toml").unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("g.toml"), "{text}: {e}");
        }
        let c = Config::from_toml(
            "[[routes]]\nmodels = ['deepseek-*']\nurl = 'https://api.deepseek.com/v1'\napi_key_env = 'DS'",
            "t",
        )
        .unwrap();
        assert_eq!(c.routes[0].upstream.display_name(), "api.deepseek.com");
        let both = "[upstream]\nurl = 'https://x/v1'\napi_key_env = 'K'\napi_key_file = 'k'";
        let e = Config::from_toml(both, "g.toml").unwrap_err().to_string();
        assert!(e.contains("api_key_env and api_key_file"), "{e}");
    }

    #[test]
    fn relative_paths_are_read_from_the_config_files_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("guardline.toml");
        std::fs::write(
            &file,
            "[upstream]\nurl = 'https://x/v1'\nca_file = 'ca.pem'\napi_key_file = 'secrets/key'\n\
             [[routes]]\nmodels = ['m']\nurl = 'https://y/v1'\nca_file = '/etc/abs.pem'\n\
             [policy]\nfile = 'policy.toml'\n[tenants.bank]\npolicy = '../bank.toml'\n\
             [ledger]\nurl = 'sqlite:ledger/l.sqlite'\n",
        )
        .unwrap();
        let c = Config::load(&file).unwrap();
        let d = dir.path();
        let up = c.upstream.as_ref().unwrap();
        assert_eq!(up.ca_file.as_deref(), Some(d.join("ca.pem").as_path()));
        assert_eq!(
            up.api_key_file.as_deref(),
            Some(d.join("secrets/key").as_path())
        );
        assert_eq!(
            c.routes[0].upstream.ca_file.as_deref(),
            Some(Path::new("/etc/abs.pem"))
        );
        assert_eq!(
            c.policy.file.as_deref(),
            Some(d.join("policy.toml").as_path())
        );
        assert_eq!(c.tenants["bank"].policy, d.join("../bank.toml"));
        assert_eq!(
            c.ledger.url.as_deref(),
            Some(d.join("ledger/l.sqlite").display().to_string().as_str())
        );
        // A PostgreSQL URL or an absolute path stays as it is.
        for url in ["postgres://u@h/db", "/var/lib/guardline/l.sqlite"] {
            let mut c = Config::from_toml(&format!("[ledger]\nurl = '{url}'"), "t").unwrap();
            c.resolve_paths(d);
            assert_eq!(c.ledger.url.as_deref(), Some(url));
        }
        let missing = Config::load(&d.join("nope.toml")).unwrap_err().to_string();
        assert!(missing.contains("nope.toml"), "{missing}");
    }
}
