//! A cache of values that never change once made: users' handles, circuits' ids by owner and
//! name, and circuit versions (never a circuit's row: its owner changes its visibility), which
//! every submission and every execution reads again, and what is computed from them alone (a
//! version's parsed program). Bounded by a weight (entries, source bytes, operations); when full it starts
//! over. Nothing cached is ever deleted or updated where it came from, so nothing is stale.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

pub(crate) struct Immutable<K, V> {
    entries: Mutex<Entries<K, V>>,
    capacity: usize,
    weight: fn(&V) -> usize,
}

struct Entries<K, V> {
    by_key: HashMap<K, V>,
    weight: usize,
}

impl<K: Eq + Hash, V: Clone> Immutable<K, V> {
    /// A cache holding at most `capacity` in total `weight`.
    pub(crate) fn new(capacity: usize, weight: fn(&V) -> usize) -> Self {
        Immutable {
            entries: Mutex::new(Entries {
                by_key: HashMap::new(),
                weight: 0,
            }),
            capacity,
            weight,
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.entries.lock().unwrap().by_key.get(key).cloned()
    }

    pub(crate) fn put(&self, key: K, value: V) {
        let weight = (self.weight)(&value);
        if weight > self.capacity / 16 {
            return; // too big to be worth evicting everything else for
        }
        let mut entries = self.entries.lock().unwrap();
        if entries.weight + weight > self.capacity {
            entries.by_key.clear();
            entries.weight = 0;
        }
        if entries.by_key.insert(key, value).is_none() {
            entries.weight += weight;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_fits_and_starts_over_when_full() {
        let cache: Immutable<u32, String> = Immutable::new(64, String::len);
        cache.put(1, "a".repeat(4));
        assert_eq!(cache.get(&1).as_deref(), Some("aaaa"));
        cache.put(2, "b".repeat(5));
        assert_eq!(
            cache.get(&2).map(|s| s.len()),
            None,
            "over capacity / 16: not kept"
        );
        for key in 10..26 {
            cache.put(key, "c".repeat(4));
        }
        assert_eq!(cache.get(&1), None, "full: started over");
        assert!(cache.get(&25).is_some());
    }
}
