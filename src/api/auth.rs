//! Bearer tokens and roles.
//!
//! A token reads `lb_<id>_<secret>`. The store keeps the id, the role and an argon2id hash of the
//! secret, never the secret. Verifying argon2 on every request would cost tens of milliseconds,
//! so a verified token is remembered in memory by a SHA-256 of the whole token for a few minutes.
//!
//! A revocation must still take effect at once, also when another process makes it (`lagesbild
//! token revoke`): every remembered token carries the store's token generation
//! ([`TokenStore::token_generation`], bumped with every change of the tokens) read before it was
//! looked up, and counts only while the store still has that generation. The generation is read
//! again when the last reading is older than [`GENERATION_CHECK`], so a revoked token stops
//! working within that time plus one request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Mutex as AsyncMutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::AppError;
use crate::model::Role;
use crate::store::{StoreResult, StoredToken, TokenStore};

const CACHE_TTL: Duration = Duration::from_secs(300);
/// The token generation is read from the store at most this often.
pub const GENERATION_CHECK: Duration = Duration::from_millis(250);

/// Who made the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
}

impl Caller {
    pub fn require(&self, at_least: Role) -> Result<(), AppError> {
        if self.role == Role::Anonymous {
            return Err(AppError::Unauthorized);
        }
        let ok = match at_least {
            Role::Anonymous => true,
            Role::Police => self.role.sees_points(),
            Role::Coordinator => self.role.moderates(),
            Role::Admin => self.role == Role::Admin,
        };
        if ok {
            Ok(())
        } else {
            Err(AppError::Forbidden(at_least.as_str()))
        }
    }
}

/// One remembered token: its role, when it was verified, and the token generation read before
/// it was looked up in the store.
#[derive(Debug, Clone, Copy)]
struct Verified {
    role: Role,
    at: Instant,
    generation: i64,
}

/// Remembers verified tokens (by SHA-256 of the token) for a few minutes, as long as the store's
/// token generation stays what it was (see the module documentation).
#[derive(Default)]
pub struct TokenCache {
    verified: Mutex<HashMap<[u8; 32], Verified>>,
    /// The last generation read and when. An async mutex held across the read: readings are
    /// taken one at a time, so an older reading can never overwrite a newer one.
    generation: AsyncMutex<Option<(i64, Instant)>>,
}

impl TokenCache {
    /// The store's token generation, read again when the last reading is older than
    /// [`GENERATION_CHECK`]. A changed generation empties the cache.
    async fn generation(&self, store: &dyn TokenStore) -> StoreResult<i64> {
        let mut last = self.generation.lock().await;
        if let Some((g, at)) = *last {
            if at.elapsed() < GENERATION_CHECK {
                return Ok(g);
            }
        }
        let g = store.token_generation().await?;
        if last.is_some_and(|(old, _)| old != g) {
            self.clear();
        }
        *last = Some((g, Instant::now()));
        Ok(g)
    }

    fn get(&self, key: &[u8; 32], generation: i64) -> Option<Role> {
        let map = self.verified.lock().expect("token cache poisoned");
        map.get(key)
            .filter(|v| v.generation == generation && v.at.elapsed() < CACHE_TTL)
            .map(|v| v.role)
    }

    fn put(&self, key: [u8; 32], role: Role, generation: i64) {
        let mut map = self.verified.lock().expect("token cache poisoned");
        if map.len() > 10_000 {
            map.retain(|_, v| v.generation == generation && v.at.elapsed() < CACHE_TTL);
        }
        map.insert(
            key,
            Verified {
                role,
                at: Instant::now(),
                generation,
            },
        );
    }

    pub fn clear(&self) {
        self.verified.lock().expect("token cache poisoned").clear();
    }
}

/// Creates a token: returns the full token text (shown once) and what to store.
pub fn new_token(role: Role, label: &str) -> (String, StoredToken) {
    let mut rng = rand::rng();
    let mut id = [0u8; 6];
    let mut secret = [0u8; 24];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = hex::encode(secret);
    let mut salt_bytes = [0u8; 16];
    rng.fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a valid salt");
    let hash = Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters")
        .to_string();
    (
        format!("lb_{id}_{secret}"),
        StoredToken {
            id,
            role,
            secret_hash: hash,
            label: label.to_string(),
            revoked: false,
        },
    )
}

/// Checks a token against the store; `None` when unknown, revoked or wrong.
pub async fn verify(
    store: &dyn TokenStore,
    cache: &TokenCache,
    token: &str,
) -> StoreResult<Option<Role>> {
    let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    // Read before the lookup below: should the token be revoked after the lookup, the entry
    // put into the cache carries a generation the store has already left behind.
    let generation = cache.generation(store).await?;
    if let Some(role) = cache.get(&key, generation) {
        return Ok(Some(role));
    }
    let Some((id, secret)) = token
        .strip_prefix("lb_")
        .and_then(|rest| rest.split_once('_'))
    else {
        return Ok(None);
    };
    let Some(stored) = store.find_token(id).await? else {
        return Ok(None);
    };
    if stored.revoked {
        return Ok(None);
    }
    let secret = secret.to_string();
    let hash = stored.secret_hash.clone();
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    if ok {
        cache.put(key, stored.role, generation);
        Ok(Some(stored.role))
    } else {
        Ok(None)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Caller {
                role: Role::Anonymous,
            });
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AppError::Unauthorized)?;
        match verify(state.store.as_ref(), &state.tokens, token).await? {
            Some(role) => Ok(Caller { role }),
            // A wrong token is an error, not a silent downgrade to anonymous: the client should
            // know its token does not work.
            None => Err(AppError::Unauthorized),
        }
    }
}
