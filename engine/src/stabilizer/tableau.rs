//! The Aaronson–Gottesman tableau ("Improved simulation of stabilizer circuits", Phys. Rev. A
//! 70, 052328, 2004), with the stabilizers' signs kept as [`Affine`] functions of the
//! random outcomes instead of drawn bits.
//!
//! `2n` rows of `n` Pauli letters, each letter two bits `(x, z)` (`X = (1,0)`, `Z = (0,1)`,
//! `Y = (1,1)`): rows `0..n` are the destabilizers, rows `n..2n` the stabilizers of the state
//! (initially `X_i` and `Z_i`). Bits are packed 64 a word, by rows for measurements — a
//! product of two rows (the paper's `rowsum`) is `n/64` word operations and a measurement
//! `O(n²/64)` — and by columns for long runs of gates, where a gate is `2n/64` word
//! operations on its qubits' columns (see [`Tableau`]). Only the stabilizers carry signs:
//! the destabilizers' never affect an outcome.

use super::affine::Affine;
use crate::error::{EngineError, FailureKind, Result, Stage};

/// How the tableau's bits are laid out in `x` and `z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Row-major: row `r`, qubit `q` is bit `q % 64` of word `r * words + q / 64`. A
    /// product of two rows is `n/64` word operations; a gate visits `2n` rows.
    Rows,
    /// Column-major: qubit `q`, row `r` is bit `r % 64` of word `q * column_words + r / 64`.
    /// A gate is `2n/64` word operations on its qubits' columns, its sign flips gathered in
    /// `flips`.
    Columns,
}

/// A stabilizer state of `n` qubits.
///
/// Gates run on either layout and measurements on rows; the tableau is transposed (64×64
/// bit blocks, `O(n²/64)`) when a run of gates long enough to pay for it starts
/// ([`Tableau::expect_gates`]) and again at the next measurement — Stim's trick of
/// keeping the tableau transposed while gates are applied.
#[derive(Clone, Debug)]
pub(crate) struct Tableau {
    n: usize,
    /// Words per row.
    words: usize,
    /// Words per column (`2n` rows).
    column_words: usize,
    layout: Layout,
    /// The rows' `x` bits, laid out as `layout` says.
    x: Vec<u64>,
    /// The rows' `z` bits, laid out as `x`.
    z: Vec<u64>,
    /// The sign of stabilizer row `n + i` (`true`: −1).
    signs: Vec<Affine>,
    /// In the column layout, bit `r % 64` of word `r / 64` flips row `r`'s sign (only
    /// stabilizer rows' count); folded into `signs` by [`Tableau::fold_flips`]. All zero in
    /// the row layout.
    flips: Vec<u64>,
    /// While the row layout is current: the `x` bits in the column layout, kept up to date,
    /// so that a measurement finds the rows with an `x` at its qubit in `2n/64` words
    /// instead of one load per row; `None` once a change costs more to follow than the next
    /// measurement's sweep down the rows ([`Tableau::x_column`]). Taken for free from the
    /// column layout when measurements follow a run of gates.
    x_columns: Option<Vec<u64>>,
}

/// The word-parallel update of one qubit's letters `(x, z)` by a one-qubit Clifford gate,
/// returning the rows whose sign flips: each bit position is one row.
type Rule1 = fn(&mut u64, &mut u64) -> u64;
/// As [`Rule1`] for a two-qubit gate on `(xa, za, xb, zb)`.
type Rule2 = fn(&mut u64, &mut u64, &mut u64, &mut u64) -> u64;

/// Gate runs shorter than this many gates per 32 qubits stay on the row layout: two
/// transpositions cost about as much as `n/32` gates on rows.
const GATES_PER_TRANSPOSITION: usize = 32;

