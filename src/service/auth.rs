//! Bearer tokens to users. A token is found by the row id it carries and its secret checked
//! against the stored hash in constant time (`store::users`); answers (including
//! "no such token") are cached for `auth.token_cache_ttl_s`, so a busy client costs one
//! database read — and one `last_used_at` write — per TTL instead of per request. A revoked
//! token stops working within that TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::{Clock, User};
use crate::store::users::hash_token;
use crate::store::{Store, StoreError};

/// Entries kept at most; past that the cache starts over (a flood of random tokens cannot
/// grow memory without bound).
const MAX_ENTRIES: usize = 100_000;

/// Token hash → (its user, or none; when that was read).
type Cache = HashMap<String, (Option<User>, DateTime<Utc>)>;

pub struct Authenticator {
    store: Store,
    clock: Arc<dyn Clock>,
    ttl: TimeDelta,
    cache: Mutex<Cache>,
}

impl Authenticator {
    pub fn new(store: Store, ttl: TimeDelta) -> Self {
        Authenticator {
            clock: store.clock().clone(),
            store,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The user a token belongs to; `None` for an unknown or revoked token.
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>, StoreError> {
        let hash = hash_token(token);
        let now = self.clock.now();
        if let Some((user, fetched)) = self.lock().get(&hash)
            && now - *fetched < self.ttl
        {
            return Ok(user.clone());
        }
        let user = self.store.user_by_token(token).await?;
        let mut cache = self.lock();
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(hash, (user.clone(), now));
        Ok(user)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}
