//! Per-shot memory: every shot's outcome of a run, in shot order (issue 30, docs/DESIGN.md
//! §2, §6). Qiskit's `result.get_memory()`; each shot is a count key exactly as the run's
//! counts key it, so the memory's tally is the counts.

use std::collections::BTreeMap;

/// A run's shots, each its count key. All keys of a run have one shape (the circuit's
/// registers), so they are kept concatenated, `key_width` characters each, in shot order:
/// a page of shots is a slice (`run_memory.memory`, docs/DESIGN.md §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memory {
    key_width: usize,
    shots: u64,
    keys: String,
}

/// Why shots do not make a run's memory.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    /// A key of another width than the first: `shot` (from 0) is `key`.
    #[error("shot {shot} is {key:?}, which is not {width} characters as the first shot's key")]
    Shape {
        shot: u64,
        key: String,
        width: usize,
    },
    /// No shot at all.
    #[error("no shots")]
    Empty,
    /// The shots' tally is not the run's counts.
    #[error("{0}")]
    Counts(String),
}

impl Memory {
    /// The memory of `keys`, one per shot in shot order. Errors: no shot, or keys of
    /// different widths ([`MemoryError::Shape`]).
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<Memory, MemoryError> {
        let mut memory = Memory {
            key_width: 0,
            shots: 0,
            keys: String::new(),
        };
        for key in keys {
            if memory.shots == 0 {
                memory.key_width = key.len();
            } else if key.len() != memory.key_width {
                return Err(MemoryError::Shape {
                    shot: memory.shots,
                    key: key.chars().take(80).collect(),
                    width: memory.key_width,
                });
            }
            memory.keys.push_str(key);
            memory.shots += 1;
        }
        if memory.shots == 0 {
            return Err(MemoryError::Empty);
        }
        Ok(memory)
    }

    /// Memory as stored: `shots` keys of `key_width` characters in `keys`. `None` when the
    /// length does not fit (the schema checks it too).
    pub fn from_stored(key_width: usize, shots: u64, keys: String) -> Option<Memory> {
        (shots > 0 && Some(keys.len()) == key_width.checked_mul(usize::try_from(shots).ok()?))
            .then_some(Memory {
                key_width,
                shots,
                keys,
            })
    }

    /// Characters per shot (a count key's, spaces between registers included).
    pub fn key_width(&self) -> usize {
        self.key_width
    }

    /// How many shots.
    pub fn shots(&self) -> u64 {
        self.shots
    }

    /// Every key concatenated in shot order, as stored.
    pub fn as_concatenated(&self) -> &str {
        &self.keys
    }

    /// The shots' keys, in shot order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        (0..self.shots as usize).map(|i| &self.keys[i * self.key_width..(i + 1) * self.key_width])
    }

    /// Checks that the shots' tally is `counts` exactly (each key as often as counted, no
    /// other key). Errors: [`MemoryError::Counts`] naming the first key that differs.
    pub fn check_counts(&self, counts: &BTreeMap<String, u64>) -> Result<(), MemoryError> {
        let mut tally: BTreeMap<&str, u64> = BTreeMap::new();
        for key in self.keys() {
            *tally.entry(key).or_default() += 1;
        }
        let keys = tally
            .keys()
            .copied()
            .chain(counts.keys().map(String::as_str));
        for key in keys {
            let (memory, counted) = (
                tally.get(key).copied().unwrap_or(0),
                counts.get(key).copied().unwrap_or(0),
            );
            if memory != counted {
                let key: String = key.chars().take(80).collect();
                return Err(MemoryError::Counts(format!(
                    "the memory has {memory} shots of {key:?}, the counts {counted}"
                )));
            }
        }
        Ok(())
    }
}

/// One page of a run's memory (`GET /api/runs/{id}/memory`): shots `offset ..
/// offset + keys.len()` of `shots`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPage {
    pub shots: u64,
    pub offset: u64,
    pub keys: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_width_are_kept_in_order() {
        let memory = Memory::from_keys(["01 1", "10 0", "01 1"]).unwrap();
        assert_eq!((memory.key_width(), memory.shots()), (4, 3));
        assert_eq!(memory.as_concatenated(), "01 110 001 1");
        assert_eq!(memory.keys().collect::<Vec<_>>(), ["01 1", "10 0", "01 1"]);
        let counts = BTreeMap::from([("01 1".to_owned(), 2), ("10 0".to_owned(), 1)]);
        assert_eq!(memory.check_counts(&counts), Ok(()));
        let stored = Memory::from_stored(4, 3, memory.as_concatenated().to_owned());
        assert_eq!(stored.as_ref(), Some(&memory));
        // A circuit without classical bits: every shot is the empty key.
        let empty = Memory::from_keys(["", ""]).unwrap();
        assert_eq!(empty.keys().collect::<Vec<_>>(), ["", ""]);
    }

    #[test]
    fn shapes_and_tallies_that_do_not_fit_are_refused() {
        assert_eq!(
            Memory::from_keys(["01", "011"]),
            Err(MemoryError::Shape {
                shot: 1,
                key: "011".into(),
                width: 2
            })
        );
        assert_eq!(Memory::from_keys([]), Err(MemoryError::Empty));
        assert_eq!(Memory::from_stored(2, 3, "0101".into()), None);
        let memory = Memory::from_keys(["01", "01"]).unwrap();
        let counts = BTreeMap::from([("01".to_owned(), 1), ("11".to_owned(), 1)]);
        assert_eq!(
            memory.check_counts(&counts),
            Err(MemoryError::Counts(
                "the memory has 2 shots of \"01\", the counts 1".into()
            ))
        );
    }
}
