//! Credentials to callers (docs/DESIGN.md §11): an API token or a browser session secret is
//! found by the row id it carries and its secret checked against the stored hash in constant
//! time (`store::users`, `store::sessions`). Answers — "no such credential" included — are
//! cached for `auth.token_cache_ttl_s`, so a busy client costs one database read (and, for a
//! token, one `last_used_at` write) per TTL instead of per request.
//!
//! **How soon a credential taken back is refused.** A revocation this process makes (`DELETE
//! /api/tokens/{id}`, `POST /logout`) drops the cached answers it ends at once
//! ([`Authenticator::forget`]), so this node refuses the very next request. Anything else — a
//! revocation on another node, and the operator's `qrun user token revoke` and `qrun user
//! disable`, which run in a process of their own — is refused once the cached answer expires:
//! within `auth.token_cache_ttl_s`. A session's cached answer never outlives its expiry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::domain::{Caller, Clock, CredentialKind};
use crate::store::users::hash_token;
use crate::store::{Store, StoreError};

/// Entries kept at most; past that the cache starts over (a flood of random tokens cannot
/// grow memory without bound).
const MAX_ENTRIES: usize = 100_000;

/// A cached answer: the caller (or none), and until when (this process's clock) it holds.
struct Entry {
    caller: Option<Caller>,
    until: DateTime<Utc>,
}

/// (The credential's kind, its hash) → the answer. The kind is part of the key: a session
/// secret presented as a bearer token is looked up as a token (and refused), never answered
/// from the session's entry.
type Cache = HashMap<(CredentialKind, String), Entry>;

pub struct Authenticator {
    store: Store,
    clock: Arc<dyn Clock>,
    ttl: TimeDelta,
    cache: Mutex<Cache>,
    /// Bumped by every [`Authenticator::forget`]: an answer read from the database while a
    /// revocation was forgotten may predate it, so it is not cached.
    forgotten: AtomicU64,
}

impl Authenticator {
    pub fn new(store: Store, ttl: TimeDelta) -> Self {
        Authenticator {
            clock: store.clock().clone(),
            store,
            ttl,
            cache: Mutex::new(HashMap::new()),
            forgotten: AtomicU64::new(0),
        }
    }

    /// Who presents `text` as a credential of `kind`: an enabled user and a live credential
    /// (see the module's docs for how fresh the answer is); `None` for anything else.
    pub async fn authenticate(
        &self,
        kind: CredentialKind,
        text: &str,
    ) -> Result<Option<Caller>, StoreError> {
        let key = (kind, hash_token(text));
        let now = self.clock.now();
        if let Some(entry) = self.lock().get(&key)
            && now < entry.until
        {
            return Ok(entry.caller.clone());
        }
        let forgotten = self.forgotten.load(Ordering::SeqCst);
        let (caller, fresh_for) = match kind {
            CredentialKind::Token => (self.store.caller_by_token(text).await?, self.ttl),
            CredentialKind::Session => match self.store.caller_by_session(text).await? {
                Some((caller, left)) => (Some(caller), self.ttl.min(left)),
                None => (None, self.ttl),
            },
        };
        let mut cache = self.lock();
        if self.forgotten.load(Ordering::SeqCst) != forgotten {
            return Ok(caller);
        }
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(
            key,
            Entry {
                caller: caller.clone(),
                until: now
                    .checked_add_signed(fresh_for)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            },
        );
        Ok(caller)
    }

    /// Drops every cached answer that the revocation of credential `id` ends: the credential's
    /// own, and those of the sessions opened with it if it is a token. The next request that
    /// presents one of them reads the database.
    pub fn forget(&self, id: Uuid) {
        let mut cache = self.lock();
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        cache.retain(|_, entry| {
            !entry
                .caller
                .as_ref()
                .is_some_and(|caller| caller.credential.ends_with(id))
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}
