//! Signed checkpoints: an ed25519 signature over a chain head, so that rewriting history (even
//! with every hash recomputed) is caught by anyone who holds the public key.
//!
//! The signed message is the ASCII text `guardline-ledger-checkpoint-v1:{seq}:{hash}:{time}`.

use crate::LedgerError;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::path::{Path, PathBuf};

/// A checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub time: String,
    /// The signer's public key, hex.
    pub key: String,
    /// The ed25519 signature, hex.
    pub signature: String,
}

/// The file in the data directory that holds the signing key (32-byte seed, hex).
pub const KEY_FILE: &str = "checkpoint.key";

pub fn message(seq: i64, hash: &str, time: &str) -> String {
    format!("guardline-ledger-checkpoint-v1:{seq}:{hash}:{time}")
}

pub fn sign(key: &SigningKey, seq: i64, hash: &str, time: &str) -> Checkpoint {
    let sig = key.sign(message(seq, hash, time).as_bytes());
    Checkpoint {
        seq,
        hash: hash.to_string(),
        time: time.to_string(),
        key: public_hex(key),
        signature: hex::encode(sig.to_bytes()),
    }
}

pub fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// Checks the signature against the key the checkpoint names.
pub fn verify(cp: &Checkpoint) -> Result<(), String> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(&cp.key, &mut key).map_err(|_| "malformed public key".to_string())?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| "invalid public key".to_string())?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(&cp.signature, &mut sig).map_err(|_| "malformed signature".to_string())?;
    key.verify_strict(
        message(cp.seq, &cp.hash, &cp.time).as_bytes(),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| "signature does not verify".to_string())
}

/// Loads the signing key from `dir/checkpoint.key`, creating it (mode 0600) on first use.
pub fn load_or_create_key(dir: &Path) -> Result<SigningKey, LedgerError> {
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed)
                .map_err(|e| LedgerError::Key(format!("no randomness for a new key: {e}")))?;
            write_private(&path, &hex::encode(seed))?;
            // Another process may have won the race: whatever is on disk now is the key.
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            parse_key(&path, &text)
        }
        Err(e) => Err(io(&path, e)),
    }
}

/// Reads the key without creating one.
pub fn load_key(dir: &Path) -> Result<Option<SigningKey>, LedgerError> {
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(&path, &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path, e)),
    }
}

fn parse_key(path: &Path, text: &str) -> Result<SigningKey, LedgerError> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| {
        LedgerError::Key(format!(
            "{} does not hold a 64-hex-digit ed25519 seed",
            path.display()
        ))
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

fn write_private(path: &Path, text: &str) -> Result<(), LedgerError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(text.as_bytes()).map_err(|e| io(path, e))?;
            f.sync_all().map_err(|e| io(path, e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(path, e)),
    }
}

fn io(path: &Path, e: std::io::Error) -> LedgerError {
    LedgerError::Key(format!("{}: {e}", PathBuf::from(path).display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let key = load_or_create_key(dir.path()).unwrap();
        let again = load_or_create_key(dir.path()).unwrap();
        assert_eq!(key.to_bytes(), again.to_bytes());
        let cp = sign(&key, 5, &"ab".repeat(32), "2026-11-27T00:00:00.000000Z");
        assert!(verify(&cp).is_ok());
        let mut bad = cp.clone();
        bad.seq = 6;
        assert!(verify(&bad).is_err());
        let mut bad = cp.clone();
        bad.hash = "cd".repeat(32);
        assert!(verify(&bad).is_err());
        let mut bad = cp;
        bad.signature = "00".repeat(64);
        assert!(verify(&bad).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
