//! `guardline vault forget`: erase a person's values from the pseudonyms the gateway keeps
//! between requests (`[vault] keep`), for a data subject's erasure request (PDPO DPP2(2), the
//! guideline's §3.2.1 complaint channel; control PDP-05).

use crate::ledger_opts::{block_on, LedgerArgs};
use crate::{serve, Global};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use guardline_detect::{Dimension, Engine, Key, Kind, Vault};
use guardline_ledger::NewEvent;
use serde_json::json;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
#[command(
    about = "Erase values from the pseudonyms the gateway keeps between requests ([vault] keep)"
)]
pub struct VaultArgs {
    #[command(subcommand)]
    command: VaultCommand,
}

#[derive(Subcommand, Debug)]
enum VaultCommand {
    /// Erase every kept copy of a value (a data subject's erasure request)
    ///
    /// Each VALUE is recognised (HKID, phone number, e-mail address…), its pseudonym computed with this
    /// gateway's key, and every kept entry holding it deleted, in every tenant, stored response
    /// and conversation. Written forms of one value count as one (`A123456(3)`, `a123456 (3)`,
    /// full-width; a phone number with or without +852). The ledger records that an erasure
    /// happened, its kinds and how many entries went, never the value.
    #[command(
        after_help = "Values on the command line stay in the shell's history: give `-` \
        to read them from standard input, one per line.\n\nThe store is the one `guardline \
        serve` uses: [vault] redis in the config, or vault.sqlite in the data directory. The key \
        is the gateway's too (GUARDLINE_KEY, or the key file in the data directory)."
    )]
    Forget {
        /// The values to erase; `-` reads them from standard input, one per line
        #[arg(required = true, value_name = "VALUE")]
        values: Vec<String>,
        /// The values' kind (`hk_id`, `hk_phone`, `email`…), when one is not recognised alone:
        /// a bare eight-digit number, say, is a phone number only with context
        #[arg(long)]
        kind: Option<String>,
        /// The gateway's config [default: guardline.toml in the current directory, if any]
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
}

pub fn run(args: VaultArgs, global: &Global) -> Result<ExitCode> {
    match args.command {
        VaultCommand::Forget {
            values,
            kind,
            config,
            ledger,
        } => forget(values, kind, config, ledger, global),
    }
}

fn forget(
    values: Vec<String>,
    kind: Option<String>,
    config: Option<PathBuf>,
    ledger: LedgerArgs,
    global: &Global,
) -> Result<ExitCode> {
    let values = read_values(values)?;
    let engine = Engine::with_defaults();
    if let Some(k) = &kind {
        if !engine.kinds().any(|(known, _, _)| known.as_str() == k) {
            let names: Vec<&str> = engine
                .kinds()
                .filter(|(_, info, _)| info.dimension == Dimension::Privacy)
                .map(|(k, _, _)| k.as_str())
                .collect();
            bail!(
                "unknown kind `{k}` (personal data kinds: {})",
                names.join(", ")
            );
        }
    }
    // Which kinds each value is, before anything is opened: a value nothing recognises is an
    // error the user can fix with --kind, not a silent "0 erased".
    let mut wanted: Vec<(Kind, String)> = Vec::new();
    for v in &values {
        let kinds = match &kind {
            Some(k) => vec![Kind::new(k)],
            None => kinds_of(&engine, v),
        };
        if kinds.is_empty() {
            bail!(
                "`{}` is not recognised as personal data on its own: name its kind with --kind \
                 (hk_id, hk_phone, email, …)",
                mask(v)
            );
        }
        for k in kinds {
            wanted.push((k, v.clone()));
        }
    }

    let config = serve::load_config(serve::config_path(config).as_deref())?;
    let data_dir = global.data_dir()?;
    let sqlite = data_dir.join("vault.sqlite");
    if config.vault.redis.is_none() && !sqlite.exists() {
        println!(
            "nothing is kept in {} (no vault.sqlite): nothing to erase",
            data_dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let key = serve::pseudonym_key(&data_dir)?;
    let tokens = tokens_of(&key, &wanted);
    // The expiry is not used to erase; any value will do.
    let store = serve::vault_store(&config, &data_dir, &key, Duration::from_secs(86_400))?;
    let kinds: BTreeSet<&str> = wanted.iter().map(|(k, _)| k.as_str()).collect();
    let ledger = LedgerArgs {
        ledger: ledger.ledger.or(config.ledger.url.clone()),
    };
    let erased = block_on(async {
        let erased = store.erase(&tokens).await.map_err(anyhow::Error::msg)?;
        let l = ledger.open(global, true).await?;
        l.append(NewEvent::new(
            "data_subject_request",
            json!({
                "action": "kept_pseudonyms_erased",
                "values": values.len(),
                "kinds": kinds,
                "entries_erased": erased,
                "store": store.shown(),
            }),
        ))
        .await
        .context("the entries are erased, but the erasure could not be recorded")?;
        l.close().await?;
        anyhow::Ok(erased)
    })??;
    if erased == 0 {
        eprintln!(
            "nothing of these values was kept (or the gateway pseudonymises with another key: \
             GUARDLINE_KEY or the key file in its data directory)"
        );
    }
    println!(
        "erased {erased} kept {} of {} value{} ({}) from {}",
        if erased == 1 { "entry" } else { "entries" },
        values.len(),
        if values.len() == 1 { "" } else { "s" },
        kinds.into_iter().collect::<Vec<_>>().join(", "),
        store.shown()
    );
    Ok(ExitCode::SUCCESS)
}

/// The values, with `-` replaced by the lines of standard input; blank lines are skipped.
fn read_values(args: Vec<String>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for a in args {
        if a == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("cannot read values from standard input")?;
                if !line.trim().is_empty() {
                    out.push(line.trim().to_string());
                }
            }
        } else if !a.trim().is_empty() {
            out.push(a.trim().to_string());
        }
    }
    if out.is_empty() {
        bail!("no values to erase");
    }
    Ok(out)
}

