//! Shot branching shared by both simulators: shots travel together as a *branch* and split
//! only where a random outcome (a measurement or reset on the state vector, a condition on
//! a bit that is not yet constant on the stabilizer) can go either way.
//!
//! At such a point the branch's shots are divided by a binomial draw; the larger part goes
//! on in place, the smaller part is set aside as a [`Pending`] branch. A pending branch
//! keeps a copy of the state to resume from if the copies fit in the run's memory budget;
//! otherwise it keeps only its *path* — the outcome of every branch point so far — and is
//! rebuilt by replaying from the start with those outcomes forced. Branches run depth-first,
//! so the result for a seed is deterministic.

use rand::Rng;
use rand_distr::{Binomial, Distribution};

/// Where a branch of shots stands.
pub(crate) struct Cursor {
    /// Index of the next step (a plan step or an operation).
    pub next: usize,
    pub shots: u64,
    /// The outcomes at every branch point so far (and, while replaying, the ones still to
    /// force).
    pub path: Vec<bool>,
    /// How many entries of `path` have been used; those after it are forced outcomes.
    pub consumed: usize,
}

impl Cursor {
    /// All `shots` at the start.
    pub(crate) fn start(shots: u64) -> Self {
        Self {
            next: 0,
            shots,
            path: Vec::new(),
            consumed: 0,
        }
    }
}

/// A branch set aside, with the state `S` to resume from; `saved` is `None` when it is to
/// be replayed from the start.
pub(crate) struct Pending<S> {
    pub at: Cursor,
    pub saved: Option<S>,
}

/// Where pending branches go, and the memory their saved states may hold.
pub(crate) struct Splitter<'a, S> {
    pub pending: &'a mut Vec<Pending<S>>,
    /// Bytes the saved states hold now.
    pub saved_bytes: &'a mut u64,
    /// Bytes they may hold.
    pub budget: u64,
}

impl<S> Splitter<'_, S> {
    /// The outcome of the branch point at `at`, true with probability `p1`: forced by the
    /// path when replaying, else drawn for the branch's shots — the more numerous outcome
    /// goes on, the other's shots (if any) become a pending branch that resumes here from
    /// `save()` (a state of `bytes()` bytes) when it fits in the budget. Advances the path.
    pub(crate) fn choose<R: Rng>(
        &mut self,
        at: &mut Cursor,
        p1: f64,
        rng: &mut R,
        bytes: impl FnOnce() -> u64,
        save: impl FnOnce() -> S,
    ) -> bool {
        let outcome = match at.path.get(at.consumed) {
            Some(&forced) => forced,
            None => {
                let ones = Binomial::new(at.shots, p1).map_or(0, |d| d.sample(rng));
                let zeros = at.shots - ones;
                let (stay, other, other_shots) = if ones >= zeros {
                    (true, false, zeros)
                } else {
                    (false, true, ones)
                };
                if other_shots > 0 {
                    let mut path = at.path.clone();
                    path.push(other);
                    let bytes = bytes();
                    let saved = (*self.saved_bytes + bytes <= self.budget).then(|| {
                        *self.saved_bytes += bytes;
                        save()
                    });
                    // A saved state resumes at this point; otherwise replay from the start.
                    let (next, consumed) = match saved {
                        Some(_) => (at.next, at.consumed),
                        None => (0, 0),
                    };
                    self.pending.push(Pending {
                        at: Cursor {
                            next,
                            shots: other_shots,
                            path,
                            consumed,
                        },
                        saved,
                    });
                    at.shots -= other_shots;
                }
                at.path.push(stay);
                stay
            }
        };
        at.consumed += 1;
        outcome
    }
}
