//! Access control: who may read which layer.
//!
//! Public layers are open to anyone. Partner and restricted layers need a bearer token
//! (`Authorization: Bearer <token>`, RFC 6750) that belongs to a named organisation listing
//! the layer. Tokens are stored in the config only as Argon2id hashes (PHC strings, the
//! `argon2` crate, whose verification compares in constant time); `hotspots token new`
//! makes one. A token is verified with Argon2 once, then remembered by its SHA-256 (a
//! lookup that reveals nothing about other tokens) for the life of the process.
//!
//! Anonymous requests for a non-public layer get 401 with `WWW-Authenticate: Bearer`; a
//! bad token gets 401 with `error="invalid_token"`; an organisation whose token does not
//! list the layer gets 403. Every read of a restricted layer is appended to the audit log
//! as one JSON line (time, org, layer, path and query); answers to organisations are never
//! served from the response cache, so none escapes the log.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::disclosure::Tier;

/// One organisation of the config (`[[orgs]]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// Its name, as the audit log records it (e.g. "Thanet CSP", "Kent Police").
    pub name: String,
    /// Argon2id PHC string of its token (`hotspots token new` prints it).
    pub token_hash: String,
    /// Layer ids it may read beyond the public ones (`density` is the heatmap).
    #[serde(default)]
    pub layers: Vec<String>,
}

/// Who is asking: set on every request by [`authenticate`].
#[derive(Debug, Clone, Default)]
pub enum Caller {
    /// No token.
    #[default]
    Anonymous,
    /// A verified organisation.
    Org {
        /// Its name.
        name: Arc<str>,
        /// The layers it may read.
        layers: Arc<BTreeSet<String>>,
        /// Restricted layers this request read (true) or was refused (false), for the
        /// audit log.
        reads: Arc<Mutex<Vec<(String, bool)>>>,
    },
}

impl Caller {
    /// The organisation's name, if any.
    pub fn org(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Org { name, .. } => Some(name),
        }
    }

    /// Notes a read of restricted layer `id` (`granted`, or refused), written to the audit
    /// log when the request is answered.
    pub fn note_restricted_read(&self, id: &str, granted: bool) {
        if let Caller::Org { reads, .. } = self {
            reads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((id.to_string(), granted));
        }
    }

    /// Whether the caller may read layer `id` of `tier`.
    pub fn may_read(&self, tier: Tier, id: &str) -> bool {
        match (tier, self) {
            (Tier::Public, _) => true,
            (_, Caller::Anonymous) => false,
            (_, Caller::Org { layers, .. }) => layers.contains(id),
        }
    }
}

struct Org {
    name: Arc<str>,
    hash: String,
    layers: Arc<BTreeSet<String>>,
}

/// The organisations, the tokens verified so far and the audit log.
#[derive(Default)]
pub struct Access {
    orgs: Vec<Org>,
    /// SHA-256 of a verified token → its organisation.
    verified: Mutex<HashMap<[u8; 32], usize>>,
    audit: Option<Mutex<std::fs::File>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Access({} organisations)", self.orgs.len())
    }
}

/// Why the access settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A token hash that is not an Argon2 PHC string.
    #[error("orgs: '{org}': token_hash is not an Argon2 PHC string ({message}); make one with `hotspots token new --org NAME`")]
    BadHash {
        /// The organisation.
        org: String,
        /// The parser's message.
        message: String,
    },
    /// Two organisations with one name.
    #[error("orgs: '{0}' is named twice")]
    Duplicate(String),
    /// The audit log cannot be opened for appending.
    #[error("audit_log {path}: {source}")]
    Audit {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Access {
    /// The organisations of the config, and the audit log (appended to, created 0600).
    pub fn new(
        orgs: &[OrgConfig],
        audit_log: Option<&std::path::Path>,
    ) -> Result<Self, AccessError> {
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for o in orgs {
            if !names.insert(o.name.clone()) {
                return Err(AccessError::Duplicate(o.name.clone()));
            }
            check_token_hash(&o.token_hash).map_err(|message| AccessError::BadHash {
                org: o.name.clone(),
                message,
            })?;
            out.push(Org {
                name: o.name.as_str().into(),
                hash: o.token_hash.clone(),
                layers: Arc::new(o.layers.iter().cloned().collect()),
            });
        }
        let audit = match audit_log {
            Some(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(p)
                    .map_err(|source| AccessError::Audit {
                        path: p.display().to_string(),
                        source,
                    })?;
                Some(Mutex::new(f))
            }
            None => None,
        };
        Ok(Access {
            orgs: out,
            verified: Mutex::new(HashMap::new()),
            audit,
        })
    }

    /// The organisation holding `token`, if any (Argon2 on first sight, then remembered).
    pub fn identify(&self, token: &str) -> Option<Caller> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let known = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .copied();
        let i = match known {
            Some(i) => i,
            None => {
                let i = self.orgs.iter().position(|o| {
                    PasswordHash::new(&o.hash).is_ok_and(|h| {
                        Argon2::default()
                            .verify_password(token.as_bytes(), &h)
                            .is_ok()
                    })
                })?;
                self.verified
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(digest, i);
                i
            }
        };
        let o = &self.orgs[i];
        Some(Caller::Org {
            name: o.name.clone(),
            layers: o.layers.clone(),
            reads: Arc::default(),
        })
    }

    /// Appends a restricted read to the audit log (and the service log): `query` is the
    /// request's path and query.
    pub fn audit(&self, caller: &Caller, layer: &str, query: &str, granted: bool, status: u16) {
        let line = serde_json::json!({
            "time": jiff::Timestamp::now().to_string(),
            "org": caller.org(),
            "layer": layer,
            "query": query,
            "granted": granted,
            "status": status,
        });
        tracing::info!(target: "audit", org = caller.org(), layer, query, granted, status, "restricted read");
        if let Some(f) = &self.audit {
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = writeln!(f, "{line}").and_then(|()| f.flush()) {
                tracing::error!("audit log not written: {e}");
            }
        }
    }
}