/// The personal-data kinds the engine reads `value` as, whole: every reading at any score, since
/// the gateway may have seen it with context that made it count (a phone number next to "Tel").
fn kinds_of(engine: &Engine, value: &str) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = engine
        .scan_all_scores(value.as_bytes())
        .into_iter()
        .filter(|f| f.start == 0 && f.end == value.len())
        .filter(|f| f.dimension == Dimension::Privacy)
        .map(|f| f.kind)
        .collect();
    kinds.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    kinds.dedup();
    kinds
}

/// The pseudonyms the gateway gives each value under `key`, in every written form that gets a
/// token of its own: a Hong Kong phone number with and without its country code.
fn tokens_of(key: &Key, wanted: &[(Kind, String)]) -> Vec<String> {
    let mut vault = Vault::new();
    let mut tokens = BTreeSet::new();
    for (kind, value) in wanted {
        for form in written_forms(kind, value) {
            tokens.insert(vault.token(key, kind, form.as_bytes()));
        }
    }
    tokens.into_iter().collect()
}

fn written_forms(kind: &Kind, value: &str) -> Vec<String> {
    let mut forms = vec![value.to_string()];
    if kind.as_str() == "hk_phone" {
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        let local = digits
            .strip_prefix("00852")
            .or_else(|| digits.strip_prefix("852"))
            .unwrap_or(&digits);
        if local.len() == 8 {
            for prefix in ["", "852", "00852"] {
                forms.push(format!("{prefix}{local}"));
            }
        }
    }
    forms
}

/// A value shown in an error without most of its characters.
fn mask(v: &str) -> String {
    let n = v.chars().count();
    v.chars()
        .enumerate()
        .map(|(i, c)| if i < 2 || i + 2 >= n { c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_forms_share_their_tokens() {
        let key = Key::from_bytes([1; 32]);
        let phone = Kind::new("hk_phone");
        let a = tokens_of(&key, &[(phone.clone(), "9123 4567".into())]);
        let b = tokens_of(&key, &[(phone.clone(), "+852 9123-4567".into())]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        // What the gateway would have made of "+852 9123 4567" is among them.
        let mut v = Vault::new();
        assert!(a.contains(&v.token(&key, &phone, b"+852 9123 4567")));
        assert!(a.contains(&v.token(&key, &phone, b"00852 91234567")));
    }

    #[test]
    fn kinds_of_whole_values() {
        let e = Engine::with_defaults();
        assert_eq!(kinds_of(&e, "A123456(3)"), [Kind::new("hk_id")]);
        assert_eq!(kinds_of(&e, "chan@example.com"), [Kind::new("email")]);
        assert!(kinds_of(&e, "91234567").contains(&Kind::new("hk_phone")));
        assert!(kinds_of(&e, "hello").is_empty());
        assert!(kinds_of(&e, "call A123456(3)").is_empty());
    }

    #[test]
    fn masked() {
        assert_eq!(mask("A123456(3)"), "A1******3)");
        assert_eq!(mask("ab"), "ab");
    }
}
