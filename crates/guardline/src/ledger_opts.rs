//! What the ledger commands share: where the ledger is, the data directory, the runtime, and the
//! time syntax of `--since`/`--until`/`--before`.

use crate::Global;
use anyhow::{bail, Context, Result};
use clap::Args;
use guardline_ledger::{checkpoint, Ledger, Location, Options};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct LedgerArgs {
    /// The ledger: a PostgreSQL URL (`postgres://user@host/db`, optionally `?schema=NAME`) shared
    /// by several Guardline processes, or a SQLite file [default: ledger.sqlite in the data
    /// directory]
    #[arg(long, env = "GUARDLINE_LEDGER", value_name = "URL")]
    pub ledger: Option<String>,
}

impl Global {
    /// `--data-dir`, `GUARDLINE_DATA_DIR`, or the per-user data directory.
    pub fn data_dir(&self) -> Result<PathBuf> {
        match &self.data_dir {
            Some(d) => Ok(d.clone()),
            None => guardline_scan::keys::default_data_dir()
                .context("no per-user data directory on this system: give --data-dir"),
        }
    }
}

impl LedgerArgs {
    pub fn location(&self, global: &Global) -> Result<Location> {
        match &self.ledger {
            Some(spec) => Ok(Location::parse(spec)?),
            None => Ok(Location::in_data_dir(&global.data_dir()?)),
        }
    }

    /// Opens the ledger. `sign`: load (or create) this data directory's checkpoint key so that
    /// appends sign checkpoints; readers leave the key alone.
    pub async fn open(&self, global: &Global, sign: bool) -> Result<Ledger> {
        let location = self.location(global)?;
        if let (Location::Sqlite(path), false) = (&location, sign) {
            if !path.exists() {
                bail!(
                    "no ledger at {} yet (nothing has been recorded; give --data-dir or --ledger \
                     to read another)",
                    path.display()
                );
            }
        }
        let checkpoint_key = if sign {
            Some(checkpoint::load_or_create_key(&global.data_dir()?)?)
        } else {
            None
        };
        Ok(Ledger::open(
            &location,
            Options {
                checkpoint_key,
                ..Options::default()
            },
        )
        .await?)
    }
}

/// Runs an async command body on a small runtime.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f))
}

/// A point in time for the ledger's text comparisons: `YYYY-MM-DD` (midnight UTC; with
/// `end_of_day`, the midnight after it) or RFC 3339 with any offset.
pub fn parse_time(s: &str, end_of_day: bool) -> Result<String> {
    use chrono::{DateTime, NaiveDate, Utc};
    let t: DateTime<Utc> = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end_of_day {
            d.succ_opt().context("date out of range")?
        } else {
            d
        };
        d.and_hms_opt(0, 0, 0)
            .context("date out of range")?
            .and_utc()
    } else {
        DateTime::parse_from_rfc3339(s)
            .with_context(|| {
                format!("`{s}` is not a date (2026-11-27) or an RFC 3339 time (2026-11-27T08:00:00+08:00)")
            })?
            .with_timezone(&Utc)
    };
    Ok(guardline_ledger::record::time_text(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_to_the_ledger_format() {
        assert_eq!(
            parse_time("2026-11-27", false).unwrap(),
            "2026-11-27T00:00:00.000000Z"
        );
        assert_eq!(
            parse_time("2026-11-27", true).unwrap(),
            "2026-11-28T00:00:00.000000Z"
        );
        assert_eq!(
            parse_time("2026-11-27T08:00:00+08:00", false).unwrap(),
            "2026-11-27T00:00:00.000000Z"
        );
        assert!(parse_time("yesterday", false).is_err());
        assert!(parse_time("2026-13-01", false).is_err());
    }
}