/// Checks that `hash` is an Argon2id PHC string whose parameters Argon2 accepts (what
/// [`new_token`] makes); the message says what is wrong.
pub fn check_token_hash(hash: &str) -> Result<(), String> {
    let h = PasswordHash::new(hash).map_err(|e| e.to_string())?;
    if h.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "algorithm '{}' is not argon2id",
            h.algorithm.as_str()
        ));
    }
    argon2::Params::try_from(&h).map_err(|e| format!("parameters: {e}"))?;
    if h.hash.is_none() {
        return Err("no hash value".into());
    }
    Ok(())
}

/// A new token and its Argon2id PHC hash: 32 random bytes from the operating system, as
/// `hs_` and 64 hex digits.
pub fn new_token() -> Result<(String, String), String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    let token: String = std::iter::once("hs_".to_string())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let hash = Argon2::default()
        .hash_password(token.as_bytes())
        .map_err(|e| format!("cannot hash: {e}"))?
        .to_string();
    Ok((token, hash))
}

/// 401 (no or bad token) or 403 (an organisation without the layer), as problem+json.
pub fn denied(caller: &Caller, id: &str, bad_token: bool) -> Response {
    let (status, title, detail, challenge) = match caller {
        Caller::Anonymous if bad_token => (
            StatusCode::UNAUTHORIZED,
            "Invalid token",
            "the bearer token is not one of this service's".to_string(),
            "Bearer realm=\"hotspots\", error=\"invalid_token\"",
        ),
        Caller::Anonymous => (
            StatusCode::UNAUTHORIZED,
            "Token required",
            format!("'{id}' is not public: send Authorization: Bearer <token> of an organisation that may read it"),
            "Bearer realm=\"hotspots\"",
        ),
        Caller::Org { name, .. } => (
            StatusCode::FORBIDDEN,
            "Not permitted",
            format!("'{name}' may not read '{id}'"),
            "",
        ),
    };
    let mut r = super::ogc::problem(status, title, &detail);
    // The answer depends on the token, like every answer to an organisation.
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Authorization"));
    if !challenge.is_empty() {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    r
}

/// The middleware: sets the request's [`Caller`] from its bearer token; a token that is
/// not one of the organisations' is a 401 at once.
pub async fn authenticate(
    axum::extract::State(access): axum::extract::State<Arc<Access>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").to_string());
    // The scheme is case-insensitive (RFC 9110 §11.1); other schemes (e.g. Basic from a
    // browser or proxy) are not ours and are ignored.
    let bearer = auth.and_then(|a| {
        let (scheme, rest) = a.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim().to_string())
    });
    let caller = match bearer {
        None => Caller::Anonymous,
        Some(token) => {
            if token.is_empty() {
                return denied(&Caller::Anonymous, "", true);
            }
            // Argon2 takes tens of milliseconds: off the async workers.
            let a2 = access.clone();
            match tokio::task::spawn_blocking(move || a2.identify(&token)).await {
                Ok(Some(c)) => c,
                _ => return denied(&Caller::Anonymous, "", true),
            }
        }
    };
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    req.extensions_mut().insert(caller.clone());
    let resp = next.run(req).await;
    if let Caller::Org { reads, .. } = &caller {
        let layers = std::mem::take(&mut *reads.lock().unwrap_or_else(|e| e.into_inner()));
        for (layer, granted) in layers {
            access.audit(&caller, &layer, &target, granted, resp.status().as_u16());
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_against_their_hash() {
        let (t1, h1) = new_token().unwrap();
        let (t2, _) = new_token().unwrap();
        assert!(t1.starts_with("hs_") && t1.len() == 67);
        assert_ne!(t1, t2);
        assert!(h1.starts_with("$argon2id$"));
        let a = Access::new(
            &[OrgConfig {
                name: "Thanet CSP".into(),
                token_hash: h1,
                layers: vec!["grip".into()],
            }],
            None,
        )
        .unwrap();
        let c = a.identify(&t1).unwrap();
        assert_eq!(c.org(), Some("Thanet CSP"));
        assert!(c.may_read(Tier::Partner, "grip"));
        assert!(!c.may_read(Tier::Partner, "gistar"));
        assert!(c.may_read(Tier::Public, "gistar"));
        // Remembered: the second answer is the same.
        assert_eq!(a.identify(&t1).unwrap().org(), Some("Thanet CSP"));
        assert!(a.identify(&t2).is_none());
        assert!(a.identify("").is_none());
        assert!(!Caller::Anonymous.may_read(Tier::Restricted, "grip"));
        assert!(Access::new(
            &[OrgConfig {
                name: "x".into(),
                token_hash: "plain".into(),
                layers: vec![]
            }],
            None
        )
        .is_err());
    }
}
