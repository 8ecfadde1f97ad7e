//! Run outcomes and the count-key format, which is Qiskit's `get_counts()`: each classical
//! register's bits most-significant first (`c[n-1]…c[0]`), registers separated by one
//! space, the last-declared register leftmost.

use std::collections::BTreeMap;

use crate::ir::Register;
use crate::method::Method;

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
}

impl Outcome {
    /// An outcome from counts; `shots` and `unique_states` are derived from them.
    pub fn from_counts(counts: BTreeMap<String, u64>, execution_time: f64, method: Method) -> Self {
        Self {
            shots: counts.values().sum(),
            unique_states: counts.len() as u64,
            counts,
            execution_time,
            method,
        }
    }
}

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
    fn outcome_derives_shots_and_unique_states() {
        let counts = BTreeMap::from([("00".to_owned(), 3), ("11".to_owned(), 5)]);
        let outcome = Outcome::from_counts(counts, 0.5, Method::StateVector);
        assert_eq!((outcome.shots, outcome.unique_states), (8, 2));
    }
}
