//! Affine functions over GF(2) of a run's random measurement outcomes.
//!
//! The stabilizer method does not draw an outcome when a measurement is random: it names a
//! fresh variable `r_v` (uniform, independent of the others) and carries on symbolically.
//! Every sign in the tableau and every classical bit is then `c ⊕ r_{v1} ⊕ r_{v2} ⊕ …`, an
//! [`Affine`] function of those variables, because a Clifford gate changes a sign only by a
//! constant and a product of rows adds their signs. Shots are drawn at the end by giving
//! the variables random values ([`Affine::sample64`]).

/// `constant ⊕ ⊕_{v ∈ vars} r_v`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Affine {
    /// The constant term.
    pub(crate) constant: bool,
    /// Bit `v % 64` of word `v / 64` is set when `r_v` is a term; words past the end are 0.
    vars: Vec<u64>,
}

impl Affine {
    /// The constant function `value`.
    pub(crate) fn constant(value: bool) -> Self {
        Self {
            constant: value,
            vars: Vec::new(),
        }
    }

    /// The function `r_v`.
    pub(crate) fn variable(v: usize) -> Self {
        let mut vars = vec![0; v / 64 + 1];
        vars[v / 64] = 1 << (v % 64);
        Self {
            constant: false,
            vars,
        }
    }

    /// The value, when the function is constant.
    pub(crate) fn value(&self) -> Option<bool> {
        self.vars.iter().all(|&w| w == 0).then_some(self.constant)
    }

    /// Whether `r_v` is a term.
    pub(crate) fn has(&self, v: usize) -> bool {
        self.vars
            .get(v / 64)
            .is_some_and(|w| w >> (v % 64) & 1 == 1)
    }

    /// The lowest variable that is a term.
    pub(crate) fn first_variable(&self) -> Option<usize> {
        self.vars
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i * 64 + w.trailing_zeros() as usize)
    }

    /// The variables that are terms, ascending.
    pub(crate) fn variables(&self) -> impl Iterator<Item = usize> + '_ {
        self.vars.iter().enumerate().flat_map(|(i, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    i * 64 + bit
                })
            })
        })
    }

    /// `self ⊕= other`.
    pub(crate) fn xor(&mut self, other: &Affine) {
        self.constant ^= other.constant;
        if self.vars.len() < other.vars.len() {
            self.vars.resize(other.vars.len(), 0);
        }
        for (mine, theirs) in self.vars.iter_mut().zip(&other.vars) {
            *mine ^= theirs;
        }
    }

    /// Eliminates `r_v` given `constraint(r) = value`, where `constraint` has `r_v` as a term:
    /// a function with `r_v` becomes `self ⊕ constraint ⊕ value`, equal to it wherever the
    /// constraint holds and free of `r_v`.
    pub(crate) fn substitute(&mut self, v: usize, constraint: &Affine, value: bool) {
        if self.has(v) {
            self.xor(constraint);
            self.constant ^= value;
        }
    }

    /// The function on 64 samples at once: bit `s` of `values[i]` is sample `s` of the
    /// `i`-th variable of `index` (`index[v]` is variable `v`'s position in `values`), and
    /// bit `s` of the result is the function's value in sample `s`.
    pub(crate) fn sample64(&self, index: &[usize], values: &[u64]) -> u64 {
        let start = if self.constant { u64::MAX } else { 0 };
        self.variables()
            .fold(start, |acc, v| acc ^ values[index[v]])
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        (self.vars.capacity() * 8 + size_of::<Self>()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_and_substitution_eliminate_a_variable() {
        let mut f = Affine::variable(3);
        f.xor(&Affine::variable(70));
        f.xor(&Affine::constant(true));
        assert_eq!(f.variables().collect::<Vec<_>>(), vec![3, 70]);
        assert_eq!((f.value(), f.first_variable()), (None, Some(3)));
        // r3 ⊕ r70 ⊕ 1 = 0, so r3 = r70 ⊕ 1: g = r3 ⊕ r5 becomes r70 ⊕ r5 ⊕ 1.
        let mut g = Affine::variable(3);
        g.xor(&Affine::variable(5));
        g.substitute(3, &f, false);
        assert_eq!(g.variables().collect::<Vec<_>>(), vec![5, 70]);
        assert!(g.constant);
        // f itself becomes its value.
        let mut h = f.clone();
        h.substitute(3, &f, true);
        assert_eq!(h.value(), Some(true));
    }

    #[test]
    fn sampling_evaluates_every_sample() {
        let mut f = Affine::variable(0);
        f.xor(&Affine::variable(2));
        f.constant = true;
        let index = [0, 1, 2];
        let values = [0b1100, 0, 0b1010];
        assert_eq!(f.sample64(&index, &values), !0b0110);
    }
}
