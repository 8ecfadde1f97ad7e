//! Run outcomes and the count-key format, which is Qiskit's `get_counts()`: each classical
//! register's bits most-significant first (`c[n-1]…c[0]`), registers separated by one
//! space, the last-declared register leftmost.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::ir::Register;
use crate::method::Method;
use crate::precision::Precision;

/// What a run produced.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// Shots per outcome key.
    pub counts: BTreeMap<String, u64>,
    /// Total shots (the sum of `counts`).
    pub shots: u64,
    /// Wall-clock seconds the execution took.
    pub execution_time: f64,
    /// Number of distinct keys in `counts`.
    pub unique_states: u64,
    /// The simulation method that ran ([`crate::Program::method`]).
    pub method: Method,
    /// The state vector's precision ([`crate::Limits::precision`]); `None` for the
    /// stabilizer method, which is exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
}

impl Outcome {
    /// An outcome from counts; `shots` and `unique_states` are derived from them.
    pub fn from_counts(
        counts: BTreeMap<String, u64>,
        execution_time: f64,
        method: Method,
        precision: Option<Precision>,
    ) -> Self {
        Self {
            shots: counts.values().sum(),
            unique_states: counts.len() as u64,
            counts,
            execution_time,
            method,
            precision,
        }
    }
}

impl Outcome {
    /// Every shot's count key, in a shot order: Qiskit's per-shot memory
    /// (`result.get_memory()`), one key per shot, keyed exactly as [`Outcome::counts`].
    ///
    /// The simulators draw all shots at once (sorted, see `sim::sample`), so no order of
    /// the shots is kept while sampling. The shots are independent and identically
    /// distributed, so every order of the counted outcomes is equally likely: a uniformly
    /// random permutation of them (a Fisher–Yates shuffle) has exactly the distribution of
    /// the shots' sequence. `seed` (the run's) makes it reproducible, on a stream of its own
    /// (independent of the sampling's draws); `None` shuffles from the operating system.
    pub fn memory(&self, seed: Option<u64>) -> Vec<&str> {
        let mut shots: Vec<&str> = self
            .counts
            .iter()
            .flat_map(|(key, &n)| std::iter::repeat_n(key.as_str(), n as usize))
            .collect();
        let mut rng = match seed {
            Some(seed) => ChaCha8Rng::seed_from_u64(seed),
            None => ChaCha8Rng::from_os_rng(),
        };
        rng.set_stream(MEMORY_STREAM);
        shots.shuffle(&mut rng);
        shots
    }
}

/// The ChaCha stream [`Outcome::memory`] shuffles with (the sampling uses stream 0).
const MEMORY_STREAM: u64 = 1;

/// The count key for classical bits `clbits` (indexed globally) of registers `cregs`.
pub(crate) fn count_key(cregs: &[Register], clbits: &[bool]) -> String {
    let mut key = String::with_capacity(clbits.len() + cregs.len());
    for (i, register) in cregs.iter().rev().enumerate() {
        if i > 0 {
            key.push(' ');
        }
        let bits = &clbits[register.offset as usize..(register.offset + register.size) as usize];
        key.extend(bits.iter().rev().map(|&bit| if bit { '1' } else { '0' }));
    }
    key
}

/// Whether `key` has the shape of a count key: groups of `0`/`1` separated by single
/// spaces (or empty, for a circuit without classical bits). Counts from elsewhere (an
/// external backend) are checked with it.
pub fn is_count_key(key: &str) -> bool {
    key.is_empty()
        || key
            .split(' ')
            .all(|group| !group.is_empty() && group.bytes().all(|b| b == b'0' || b == b'1'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(name: &str, offset: u32, size: u32) -> Register {
        Register {
            name: name.into(),
            offset,
            size,
        }
    }

    #[test]
    fn last_register_leftmost_and_each_msb_first() {
        let cregs = [register("a", 0, 2), register("b", 2, 3)];
        // a[0]=1, a[1]=0, b[0]=0, b[1]=1, b[2]=1
        let clbits = [true, false, false, true, true];
        assert_eq!(count_key(&cregs, &clbits), "110 01");
    }

    #[test]
    fn no_registers_is_the_empty_key() {
        assert_eq!(count_key(&[], &[]), "");
    }

    #[test]
    fn key_shapes() {
        for good in ["0", "0101", "01 1", "1 0 11", ""] {
            assert!(is_count_key(good), "{good:?}");
        }
        for bad in ["0x1", " 01", "01 ", "0  1", "2", "1\n"] {
            assert!(!is_count_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn memory_is_every_counted_shot_in_a_seeded_order() {
        let counts = BTreeMap::from([("0 1".to_owned(), 300), ("1 0".to_owned(), 700)]);
        let outcome = Outcome::from_counts(counts.clone(), 0.5, Method::StateVector, None);
        let memory = outcome.memory(Some(7));
        let mut tally = BTreeMap::new();
        for key in &memory {
            *tally.entry((*key).to_owned()).or_insert(0) += 1;
        }
        assert_eq!(tally, counts, "each shot once");
        assert_eq!(memory, outcome.memory(Some(7)), "a seed gives one order");
        assert_ne!(memory, outcome.memory(Some(8)));
        // Not the counts' order: the 300 "0 1" shots are spread over the 1000, about 30% of
        // each half.
        let early = memory[..500].iter().filter(|k| **k == "0 1").count();
        assert!((100..200).contains(&early), "{early} of the first 500");
    }

    #[test]
    fn outcome_derives_shots_and_unique_states() {
        let counts = BTreeMap::from([("00".to_owned(), 3), ("11".to_owned(), 5)]);
        let outcome = Outcome::from_counts(counts, 0.5, Method::StateVector, None);
        assert_eq!((outcome.shots, outcome.unique_states), (8, 2));
    }
}
