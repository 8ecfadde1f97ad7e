//! The Aaronson–Gottesman tableau ("Improved simulation of stabilizer circuits", Phys. Rev. A
//! 70, 052328, 2004), with the stabilizers' signs kept as [`Affine`] functions of the
//! random outcomes instead of drawn bits.
//!
//! `2n` rows of `n` Pauli letters, each letter two bits `(x, z)` (`X = (1,0)`, `Z = (0,1)`,
//! `Y = (1,1)`): rows `0..n` are the destabilizers, rows `n..2n` the stabilizers of the state
//! (initially `X_i` and `Z_i`). Rows are stored bit-packed, 64 qubits a word, so a
//! product of two rows (the paper's `rowsum`) is `n/64` word operations and a measurement
//! `O(n²/64)`; a gate visits every row once. Only the stabilizers carry signs: the
//! destabilizers' never affect an outcome.

use super::affine::Affine;
use crate::error::{EngineError, FailureKind, Result, Stage};

/// A stabilizer state of `n` qubits.
#[derive(Clone, Debug)]
pub(crate) struct Tableau {
    n: usize,
    /// Words per row.
    words: usize,
    /// The rows' `x` bits: row `r`, qubit `q` is bit `q % 64` of `x[r * words + q / 64]`.
    x: Vec<u64>,
    /// The rows' `z` bits, laid out as `x`.
    z: Vec<u64>,
    /// The sign of stabilizer row `n + i` (`true`: −1).
    signs: Vec<Affine>,
}

impl Tableau {
    /// |0…0⟩ on `n` qubits. An allocation the system refuses is a resource-limit error.
    pub(crate) fn zero(n: usize) -> Result<Self> {
        let words = n.div_ceil(64).max(1);
        let len = 2 * n * words;
        let allocate = || -> Result<Vec<u64>> {
            let mut bits = Vec::new();
            bits.try_reserve_exact(len).map_err(|_| {
                EngineError::new(
                    FailureKind::ResourceLimit,
                    Stage::Execute,
                    format!("could not allocate a stabilizer tableau of {n} qubits"),
                )
            })?;
            bits.resize(len, 0);
            Ok(bits)
        };
        let (mut x, mut z) = (allocate()?, allocate()?);
        for q in 0..n {
            x[q * words + q / 64] |= 1 << (q % 64);
            z[(n + q) * words + q / 64] |= 1 << (q % 64);
        }
        Ok(Self {
            n,
            words,
            x,
            z,
            signs: vec![Affine::constant(false); n],
        })
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        ((self.x.len() + self.z.len()) * 8) as u64
            + self.signs.iter().map(Affine::bytes).sum::<u64>()
    }

    /// The stabilizers' signs (row `n + i` is entry `i`).
    pub(crate) fn signs_mut(&mut self) -> &mut [Affine] {
        &mut self.signs
    }

    /// Applies `update(x, z) -> sign flip` to qubit `a`'s letter in every row.
    #[inline(always)]
    fn each_row(&mut self, a: usize, update: impl Fn(&mut bool, &mut bool) -> bool) {
        let (word, shift) = (a / 64, a % 64);
        for row in 0..2 * self.n {
            let i = row * self.words + word;
            let (mut x, mut z) = (self.x[i] >> shift & 1 == 1, self.z[i] >> shift & 1 == 1);
            let flip = update(&mut x, &mut z);
            self.x[i] = self.x[i] & !(1 << shift) | u64::from(x) << shift;
            self.z[i] = self.z[i] & !(1 << shift) | u64::from(z) << shift;
            if flip && row >= self.n {
                self.signs[row - self.n].constant ^= true;
            }
        }
    }

