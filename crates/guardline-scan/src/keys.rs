//! The key behind keyed redaction (`hash`, `pseudonym`): the same key gives the same tokens on
//! every run, so redacted corpora can still be joined on a value without holding it.
//!
//! Where it comes from, first found wins: `--key-file PATH` (its bytes; trailing whitespace of a
//! text file ignored), the `GUARDLINE_KEY` environment variable (any string), or `scan.key` in
//! the data directory, created on first use with 32 random bytes, readable by its owner only.

use crate::ScanError;
use guardline_detect::Key;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Name of the generated key file in the data directory.
pub const KEY_FILE_NAME: &str = "scan.key";

/// The places a key may come from.
#[derive(Clone, Debug, Default)]
pub struct KeySource {
    pub key_file: Option<PathBuf>,
    /// The value of `GUARDLINE_KEY`, read by the caller.
    pub secret: Option<String>,
    /// `--data-dir` / `GUARDLINE_DATA_DIR`; `None` means [`default_data_dir`].
    pub data_dir: Option<PathBuf>,
}

/// The per-user data directory: `$XDG_DATA_HOME/guardline` (or `~/.local/share/guardline`) on
/// Linux, `~/Library/Application Support/guardline` on macOS, `%APPDATA%\guardline` on Windows.
pub fn default_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("guardline"))
}

/// Finds the key, creating the data directory's key file if none is given.
pub fn resolve(src: &KeySource) -> Result<Key, ScanError> {
    if let Some(path) = &src.key_file {
        let bytes = fs::read(path)
            .map_err(|e| ScanError::Key(format!("cannot read key file {}: {e}", path.display())))?;
        return key_from_file_bytes(&bytes)
            .ok_or_else(|| ScanError::Key(format!("key file {} is empty", path.display())));
    }
    if let Some(secret) = &src.secret {
        if secret.is_empty() {
            return Err(ScanError::Key("GUARDLINE_KEY is set but empty".into()));
        }
        return Ok(Key::derive(secret.as_bytes()));
    }
    let dir = src
        .data_dir
        .clone()
        .or_else(default_data_dir)
        .ok_or_else(|| {
            ScanError::Key(
                "no key: give --key-file or GUARDLINE_KEY, or --data-dir for a generated key"
                    .into(),
            )
        })?;
    let path = dir.join(KEY_FILE_NAME);
    let bytes = load_or_create(&path)
        .map_err(|e| ScanError::Key(format!("key file {}: {e}", path.display())))?;
    key_from_file_bytes(&bytes)
        .ok_or_else(|| ScanError::Key(format!("key file {} is empty", path.display())))
}

fn key_from_file_bytes(bytes: &[u8]) -> Option<Key> {
    // A passphrase saved with `echo` should give the same key as the same GUARDLINE_KEY.
    let material = match std::str::from_utf8(bytes) {
        Ok(s) => s.trim_end().as_bytes(),
        Err(_) => bytes,
    };
    (!material.is_empty()).then(|| Key::derive(material))
}

/// Reads `path`, or creates it with 32 random bytes (mode 0600, its directory 0700). Two
/// processes racing to create it end up with the same key: the file is written aside and
/// linked into place only if no other appeared meanwhile.
pub fn load_or_create(path: &Path) -> io::Result<Vec<u8>> {
    match fs::read(path) {
        Ok(b) => return Ok(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(format!("no randomness: {e}")))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".scan.key.")
        .tempfile_in(dir)?;
    restrict(tmp.as_file())?;
    tmp.write_all(&bytes)?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(bytes.to_vec()),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => fs::read(path),
        Err(e) => Err(e.error),
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Owner read/write only (personal data or key material).
pub fn restrict(file: &fs::File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_stable_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let src = KeySource {
            data_dir: Some(dir.path().join("data")),
            ..KeySource::default()
        };
        let k1 = resolve(&src).unwrap();
        let path = dir.path().join("data").join(KEY_FILE_NAME);
        assert_eq!(fs::read(&path).unwrap().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(resolve(&src).unwrap(), k1);
        // A different data directory gets a different key.
        let other = KeySource {
            data_dir: Some(dir.path().join("other")),
            ..KeySource::default()
        };
        assert_ne!(resolve(&other).unwrap(), k1);
    }

    #[test]
    fn key_file_and_env_agree_and_take_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let kf = dir.path().join("k");
        fs::write(&kf, "correct horse\n").unwrap();
        let from_file = resolve(&KeySource {
            key_file: Some(kf.clone()),
            secret: Some("ignored".into()),
            data_dir: Some(dir.path().into()),
        })
        .unwrap();
        let from_env = resolve(&KeySource {
            secret: Some("correct horse".into()),
            data_dir: Some(dir.path().into()),
            ..KeySource::default()
        })
        .unwrap();
        assert_eq!(from_file, from_env);
        assert!(!dir.path().join(KEY_FILE_NAME).exists());
    }

    #[test]
    fn bad_key_sources_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        fs::write(&empty, "").unwrap();
        for src in [
            KeySource {
                key_file: Some(empty),
                ..KeySource::default()
            },
            KeySource {
                key_file: Some(dir.path().join("missing")),
                ..KeySource::default()
            },
            KeySource {
                secret: Some(String::new()),
                ..KeySource::default()
            },
        ] {
            assert!(matches!(resolve(&src), Err(ScanError::Key(_))), "{src:?}");
        }
    }
}