impl Tableau {
    /// |0…0⟩ on `n` qubits. An allocation the system refuses is a resource-limit error.
    pub(crate) fn zero(n: usize) -> Result<Self> {
        let words = n.div_ceil(64).max(1);
        let column_words = (2 * n).div_ceil(64).max(1);
        let len = (2 * n * words).max(n * column_words);
        let allocate = || -> Result<Vec<u64>> {
            let mut bits = Vec::new();
            bits.try_reserve_exact(len).map_err(|_| {
                EngineError::new(
                    FailureKind::ResourceLimit,
                    Stage::Execute,
                    format!("could not allocate a stabilizer tableau of {n} qubits"),
                )
            })?;
            bits.resize(2 * n * words, 0);
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
            column_words,
            layout: Layout::Rows,
            x,
            z,
            signs: vec![Affine::constant(false); n],
            flips: vec![0; column_words],
            x_columns: None,
        })
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        let columns = self.x_columns.as_ref().map_or(0, Vec::capacity);
        ((self.x.capacity() + self.z.capacity() + self.flips.len() + columns) * 8) as u64
            + self.signs.iter().map(Affine::bytes).sum::<u64>()
    }

    /// The stabilizers' signs (row `n + i` is entry `i`).
    pub(crate) fn signs_mut(&mut self) -> &mut [Affine] {
        self.fold_flips();
        &mut self.signs
    }

    /// Tells the tableau that `gates` gates follow before the next measurement or reset:
    /// a run long enough to pay for two transpositions moves it to the column layout.
    pub(crate) fn expect_gates(&mut self, gates: usize) {
        if self.layout == Layout::Rows && gates * GATES_PER_TRANSPOSITION >= self.n + 64 {
            self.x = transpose(&self.x, 2 * self.n, self.words, self.n, self.column_words);
            self.z = transpose(&self.z, 2 * self.n, self.words, self.n, self.column_words);
            self.layout = Layout::Columns;
            self.x_columns = None;
        }
    }

    /// Moves the tableau to the row layout (for a measurement), its signs up to date.
    fn rows(&mut self) {
        self.fold_flips();
        if self.layout == Layout::Columns {
            // z first: at most three of the four arrays are held at once, as before the
            // column copy of x was kept.
            self.z = transpose(&self.z, self.n, self.column_words, 2 * self.n, self.words);
            let columns = std::mem::take(&mut self.x);
            self.x = transpose(&columns, self.n, self.column_words, 2 * self.n, self.words);
            self.layout = Layout::Rows;
            self.x_columns = Some(columns);
        }
    }

    /// Applies the sign flips the column layout gathered to `signs`.
    fn fold_flips(&mut self) {
        if self.layout == Layout::Rows {
            return;
        }
        for (i, sign) in self.signs.iter_mut().enumerate() {
            let row = self.n + i;
            sign.constant ^= self.flips[row / 64] >> (row % 64) & 1 == 1;
        }
        self.flips.fill(0);
    }

    /// Applies a one-qubit `rule` to qubit `a`'s letter in every row.
    #[inline(always)]
    fn gate1(&mut self, a: usize, rule: Rule1) {
        match self.layout {
            Layout::Columns => {
                let column = a * self.column_words..(a + 1) * self.column_words;
                let (x, z) = (&mut self.x[column.clone()], &mut self.z[column]);
                for ((x, z), flip) in x.iter_mut().zip(z).zip(&mut self.flips) {
                    *flip ^= rule(x, z);
                }
            }
            Layout::Rows => {
                self.x_columns = None;
                let (word, shift) = (a / 64, a % 64);
                for row in 0..2 * self.n {
                    let i = row * self.words + word;
                    let (mut x, mut z) = (self.x[i] >> shift & 1, self.z[i] >> shift & 1);
                    let flip = rule(&mut x, &mut z) & 1 == 1;
                    self.x[i] = self.x[i] & !(1 << shift) | (x & 1) << shift;
                    self.z[i] = self.z[i] & !(1 << shift) | (z & 1) << shift;
                    if flip && row >= self.n {
                        self.signs[row - self.n].constant ^= true;
                    }
                }
            }
        }
    }

    /// Applies a two-qubit `rule` to qubits `a` and `b` (distinct) in every row.
    #[inline(always)]
    fn gate2(&mut self, a: usize, b: usize, rule: Rule2) {
        match self.layout {
            Layout::Columns => {
                let w = self.column_words;
                let (ca, cb) = (a * w, b * w);
                for (i, flip) in self.flips.iter_mut().enumerate() {
                    let (mut xa, mut za) = (self.x[ca + i], self.z[ca + i]);
                    let (mut xb, mut zb) = (self.x[cb + i], self.z[cb + i]);
                    *flip ^= rule(&mut xa, &mut za, &mut xb, &mut zb);
                    (self.x[ca + i], self.z[ca + i]) = (xa, za);
                    (self.x[cb + i], self.z[cb + i]) = (xb, zb);
                }
            }
            Layout::Rows => {
                self.x_columns = None;
                let (wa, sa, wb, sb) = (a / 64, a % 64, b / 64, b % 64);
                for row in 0..2 * self.n {
                    let (ia, ib) = (row * self.words + wa, row * self.words + wb);
                    let mut xa = self.x[ia] >> sa & 1;
                    let mut za = self.z[ia] >> sa & 1;
                    let mut xb = self.x[ib] >> sb & 1;
                    let mut zb = self.z[ib] >> sb & 1;
                    let flip = rule(&mut xa, &mut za, &mut xb, &mut zb) & 1 == 1;
                    self.x[ia] = self.x[ia] & !(1 << sa) | (xa & 1) << sa;
                    self.z[ia] = self.z[ia] & !(1 << sa) | (za & 1) << sa;
                    self.x[ib] = self.x[ib] & !(1 << sb) | (xb & 1) << sb;
                    self.z[ib] = self.z[ib] & !(1 << sb) | (zb & 1) << sb;
                    if flip && row >= self.n {
                        self.signs[row - self.n].constant ^= true;
                    }
                }
            }
        }
    }

    /// Hadamard: `X ↔ Z`, `Y → −Y`.
    pub(crate) fn h(&mut self, a: usize) {
        self.gate1(a, |x, z| {
            std::mem::swap(x, z);
            *x & *z
        });
    }

    /// Phase `S`: `X → Y`, `Y → −X`.
    pub(crate) fn s(&mut self, a: usize) {
        self.gate1(a, |x, z| {
            let flip = *x & *z;
            *z ^= *x;
            flip
        });
    }

    /// `S†`: `X → −Y`, `Y → X`.
    pub(crate) fn sdg(&mut self, a: usize) {
        self.gate1(a, |x, z| {
            let flip = *x & !*z;
            *z ^= *x;
            flip
        });
    }

    /// Pauli X: flips the sign of rows with a `Z` or `Y` on `a`.
    pub(crate) fn x(&mut self, a: usize) {
        self.gate1(a, |_, z| *z);
    }

    /// Pauli Y: flips the sign of rows with an `X` or `Z` on `a`.
    pub(crate) fn y(&mut self, a: usize) {
        self.gate1(a, |x, z| *x ^ *z);
    }

    /// Pauli Z: flips the sign of rows with an `X` or `Y` on `a`.
    pub(crate) fn z(&mut self, a: usize) {
        self.gate1(a, |x, _| *x);
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
        self.gate2(c, t, |xc, zc, xt, zt| {
            let flip = *xc & *zt & !(*xt ^ *zc);
            *xt ^= *xc;
            *zc ^= *zt;
            flip
        });
    }

    /// Controlled Z (symmetric): `X_a → X_a Z_b`, `X_b → Z_a X_b`.
    pub(crate) fn cz(&mut self, a: usize, b: usize) {
        self.gate2(a, b, |xa, za, xb, zb| {
            let flip = *xa & *xb & (*za ^ *zb);
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
        self.gate2(a, b, |xa, za, xb, zb| {
            std::mem::swap(xa, xb);
            std::mem::swap(za, zb);
            0
        });
    }

    /// Qubit `a`'s `x` bits of every row, in the row layout: bit `r % 64` of word `r / 64`
    /// is row `r`'s; from [`Tableau::x_columns`] when it is kept, else a sweep down the rows.
    fn x_column(&self, a: usize) -> Vec<u64> {
        let cw = self.column_words;
        if let Some(columns) = &self.x_columns {
            return columns[a * cw..(a + 1) * cw].to_vec();
        }
        let (word, shift) = (a / 64, a % 64);
        let mut column = vec![0u64; cw];
        for (r, row) in self.x.chunks_exact(self.words).take(2 * self.n).enumerate() {
            column[r / 64] |= (row[word] >> shift & 1) << (r % 64);
        }
        column
    }

    /// Follows in [`Tableau::x_columns`] the change of row `row`'s `x` bits by `diff` (their
    /// old bits xor their new), or drops it when `budget` (bit flips, shared by one
    /// measurement's changes) runs out: past it, the next measurement's sweep costs less.
    fn follow(&mut self, row: usize, diff: &[u64], budget: &mut usize) {
        let Some(columns) = &mut self.x_columns else {
            return;
        };
        let flips: usize = diff.iter().map(|d| d.count_ones() as usize).sum();
        if flips > *budget {
            self.x_columns = None;
            return;
        }
        *budget -= flips;
        let (cw, word, bit) = (self.column_words, row / 64, 1u64 << (row % 64));
        for q in set_bits(diff, 0, 64 * diff.len()) {
            columns[q * cw + word] ^= bit;
        }
    }

    /// Measures qubit `a` in the computational basis and returns the outcome: a fresh
    /// variable `r_{next_var}` (and `next_var` advanced) when it is random, else the affine
    /// function it equals. The state is left in the post-measurement state of that outcome.
    pub(crate) fn measure(&mut self, a: usize, next_var: &mut usize) -> Affine {
        self.rows();
        let n = self.n;
        let w = self.words;
        let column = self.x_column(a);
        // Bit flips `x_columns` may follow for this measurement: about one sweep's loads.
        let mut budget = 2 * n;
        match set_bits(&column, n, 2 * n).next() {
            Some(p) => {
                // Random: every other row anticommuting with Z_a is multiplied by row p
                // (which clears its bit at `a`, so `column` still lists them).
                let px = self.x[p * w..(p + 1) * w].to_vec();
                let pz = self.z[p * w..(p + 1) * w].to_vec();
                let sign_p = self.signs[p - n].clone();
                for row in set_bits(&column, 0, 2 * n) {
                    if row == p {
                        continue;
                    }
                    let range = row * w..(row + 1) * w;
                    let sum =
                        multiply_into(&px, &pz, &mut self.x[range.clone()], &mut self.z[range]);
                    self.follow(row, &px, &mut budget);
                    if row >= n {
                        let sign = &mut self.signs[row - n];
                        sign.xor(&sign_p);
                        sign.constant ^= sum == 2;
                    }
                }
                // The destabilizer takes the old row p; row p becomes ±Z_a.
                let diff: Vec<u64> = (0..w).map(|j| self.x[(p - n) * w + j] ^ px[j]).collect();
                self.follow(p - n, &diff, &mut budget);
                self.follow(p, &px, &mut budget);
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
                let chosen: Vec<usize> = set_bits(&column, 0, n).collect();
                let mut sx = vec![0; w];
                let mut sz = vec![0; w];
                let mut sign = Affine::constant(false);
                for &i in &chosen {
                    let range = (n + i) * w..(n + i + 1) * w;
                    let sum =
                        multiply_into(&self.x[range.clone()], &self.z[range], &mut sx, &mut sz);
                    sign.xor(&self.signs[i]);
                    sign.constant ^= sum == 2;
                }
                // Keep ±Z_a as a generator, so measuring `a` or a qubit correlated with it
                // again multiplies a few rows, not up to n (GHZ-n measured qubit by qubit:
                // O(n²/64) in all instead of O(n³/64)): the last chosen stabilizer becomes
                // the product, and every other chosen destabilizer is multiplied by its
                // destabilizer, so each still anticommutes with its own stabilizer only.
                // The group and the outcomes' functions stay the same.
                let (&p, others) = chosen
                    .split_last()
                    .expect("Z_a is not the identity, so some stabilizer is in its product");
                let diff: Vec<u64> = (0..w).map(|j| self.x[(n + p) * w + j] ^ sx[j]).collect();
                self.follow(n + p, &diff, &mut budget);
                self.x[(n + p) * w..(n + p + 1) * w].copy_from_slice(&sx);
                self.z[(n + p) * w..(n + p + 1) * w].copy_from_slice(&sz);
                self.signs[p] = sign.clone();
                let destabilizer_x = self.x[p * w..(p + 1) * w].to_vec();
                for &i in others {
                    self.follow(i, &destabilizer_x, &mut budget);
                    for j in 0..w {
                        self.x[i * w + j] ^= self.x[p * w + j];
                        self.z[i * w + j] ^= self.z[p * w + j];
                    }
                }
                sign
            }
        }
    }

    /// Applies X to qubit `a` where `condition` is 1 (a Pauli only changes signs, so a
    /// condition affine in the outcomes keeps every sign affine).
    pub(crate) fn x_if(&mut self, a: usize, condition: &Affine) {
        self.rows();
        let (word, shift) = (a / 64, a % 64);
        for i in 0..self.n {
            if self.z[(self.n + i) * self.words + word] >> shift & 1 == 1 {
                self.signs[i].xor(condition);
            }
        }
    }
}

/// The transpose of a `rows × columns` bit matrix stored row-major with `words` words per
/// row (bit `c % 64` of word `r * words + c / 64` is entry `(r, c)`), as a `columns × rows`
/// matrix with `out_words` words per row, by 64×64 blocks.
pub(super) fn transpose(
    bits: &[u64],
    rows: usize,
    words: usize,
    columns: usize,
    out_words: usize,
) -> Vec<u64> {
    let mut out = vec![0; columns * out_words];
    let mut block = [0u64; 64];
    for rb in 0..rows.div_ceil(64) {
        for cb in 0..columns.div_ceil(64) {
            for (i, word) in block.iter_mut().enumerate() {
                let r = rb * 64 + i;
                *word = if r < rows { bits[r * words + cb] } else { 0 };
            }
            transpose64(&mut block);
            for (j, &word) in block.iter().enumerate() {
                let c = cb * 64 + j;
                if c < columns {
                    out[c * out_words + rb] = word;
                }
            }
        }
    }
    out
}

/// Transposes a 64×64 bit block in place: bit `j` of word `i` becomes bit `i` of word `j`
/// (Hacker's Delight, §7–3, by halves: 6 rounds of 32 masked swaps).
fn transpose64(a: &mut [u64; 64]) {
    let mut width = 32;
    let mut mask: u64 = 0x0000_0000_FFFF_FFFF;
    while width != 0 {
        let mut k = 0;
        while k < 64 {
            let t = ((a[k] >> width) ^ a[k + width]) & mask;
            a[k] ^= t << width;
            a[k + width] ^= t;
            k = (k + width + 1) & !width;
        }
        width >>= 1;
        mask ^= mask << width;
    }
}

/// The positions of the set bits of `words` (bit `i % 64` of word `i / 64` is position `i`)
/// from `from` up to `to`, ascending.
fn set_bits(words: &[u64], from: usize, to: usize) -> impl Iterator<Item = usize> + '_ {
    (from / 64..to.div_ceil(64)).flat_map(move |k| {
        // `from - 64k` is below 64 for the first word and 0 after; `to - 64k` at least 1.
        let low = from.saturating_sub(64 * k);
        let high = (to - 64 * k).min(64);
        let below_high = if high == 64 {
            u64::MAX
        } else {
            (1 << high) - 1
        };
        let mut bits = words[k] & below_high & !((1u64 << low) - 1);
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                64 * k + bit
            })
        })
    })
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

    /// Measurements keep [`Tableau::x_columns`] equal to the row layout's `x` transposed,
    /// or drop it (a dense state's random measurement changes too many bits); either way
    /// they give the outcomes of a tableau that never keeps it. A sparse state keeps it.
    #[test]
    fn kept_columns_follow_every_measurement() {
        for (n, gates, sparse) in [(150, 40, true), (150, 3000, false), (70, 300, false)] {
            let mut kept = Tableau::zero(n).unwrap();
            let mut state = 777u64 + gates as u64;
            let mut next = || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                state
            };
            kept.expect_gates(usize::MAX / GATES_PER_TRANSPOSITION);
            for _ in 0..gates {
                let r = next();
                let (a, b) = ((r >> 20) as usize % n, (r >> 40) as usize % n);
                match r >> 62 {
                    0 => kept.h(a),
                    1 => kept.s(a),
                    _ if a == b => kept.sx(a),
                    _ => kept.cx(a, b),
                }
            }
            // The reference: on rows from the start, never keeping the column copy.
            let mut swept = kept.clone();
            swept.rows();
            swept.x_columns = None;
            let (mut next_kept, mut next_swept) = (0, 0);
            let mut followed = 0;
            for k in 0..2 * n {
                let a = if k < n { k } else { next() as usize % n };
                let outcome = kept.measure(a, &mut next_kept);
                assert_eq!(outcome, swept.measure(a, &mut next_swept), "qubit {a}");
                assert!(swept.x_columns.is_none());
                if let Some(columns) = &kept.x_columns {
                    followed += 1;
                    let expected = transpose(&kept.x, 2 * n, kept.words, n, kept.column_words);
                    assert!(columns[..n * kept.column_words] == expected[..n * kept.column_words]);
                }
            }
            assert!(
                followed > 0 || !sparse,
                "{n} qubits, {gates} gates: the columns were never kept"
            );
        }
    }

    #[test]
    fn set_bits_lists_the_positions_in_range() {
        let words = [0b1011_0001 | 1 << 63, u64::MAX, 1 << 5];
        let all = |from, to| set_bits(&words, from, to).collect::<Vec<_>>();
        assert_eq!(all(0, 8), [0, 4, 5, 7]);
        assert_eq!(all(1, 5), [4]);
        assert_eq!(all(60, 67), [63, 64, 65, 66]);
        assert_eq!(all(64, 128).len(), 64);
        assert_eq!(all(100, 192), (100..128).chain([133]).collect::<Vec<_>>());
        assert_eq!(all(134, 192), Vec::<usize>::new());
        assert_eq!(all(7, 7), Vec::<usize>::new());
    }

    /// Measures every qubit of `t` with fresh variables; constant outcomes only.
    fn outcomes(t: &mut Tableau) -> Vec<Option<bool>> {
        let mut next = 0;
        (0..t.n).map(|q| t.measure(q, &mut next).value()).collect()
    }

    #[test]
    fn transposition_moves_every_bit() {
        // 130 × 70 bits: partial blocks in both directions.
        let (rows, columns): (usize, usize) = (130, 70);
        let (words, out_words) = (columns.div_ceil(64), rows.div_ceil(64));
        let bit = |r: usize, c: usize| (r * 7 + c * 13).is_multiple_of(5);
        let mut bits = vec![0u64; rows * words];
        for r in 0..rows {
            for c in 0..columns {
                bits[r * words + c / 64] |= u64::from(bit(r, c)) << (c % 64);
            }
        }
        let out = transpose(&bits, rows, words, columns, out_words);
        for c in 0..columns {
            for r in 0..rows {
                assert_eq!(out[c * out_words + r / 64] >> (r % 64) & 1 == 1, bit(r, c));
            }
        }
        assert_eq!(transpose(&out, columns, out_words, rows, words), bits);
    }

    #[test]
    fn both_layouts_give_the_same_tableau() {
        // A pseudo-random Clifford sequence on 150 qubits, on rows and on columns.
        let n = 150;
        let mut rows = Tableau::zero(n).unwrap();
        let mut columns = Tableau::zero(n).unwrap();
        columns.expect_gates(usize::MAX / GATES_PER_TRANSPOSITION);
        assert_eq!(columns.layout, Layout::Columns);
        let mut state = 12345u64;
        for _ in 0..3000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (a, b) = ((state >> 20) as usize % n, (state >> 40) as usize % n);
            for t in [&mut rows, &mut columns] {
                match state >> 60 {
                    0 => t.h(a),
                    1 => t.s(a),
                    2 => t.sdg(a),
                    3 => t.x(a),
                    4 => t.y(a),
                    5 => t.z(a),
                    6 => t.sx(a),
                    7 => t.sxdg(a),
                    _ if a == b => t.h(a),
                    8 | 9 => t.cx(a, b),
                    10 | 11 => t.cz(a, b),
                    12 | 13 => t.cy(a, b),
                    _ => t.swap(a, b),
                }
            }
        }
        columns.rows();
        assert_eq!(rows.layout, Layout::Rows);
        assert!(rows.x == columns.x, "x");
        assert!(rows.z == columns.z, "z");
        assert!(rows.signs == columns.signs, "signs");
        assert_eq!(outcomes(&mut rows), outcomes(&mut columns));
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