    /// Applies `update(xa, za, xb, zb) -> sign flip` to qubits `a` and `b` in every row.
    #[inline(always)]
    fn each_row2(
        &mut self,
        a: usize,
        b: usize,
        update: impl Fn(&mut bool, &mut bool, &mut bool, &mut bool) -> bool,
    ) {
        let (wa, sa, wb, sb) = (a / 64, a % 64, b / 64, b % 64);
        for row in 0..2 * self.n {
            let (ia, ib) = (row * self.words + wa, row * self.words + wb);
            let mut xa = self.x[ia] >> sa & 1 == 1;
            let mut za = self.z[ia] >> sa & 1 == 1;
            let mut xb = self.x[ib] >> sb & 1 == 1;
            let mut zb = self.z[ib] >> sb & 1 == 1;
            let flip = update(&mut xa, &mut za, &mut xb, &mut zb);
            self.x[ia] = self.x[ia] & !(1 << sa) | u64::from(xa) << sa;
            self.z[ia] = self.z[ia] & !(1 << sa) | u64::from(za) << sa;
            self.x[ib] = self.x[ib] & !(1 << sb) | u64::from(xb) << sb;
            self.z[ib] = self.z[ib] & !(1 << sb) | u64::from(zb) << sb;
            if flip && row >= self.n {
                self.signs[row - self.n].constant ^= true;
            }
        }
    }

    /// Hadamard: `X ↔ Z`, `Y → −Y`.
    pub(crate) fn h(&mut self, a: usize) {
        self.each_row(a, |x, z| {
            std::mem::swap(x, z);
            *x && *z
        });
    }

    /// Phase `S`: `X → Y`, `Y → −X`.
    pub(crate) fn s(&mut self, a: usize) {
        self.each_row(a, |x, z| {
            let flip = *x && *z;
            *z ^= *x;
            flip
        });
    }

    /// `S†`: `X → −Y`, `Y → X`.
    pub(crate) fn sdg(&mut self, a: usize) {
        self.each_row(a, |x, z| {
            let flip = *x && !*z;
            *z ^= *x;
            flip
        });
    }

    /// Pauli X: flips the sign of rows with a `Z` or `Y` on `a`.
    pub(crate) fn x(&mut self, a: usize) {
        self.each_row(a, |_, z| *z);
    }

    /// Pauli Y: flips the sign of rows with an `X` or `Z` on `a`.
    pub(crate) fn y(&mut self, a: usize) {
        self.each_row(a, |x, z| *x ^ *z);
    }

    /// Pauli Z: flips the sign of rows with an `X` or `Y` on `a`.
    pub(crate) fn z(&mut self, a: usize) {
        self.each_row(a, |x, _| *x);
    }

    /// `√X = H S H` (up to a global phase).
    pub(crate) fn sx(&mut self, a: usize) {
        self.h(a);
        self.s(a);
        self.h(a);
    }

    /// `√X† = H S† H` (up to a global phase).
    pub(crate) fn sxdg(&mut self, a: usize) {
        self.h(a);
        self.sdg(a);
        self.h(a);
    }

    /// CNOT, control `c`, target `t` (the paper's rule).
    pub(crate) fn cx(&mut self, c: usize, t: usize) {
        self.each_row2(c, t, |xc, zc, xt, zt| {
            let flip = *xc && *zt && (*xt == *zc);
            *xt ^= *xc;
            *zc ^= *zt;
            flip
        });
    }

    /// Controlled Z (symmetric): `X_a → X_a Z_b`, `X_b → Z_a X_b`.
    pub(crate) fn cz(&mut self, a: usize, b: usize) {
        self.each_row2(a, b, |xa, za, xb, zb| {
            let flip = *xa && *xb && (*za != *zb);
            *za ^= *xb;
            *zb ^= *xa;
            flip
        });
    }

    /// Controlled Y, as `qelib1.inc` defines it: `sdg t; cx c, t; s t`.
    pub(crate) fn cy(&mut self, c: usize, t: usize) {
        self.sdg(t);
        self.cx(c, t);
        self.s(t);
    }

    /// Exchanges qubits `a` and `b`.
    pub(crate) fn swap(&mut self, a: usize, b: usize) {
        self.each_row2(a, b, |xa, za, xb, zb| {
            std::mem::swap(xa, xb);
            std::mem::swap(za, zb);
            false
        });
    }

    fn has_x(&self, row: usize, a: usize) -> bool {
        self.x[row * self.words + a / 64] >> (a % 64) & 1 == 1
    }

