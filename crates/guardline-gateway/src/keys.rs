//! Client keys: `gl_…` bearer tokens, each bound to a tenant, stored only as SHA-256 hashes in
//! `client-keys.json` in the data directory (mode 0600) and compared in constant time.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// The file in the data directory.
pub const KEYS_FILE: &str = "client-keys.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientKey {
    /// Public identifier (`k_…`), safe to log and record.
    pub id: String,
    pub tenant: String,
    #[serde(default)]
    pub name: String,
    /// May call `/admin/…`.
    #[serde(default)]
    pub admin: bool,
    /// SHA-256 of the secret, hex.
    pub sha256: String,
    pub created: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyStore {
    pub keys: Vec<ClientKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> KeyError {
    KeyError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl KeyStore {
    /// Reads the store; a missing file is an empty store (open mode).
    pub fn load(path: &Path) -> Result<KeyStore, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| file_err(path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyStore::default()),
            Err(e) => Err(file_err(path, e)),
        }
    }

    /// Writes the store atomically (temporary file, then rename), readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
        }
        let tmp = path.with_extension("json.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| file_err(&tmp, e))?;
        let text = serde_json::to_string_pretty(self).expect("keys serialise");
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| file_err(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| file_err(path, e))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Creates a key; returns its record and the secret, which is shown once and never stored.
    pub fn create(
        &mut self,
        tenant: &str,
        name: &str,
        admin: bool,
    ) -> Result<(ClientKey, String), KeyError> {
        if tenant.is_empty()
            || tenant.len() > 64
            || !tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(KeyError::Invalid(format!(
                "tenant `{tenant}` must be 1-64 characters of A-Z a-z 0-9 _ . -"
            )));
        }
        let mut secret = [0u8; 32];
        let mut id = [0u8; 6];
        getrandom::fill(&mut secret).map_err(|e| KeyError::Invalid(e.to_string()))?;
        getrandom::fill(&mut id).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let secret = format!("gl_{}", hex::encode(secret));
        let key = ClientKey {
            id: format!("k_{}", hex::encode(id)),
            tenant: tenant.to_string(),
            name: name.to_string(),
            admin,
            sha256: hex::encode(Sha256::digest(secret.as_bytes())),
            created: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        };
        self.keys.push(key.clone());
        Ok((key, secret))
    }

    pub fn revoke(&mut self, id: &str) -> Option<ClientKey> {
        let i = self.keys.iter().position(|k| k.id == id)?;
        Some(self.keys.remove(i))
    }

    /// The key whose secret this is. Every stored hash is compared, in constant time, whatever
    /// matches, so timing says nothing about which keys exist.
    pub fn authenticate(&self, secret: &str) -> Option<&ClientKey> {
        let h = Sha256::digest(secret.as_bytes());
        let mut found = None;
        for k in &self.keys {
            let mut stored = [0u8; 32];
            if hex::decode_to_slice(&k.sha256, &mut stored).is_err() {
                continue;
            }
            if bool::from(stored.ct_eq(h.as_slice())) {
                found = Some(k);
            }
        }
        found
    }
}

pub fn keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_save_load_authenticate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let path = keys_path(dir.path());
        let mut store = KeyStore::load(&path).unwrap();
        assert!(store.is_empty());
        let (k, secret) = store.create("hospital", "ward app", false).unwrap();
        let (admin, admin_secret) = store.create("ops", "", true).unwrap();
        store.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&secret), "secrets are never stored");
        let store = KeyStore::load(&path).unwrap();
        assert_eq!(store.authenticate(&secret).unwrap().id, k.id);
        assert_eq!(store.authenticate(&admin_secret).unwrap(), &admin);
        assert!(store.authenticate("gl_wrong").is_none());
        assert!(store.authenticate("").is_none());
        let mut store = store;
        assert_eq!(store.revoke(&k.id).unwrap().tenant, "hospital");
        assert!(store.authenticate(&secret).is_none());
        assert!(store.create("bad tenant", "", false).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
