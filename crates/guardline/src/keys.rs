//! `guardline keys`: client keys for the gateway, stored hashed in the data directory.

use crate::ledger_opts::{block_on, LedgerArgs};
use crate::Global;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use guardline_gateway::keys::{keys_path, KeyStore};
use guardline_ledger::NewEvent;
use serde_json::json;
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(about = "Create, list and revoke the gateway's client keys (stored hashed)")]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Create a key for a tenant; the key is printed once and never stored
    Create {
        /// The tenant (organisation unit) whose policy applies to this key's requests
        #[arg(long)]
        tenant: String,
        /// A label for people (which app or team holds it)
        #[arg(long, default_value = "")]
        name: String,
        /// May call /admin/… endpoints
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// List keys (ids, tenants, names; never secrets)
    List,
    /// Revoke a key by id (a running gateway stops accepting it within 2 s)
    Revoke {
        id: String,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
}

pub fn run(args: KeysArgs, global: &Global) -> Result<ExitCode> {
    let path = keys_path(&global.data_dir()?);
    let mut store = KeyStore::load(&path)?;
    match args.command {
        KeysCommand::Create {
            tenant,
            name,
            admin,
            ledger,
        } => {
            let (key, secret) = store.create(&tenant, &name, admin)?;
            store.save(&path)?;
            record(
                &ledger,
                global,
                json!({"action": "client_key_created", "key_id": key.id, "tenant": key.tenant, "admin": admin}),
            )?;
            eprintln!(
                "created {} for tenant {}{}; this is the only time the key is shown:",
                key.id,
                key.tenant,
                if admin { " (admin)" } else { "" }
            );
            println!("{secret}");
        }
        KeysCommand::List => {
            if store.keys.is_empty() {
                eprintln!("no client keys: `guardline serve` runs in open mode (loopback only)");
            }
            for k in &store.keys {
                println!(
                    "{}  {:<16} {}{}  {}",
                    k.id,
                    k.tenant,
                    k.created,
                    if k.admin { "  admin" } else { "" },
                    k.name
                );
            }
        }
        KeysCommand::Revoke { id, ledger } => {
            let Some(k) = store.revoke(&id) else {
                bail!("no key {id} (see `guardline keys list`)");
            };
            store.save(&path)?;
            record(
                &ledger,
                global,
                json!({"action": "client_key_revoked", "key_id": k.id, "tenant": k.tenant}),
            )?;
            println!("revoked {} (tenant {})", k.id, k.tenant);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Key changes are configuration changes an auditor will want to see.
fn record(ledger: &LedgerArgs, global: &Global, body: serde_json::Value) -> Result<()> {
    block_on(async {
        let l = ledger.open(global, true).await?;
        l.append(NewEvent::new("config_change", body)).await?;
        l.close().await?;
        anyhow::Ok(())
    })?
}