    /// Measures qubit `a` in the computational basis and returns the outcome: a fresh
    /// variable `r_{next_var}` (and `next_var` advanced) when it is random, else the affine
    /// function it equals. The state is left in the post-measurement state of that outcome.
    pub(crate) fn measure(&mut self, a: usize, next_var: &mut usize) -> Affine {
        let n = self.n;
        let w = self.words;
        match (n..2 * n).find(|&row| self.has_x(row, a)) {
            Some(p) => {
                // Random: every other row anticommuting with Z_a is multiplied by row p.
                let px = self.x[p * w..(p + 1) * w].to_vec();
                let pz = self.z[p * w..(p + 1) * w].to_vec();
                let sign_p = self.signs[p - n].clone();
                for row in 0..2 * n {
                    if row == p || !self.has_x(row, a) {
                        continue;
                    }
                    let range = row * w..(row + 1) * w;
                    let sum =
                        multiply_into(&px, &pz, &mut self.x[range.clone()], &mut self.z[range]);
                    if row >= n {
                        let sign = &mut self.signs[row - n];
                        sign.xor(&sign_p);
                        sign.constant ^= sum == 2;
                    }
                }
                // The destabilizer takes the old row p; row p becomes ±Z_a.
                self.x.copy_within(p * w..(p + 1) * w, (p - n) * w);
                self.z.copy_within(p * w..(p + 1) * w, (p - n) * w);
                self.x[p * w..(p + 1) * w].fill(0);
                self.z[p * w..(p + 1) * w].fill(0);
                self.z[p * w + a / 64] |= 1 << (a % 64);
                let outcome = Affine::variable(*next_var);
                *next_var += 1;
                self.signs[p - n] = outcome.clone();
                outcome
            }
            None => {
                // Determined: Z_a is the product of the stabilizers whose destabilizers
                // anticommute with it; the product's sign is the outcome.
                let mut sx = vec![0; w];
                let mut sz = vec![0; w];
                let mut sign = Affine::constant(false);
                for i in 0..n {
                    if !self.has_x(i, a) {
                        continue;
                    }
                    let range = (n + i) * w..(n + i + 1) * w;
                    let sum =
                        multiply_into(&self.x[range.clone()], &self.z[range], &mut sx, &mut sz);
                    sign.xor(&self.signs[i]);
                    sign.constant ^= sum == 2;
                }
                sign
            }
        }
    }

    /// Applies X to qubit `a` where `condition` is 1 (a Pauli only changes signs, so a
    /// condition affine in the outcomes keeps every sign affine).
    pub(crate) fn x_if(&mut self, a: usize, condition: &Affine) {
        let (word, shift) = (a / 64, a % 64);
        for i in 0..self.n {
            if self.z[(self.n + i) * self.words + word] >> shift & 1 == 1 {
                self.signs[i].xor(condition);
            }
        }
    }
}

/// Multiplies the Pauli row `(x2, z2)` by the row `(x1, z1)` in place (the paper's
/// `rowsum` without the signs) and returns the exponent of `i` (mod 4) the product gains from
/// its letters: the sum over qubits of the paper's `g(x1, z1, x2, z2)`, 0 or 2 (a sign of +1
/// or −1) for two commuting rows. Words where the source row is the identity are skipped.
fn multiply_into(x1: &[u64], z1: &[u64], x2: &mut [u64], z2: &mut [u64]) -> u32 {
    let (mut plus, mut minus) = (0u32, 0u32);
    for j in 0..x1.len() {
        let (a, b) = (x1[j], z1[j]);
        if a | b == 0 {
            continue;
        }
        let (c, d) = (x2[j], z2[j]);
        let (y, x, z) = (a & b, a & !b, !a & b);
        // g = z2 − x2 for Y; z2 (2 x2 − 1) for X; x2 (1 − 2 z2) for Z.
        plus += ((y & d & !c) | (x & d & c) | (z & c & !d)).count_ones();
        minus += ((y & c & !d) | (x & d & !c) | (z & c & d)).count_ones();
        x2[j] = c ^ a;
        z2[j] = d ^ b;
    }
    plus.wrapping_sub(minus) % 4
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Measures every qubit of `t` with fresh variables; constant outcomes only.
    fn outcomes(t: &mut Tableau) -> Vec<Option<bool>> {
        let mut next = 0;
        (0..t.n).map(|q| t.measure(q, &mut next).value()).collect()
    }

    #[test]
    fn basis_states_measure_their_bits() {
        let mut t = Tableau::zero(70).unwrap();
        t.x(3);
        t.x(69);
        t.y(5);
        t.z(6);
        let bits = outcomes(&mut t);
        for (q, bit) in bits.iter().enumerate() {
            assert_eq!(*bit, Some(matches!(q, 3 | 5 | 69)), "qubit {q}");
        }
    }

    #[test]
    fn a_bell_pair_gives_one_random_bit_twice() {
        let mut t = Tableau::zero(2).unwrap();
        t.h(0);
        t.cx(0, 1);
        let mut next = 0;
        let first = t.measure(0, &mut next);
        let second = t.measure(1, &mut next);
        assert_eq!(first, Affine::variable(0));
        assert_eq!(second, first);
        assert_eq!(next, 1);
    }

    #[test]
    fn identities_of_the_clifford_gates() {
        // Each sequence is the identity up to a global phase, so |0…0⟩ stays; H before and
        // after checks the X basis as well.
        type Sequence = fn(&mut Tableau);
        let identities: [(&str, Sequence); 9] = [
            ("s s sdg sdg", |t| {
                t.s(0);
                t.s(0);
                t.sdg(0);
                t.sdg(0);
            }),
            ("h s s h x", |t| {
                t.h(0);
                t.s(0);
                t.s(0);
                t.h(0);
                t.x(0);
            }),
            ("sx sx x", |t| {
                t.sx(0);
                t.sx(0);
                t.x(0);
            }),
            ("sx sxdg", |t| {
                t.sx(0);
                t.sxdg(0);
            }),
            ("x z y", |t| {
                t.x(0);
                t.z(0);
                t.y(0);
            }),
            ("h1 cx h1 cz", |t| {
                t.h(1);
                t.cx(0, 1);
                t.h(1);
                t.cz(0, 1);
            }),
            ("cy cy", |t| {
                t.cy(0, 1);
                t.cy(0, 1);
            }),
            ("cx cx cx swap", |t| {
                t.cx(0, 1);
                t.cx(1, 0);
                t.cx(0, 1);
                t.swap(0, 1);
            }),
            ("s1 cx s1 sdg1... cy = sdg cx s", |t| {
                t.sdg(1);
                t.cx(0, 1);
                t.s(1);
                t.cy(0, 1);
            }),
        ];
        for (name, sequence) in identities {
            for prepare in [false, true] {
                let mut t = Tableau::zero(2).unwrap();
                // A state where signs matter: |+⟩|1⟩ or (with prepare) |−i⟩-ish.
                t.h(0);
                t.x(1);
                if prepare {
                    t.s(0);
                    t.h(1);
                }
                let before = t.clone();
                sequence(&mut t);
                let mut a = before;
                let mut b = t;
                // Undo the preparation and compare the measured bits.
                if prepare {
                    a.h(1);
                    b.h(1);
                    a.sdg(0);
                    b.sdg(0);
                }
                a.h(0);
                b.h(0);
                assert_eq!(outcomes(&mut a), outcomes(&mut b), "{name}");
                assert_eq!(outcomes(&mut b), vec![Some(false), Some(true)], "{name}");
            }
        }
    }

    #[test]
    fn a_reset_by_measurement_and_conditional_x_leaves_zero() {
        let mut t = Tableau::zero(2).unwrap();
        t.h(0);
        t.cx(0, 1);
        let mut next = 0;
        let m = t.measure(0, &mut next);
        t.x_if(0, &m);
        // Qubit 0 is |0⟩; qubit 1 still equals the discarded outcome.
        assert_eq!(t.measure(0, &mut next).value(), Some(false));
        assert_eq!(t.measure(1, &mut next), m);
    }
}
