//! Gate fusion: merges runs of kernels on few qubits into one kernel when one pass over the
//! state is cheaper than several.
//!
//! The pass keeps *open blocks* on pairwise disjoint qubit sets. A new kernel either joins
//! the open blocks it touches (if their union stays within [`MAX_DENSE_QUBITS`] and the
//! cost model says one merged pass is cheaper than the separate ones) or closes them —
//! emits them in order — and opens a block of its own. Blocks on disjoint qubits commute, so
//! the output is the input's product in a different but equal order. A closed block of one
//! kernel stays that kernel; a block of diagonal kernels becomes one diagonal; anything else
//! becomes a dense matrix, computed by running the block's kernels on the basis vectors of
//! its qubits. With cache blocking, a block whose kernels move only local qubits (controls
//! and diagonal factors may be anywhere: a decomposed multi-controlled gate) is local and
//! costs what it does within a block of amplitudes, where the qubits past it are fixed.

use num_complex::Complex64;

use super::kernels::{Kernel, LOCAL_QUBITS, MAX_DENSE_QUBITS, runs_as_rotation};
use super::parallel::LANES;
use super::simd;
use crate::error::Result;
use crate::interrupt::Interrupt;

/// Smallest state, in qubits, worth fusing for: below it the state sits in cache and a pass
/// costs about as much as building a fused matrix.
pub(crate) const FUSION_MIN_QUBITS: u32 = 14;

/// Kernels fused between two polls of the interrupt.
const CHECK_EVERY: usize = 1024;

/// Widest diagonal block: a diagonal of 2^8 entries is still one cheap pass.
const MAX_DIAGONAL_QUBITS: usize = 8;

/// Fuses `kernels` (applied in order) into an equivalent, cheaper sequence. With
/// `blocking` (the plan groups local kernels, [`group_local`]), a kernel or block that is
/// local costs [`Prices::local_factor`] of a pass, so cheap diagonal and low-qubit gates are not
/// folded into a dense block that would cost a pass of its own.
pub(crate) fn fuse(
    kernels: Vec<Kernel>,
    blocking: bool,
    interrupt: &Interrupt<'_>,
) -> Result<Vec<Kernel>> {
    let local_factor = prices().local_factor;
    let scaled = |cost: f64, local: bool| {
        if blocking && local {
            cost * local_factor
        } else {
            cost
        }
    };
    let merged_cost = |mask: usize, moved: usize, diagonal: bool| {
        let local = moved >> LOCAL_QUBITS == 0;
        // In a cache-blocked run a block is applied as it acts within each block of
        // amplitudes: on its qubits there, the others (unmoved) fixed.
        let within = if blocking && local {
            mask & ((1 << LOCAL_QUBITS) - 1)
        } else {
            mask
        };
        scaled(fused_cost(within, moved, diagonal), local)
    };
    let block_cost = |block: &Block| match block.kernels.as_slice() {
        [single] => scaled(cost(single), single.is_local()),
        _ => merged_cost(block.mask, block.moved, block.diagonal),
    };
    let mut open: Vec<Block> = Vec::new();
    let mut out = Vec::new();
    for (i, kernel) in kernels.into_iter().enumerate() {
        if i % CHECK_EVERY == 0 {
            interrupt.check()?;
        }
        let mask = kernel.qubit_mask();
        let (touching, rest): (Vec<Block>, Vec<Block>) =
            open.into_iter().partition(|block| block.mask & mask != 0);
        open = rest;
        let union = touching.iter().fold(mask, |m, block| m | block.mask);
        let moved = touching
            .iter()
            .fold(kernel.moved_mask(), |m, block| m | block.moved);
        let separate: f64 =
            touching.iter().map(block_cost).sum::<f64>() + scaled(cost(&kernel), kernel.is_local());
        let diagonal = kernel.is_diagonal() && touching.iter().all(|b| b.diagonal);
        let merged = match touching.len() {
            0 => scaled(cost(&kernel), kernel.is_local()),
            _ => merged_cost(union, moved, diagonal),
        };
        let widest = if diagonal {
            MAX_DIAGONAL_QUBITS
        } else {
            MAX_DENSE_QUBITS
        };
        if union.count_ones() as usize <= widest && merged <= separate {
            let mut kernels: Vec<Kernel> = touching.into_iter().flat_map(|b| b.kernels).collect();
            kernels.push(kernel);
            open.push(Block {
                mask: union,
                moved,
                diagonal,
                kernels,
            });
        } else {
            for block in touching {
                out.push(block.realize()?);
            }
            open.push(Block {
                mask,
                moved: kernel.moved_mask(),
                diagonal: kernel.is_diagonal(),
                kernels: vec![kernel],
            });
        }
    }
    for block in open {
        out.push(block.realize()?);
    }
    Ok(out)
}

/// Kernels on the qubits of `mask`, in application order.
struct Block {
    mask: usize,
    /// Qubits some kernel changes ([`Kernel::moved_mask`]); the rest only control or
    /// scale, so the block, fused, moves amplitudes only within blocks of
    /// [`super::kernels::LOCAL`] when these are all local.
    moved: usize,
    /// Whether every kernel is diagonal.
    diagonal: bool,
    kernels: Vec<Kernel>,
}

impl Block {
    /// The block as one kernel. Its matrix is computed in one sweep per kernel: the
    /// columns, stacked, form a state of twice the block's width whose low half are the
    /// block's qubits (renamed 0..k), on which each kernel acts as it would on the state.
    fn realize(mut self) -> Result<Kernel> {
        if self.kernels.len() == 1 {
            return Ok(self.kernels.swap_remove(0));
        }
        let qubits: Vec<usize> = (0..usize::BITS as usize)
            .filter(|q| self.mask >> q & 1 == 1)
            .collect();
        let dim = 1 << qubits.len();
        let run = |mut v: Vec<Complex64>| -> Result<Vec<Complex64>> {
            for kernel in &self.kernels {
                let local = kernel.renamed(|q| qubits.iter().position(|&p| p == q).unwrap_or(q));
                local.apply(&mut v, &Interrupt::never())?;
            }
            Ok(v)
        };
        if self.diagonal {
            let diagonal = run(vec![Complex64::new(1.0, 0.0); dim])?;
            return Ok(Kernel::Diagonal { qubits, diagonal });
        }
        let mut identity = vec![Complex64::new(0.0, 0.0); dim * dim];
        for column in 0..dim {
            identity[column * dim + column] = Complex64::new(1.0, 0.0);
        }
        let columns = run(identity)?;
        let matrix: Vec<Complex64> = (0..dim * dim)
            .map(|i| columns[(i % dim) * dim + i / dim])
            .collect();
        if let [target] = qubits[..] {
            return Ok(Kernel::Unitary1 {
                target,
                controls: 0,
                matrix: [[matrix[0], matrix[1]], [matrix[2], matrix[3]]],
            });
        }
        Ok(Kernel::Dense { qubits, matrix })
    }
}

// Costs are CPU nanoseconds per amplitude on a 22-qubit state (64 MiB, past the L3 cache),
// one thread, measured with `RAYON_NUM_THREADS=1 QRUN_COST_QUBITS=22 cargo test --release
// -p qrun-engine --lib kernel_costs -- --ignored --nocapture` (2-vCPU AMD EPYC VM with
// AVX-512, 2026-12-06; a plain pass over the state costs 0.57); only their ratios matter. A
// kernel that touches a fraction `f` of the amplitudes (controls) costs `fixed +
// per_touched · f`; where the measurement showed no such saving the cost is flat.

const DIAGONAL_COST: f64 = 0.65;

/// A phase on the amplitudes where every qubit of a mask is 1: 0.5 with one qubit, 1.1 with
/// two (its runs get shorter as the mask's lowest qubit drops).
const PHASE_COST: f64 = 0.8;

/// What kernels cost where the CPU has one instruction-set level ([`simd::Level`]): the
/// prices that depend on its FMA throughput and vector width.
struct Prices {
    /// Dense blocks of 2 to 5 qubits, by width, leaving no lane qubit unmoved.
    dense: [f64; MAX_DENSE_QUBITS + 1],
    /// Dense blocks of 2 to 5 qubits, by width, leaving a lane qubit ([`Prices::lanes`])
    /// unmoved (a control or a diagonal factor of a decomposed multi-controlled gate): where
    /// a block moves one, every other plan has a kernel moving it too, at a lane qubit's
    /// price (charging it made QV-22's plan 25 % slower on the AVX-512 host, its SU(4) blocks
    /// unfused; charged only for unmoved lane qubits that plan is unchanged and the random
    /// circuit's 4–6 % faster).
    dense_lane: [f64; MAX_DENSE_QUBITS + 1],
    /// The qubits that number the amplitudes within the dense kernels' vectors.
    lanes: usize,
    /// What a local kernel costs, relative to its cost as a pass over memory, when runs of
    /// local kernels are applied block by block in cache ([`group_local`]): its arithmetic,
    /// and the wait for each block to arrive.
    local_factor: f64,
}

/// AVX-512 with FMA (`dense_lanes` permutes lanes in registers, so a lane qubit costs
/// nothing extra: 2.9 / 2.8 / 4.2 / 7.3 ns per amplitude with qubit 0 against 2.3 / 3.0 /
/// 3.9 / 7.0 on qubits 3, 7, 9, 11, 5, 2-vCPU Zen 5 EPYC, 2026-12-06).
///
/// Dense: every qubit from 3 up, the arithmetic below a pass's memory traffic up to 3
/// qubits and past it from 4. The 4- and 5-qubit prices keep their ratio to the 2-qubit one
/// measured on the Zen 5 host (0.75 / 1.08 / 1.56 / 3.64 ns per amplitude on 24 qubits,
/// prefetching; they were 2.1 and 4.1 from a host with half its FMA throughput).
///
/// Local factor 0.6 from the Zen 5 host, where a dense 2-qubit block costs 0.53 ns per
/// amplitude in cache against 0.65–0.8 streamed and a blocked run its kernels' arithmetic
/// plus about one pass (`plan_kernel_costs`); 0.25 before, from a host with half the FMA
/// throughput, priced runs so cheap that QuantumVolume(24) was blocked where streaming
/// fused blocks is faster (wall time, medians of three, 1 / 2 threads: QV-24 3.38 → 3.11 /
/// 2.07 → 1.77 s, QV-22 0.71 → 0.69 / 0.41 → 0.39, QFT-24 0.62 → 0.62 / 0.41 → 0.38,
/// `random_circuit(24, 20)` 1.91 → 2.00 / 1.13 → 1.14, with the 4- and 5-qubit prices).
const AVX512: Prices = Prices {
    dense: [0.0, 0.0, 0.6, 0.9, 1.25, 2.9],
    dense_lane: [0.0, 0.0, 0.6, 0.9, 1.25, 2.9],
    lanes: 0,
    local_factor: 0.6,
};

/// AVX2 with FMA: half the lanes, so twice the FMA instructions per amplitude, and 16
/// registers. Measured on a 2-vCPU Zen 3 EPYC (2026-12-06, 24 qubits, one thread, a
/// unitary1 2.0–2.6 ns per amplitude, a plain pass 1.4): dense blocks on qubits 3, 7, 9,
/// 11, 5 cost 2.6–3.9 / 3.5–5.6 / 5.0–7.2 / 7.9–11.3 ns per amplitude, with qubit 0 (the
/// lane qubit) 3.1–4.3 / 3.9–6.1 / 7.5–10.6 / 14.7–19.3 (that VM's noise is that wide).
/// In cache a block still costs its arithmetic, which dominates from 3 qubits: local
/// factor 0.8.
const AVX2: Prices = Prices {
    dense: [0.0, 0.0, 1.3, 2.0, 2.6, 4.5],
    dense_lane: [0.0, 0.0, 1.7, 2.3, 3.8, 7.0],
    lanes: 1,
    local_factor: 0.8,
};

/// Portable code: a block with a qubit below 3 gathers its basis states into lanes
/// amplitude by amplitude (2.0 / 3.0 / 3.1 / 5.5 with qubit 0, 1.7 for 2 qubits from qubit
/// 2, 3.8 for 3 from qubit 1, measured in the AVX-512 host's gathering build).
const PORTABLE: Prices = Prices {
    dense: AVX512.dense,
    dense_lane: [0.0, 0.0, 2.0, 3.0, 3.1, 5.5],
    lanes: LANES - 1,
    local_factor: 0.6,
};

/// The prices for this CPU.
fn prices() -> &'static Prices {
    match simd::level() {
        simd::Level::Avx512 => &AVX512,
        simd::Level::Avx2 => &AVX2,
        simd::Level::Portable => &PORTABLE,
    }
}

/// Cost of a block of several kernels on the qubits of `mask` that moves those of
/// `moved` ([`Kernel::moved_mask`]), as the kernel it becomes.
fn fused_cost(mask: usize, moved: usize, diagonal: bool) -> f64 {
    match mask.count_ones() {
        _ if diagonal => DIAGONAL_COST,
        1 => unitary1_cost(0),
        _ => dense_cost(mask, moved),
    }
}

fn unitary1_cost(controls: usize) -> f64 {
    1.0 + 0.1 * touched(controls)
}

/// Cost of a dense kernel on the qubits of `mask` that moves those of `moved`; infinite
/// past [`MAX_DENSE_QUBITS`] (no such kernel).
fn dense_cost(mask: usize, moved: usize) -> f64 {
    let width = mask.count_ones() as usize;
    if width <= MAX_DENSE_QUBITS && runs_as_rotation(mask, moved) {
        // One 2×2 rotation per pattern of the other qubits' bits, in one pass.
        return unitary1_cost(0);
    }
    let prices = prices();
    let costs = if mask & !moved & prices.lanes == 0 {
        &prices.dense
    } else {
        &prices.dense_lane
    };
    costs.get(width).copied().unwrap_or(f64::INFINITY)
}

/// Fraction of amplitudes a kernel acting where all of `mask` is 1 touches.
fn touched(mask: usize) -> f64 {
    0.5f64.powi(mask.count_ones() as i32)
}

/// Estimated cost of one kernel.
fn cost(kernel: &Kernel) -> f64 {
    match kernel {
        Kernel::Flip { controls, .. } => 0.5 + 0.5 * touched(*controls),
        Kernel::Swap { controls, .. } => 0.5 + 3.3 * touched(*controls),
        Kernel::Phase { .. } => PHASE_COST,
        Kernel::Unitary1 { controls, .. } => unitary1_cost(*controls),
        Kernel::Diagonal { .. } => DIAGONAL_COST,
        Kernel::Dense { .. } => dense_cost(kernel.qubit_mask(), kernel.moved_mask()),
        Kernel::Local(kernels) => kernels.iter().map(cost).sum(),
    }
}

/// Groups runs of local kernels ([`Kernel::is_local`]) into [`Kernel::Local`] runs, applied
/// block by block in one pass over memory. A kernel that is not local closes the open run,
/// unless it shares no qubit with the run: then it commutes with every kernel of the run and
/// is emitted before it, and the run stays open.
pub(crate) fn group_local(kernels: Vec<Kernel>) -> Vec<Kernel> {
    let mut out = Vec::new();
    let mut run: Vec<Kernel> = Vec::new();
    let mut run_mask = 0;
    let close = |run: &mut Vec<Kernel>, out: &mut Vec<Kernel>| match run.len() {
        0 => {}
        1 => out.extend(run.pop()),
        _ => out.push(Kernel::Local(std::mem::take(run))),
    };
    for kernel in kernels {
        let mask = kernel.qubit_mask();
        if kernel.is_local() {
            run_mask |= mask;
            run.push(kernel);
        } else if mask & run_mask == 0 {
            out.push(kernel);
        } else {
            close(&mut run, &mut out);
            run_mask = 0;
            out.push(kernel);
        }
    }
    close(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kernels::Mat2;
    use proptest::prelude::*;

    fn random_unitary1(a: f64, b: f64, c: f64) -> Mat2 {
        let (cos, sin) = ((a / 2.0).cos(), (a / 2.0).sin());
        [
            [Complex64::new(cos, 0.0), -Complex64::cis(c) * sin],
            [Complex64::cis(b) * sin, Complex64::cis(b + c) * cos],
        ]
    }

    fn kernel_strategy(n: usize) -> impl Strategy<Value = Kernel> {
        let qubit = 0..n;
        prop_oneof![
            (
                qubit.clone(),
                any::<u8>(),
                -3.0..3.0f64,
                -3.0..3.0f64,
                -3.0..3.0f64
            )
                .prop_map(move |(t, c, a, b, d)| Kernel::Unitary1 {
                    target: t,
                    controls: (c as usize % (1 << n)) & !(1 << t),
                    matrix: random_unitary1(a, b, d),
                }),
            (qubit.clone(), qubit.clone())
                .prop_filter("distinct", |(a, b)| a != b)
                .prop_map(|(t, c)| Kernel::Flip {
                    target: t,
                    controls: 1 << c,
                }),
            (qubit.clone(), qubit.clone())
                .prop_filter("distinct", |(a, b)| a != b)
                .prop_map(|(a, b)| Kernel::Swap { a, b, controls: 0 }),
            (1usize..(1 << n), -3.0..3.0f64).prop_map(|(mask, p)| Kernel::Phase {
                mask,
                phase: Complex64::cis(p),
            }),
            (qubit.clone(), qubit, -3.0..3.0f64)
                .prop_filter("distinct", |(a, b, _)| a != b)
                .prop_map(|(a, b, p)| Kernel::Diagonal {
                    qubits: vec![a, b],
                    diagonal: vec![
                        Complex64::cis(p),
                        Complex64::cis(-p),
                        Complex64::cis(2.0 * p),
                        Complex64::new(1.0, 0.0),
                    ],
                }),
        ]
    }

    fn run(kernels: &[Kernel], n: usize) -> Vec<Complex64> {
        let mut amps: Vec<Complex64> = (0..1 << n)
            .map(|i| Complex64::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
            .collect();
        for kernel in kernels {
            kernel.apply(&mut amps, &Interrupt::never()).unwrap();
        }
        amps
    }

    proptest! {
        #[test]
        fn fused_kernels_act_like_the_originals(kernels in prop::collection::vec(kernel_strategy(6), 1..40)) {
            let expected = run(&kernels, 6);
            let fused = fuse(kernels.clone(), false, &Interrupt::never()).unwrap();
            prop_assert!(fused.len() <= kernels.len());
            let actual = run(&fused, 6);
            for (a, e) in actual.iter().zip(&expected) {
                prop_assert!((a - e).norm() < 1e-9, "{a} vs {e}");
            }
        }
    }

    #[test]
    fn blocks_controlled_from_past_the_local_qubits_fuse_into_one_local_kernel() {
        let (high, higher) = (LOCAL_QUBITS, LOCAL_QUBITS + 1);
        let n = higher + 1;
        let kernels = vec![
            Kernel::Unitary1 {
                target: 0,
                controls: 1 << high | 1 << higher,
                matrix: random_unitary1(1.0, 2.0, 3.0),
            },
            Kernel::Unitary1 {
                target: 1,
                controls: 1 << higher,
                matrix: random_unitary1(0.3, -1.0, 0.5),
            },
            Kernel::Flip {
                target: 1,
                controls: 1 | 1 << high,
            },
            Kernel::Phase {
                mask: 1 << 1 | 1 << higher,
                phase: Complex64::cis(0.7),
            },
        ];
        let fused = fuse(kernels.clone(), true, &Interrupt::never()).unwrap();
        assert_eq!(fused.len(), 1);
        assert!(matches!(fused[0], Kernel::Dense { .. }));
        assert_eq!(
            fused[0].moved_mask(),
            0b11,
            "the controls past the block stay unmoved"
        );
        // Applied block by block, with the qubits past each block fixed (identity where
        // the controls are 0), it acts as the kernels did.
        let expected = run(&kernels, n);
        let actual = run(&[Kernel::Local(fused)], n);
        for (a, e) in actual.iter().zip(&expected) {
            assert!((a - e).norm() < 1e-12, "{a} vs {e}");
        }
    }

    #[test]
    fn blocks_that_move_one_qubit_act_as_their_kernels() {
        // Controlled rotations of one target (0, then 2) with controls from qubit 3 up fuse
        // into a dense block that moves only the target: applied as one rotation per
        // pattern of the controls, it equals the kernels.
        for target in [0, 2] {
            let kernels = vec![
                Kernel::Unitary1 {
                    target,
                    controls: 1 << 5,
                    matrix: random_unitary1(1.0, 2.0, 3.0),
                },
                Kernel::Flip {
                    target,
                    controls: 1 << 3 | 1 << 5,
                },
                Kernel::Unitary1 {
                    target,
                    controls: 1 << 3,
                    matrix: random_unitary1(0.3, -1.0, 0.5),
                },
                Kernel::Phase {
                    mask: 1 << target | 1 << 3,
                    phase: Complex64::cis(0.7),
                },
            ];
            let fused = fuse(kernels.clone(), false, &Interrupt::never()).unwrap();
            assert_eq!(fused.len(), 1);
            assert!(matches!(fused[0], Kernel::Dense { .. }));
            assert_eq!(fused[0].moved_mask(), 1 << target);
            let expected = run(&kernels, 6);
            for (a, e) in run(&fused, 6).iter().zip(&expected) {
                assert!((a - e).norm() < 1e-12, "{a} vs {e}");
            }
        }
    }

    #[test]
    fn single_qubit_runs_fuse_into_one_kernel() {
        let h = Kernel::Unitary1 {
            target: 3,
            controls: 0,
            matrix: random_unitary1(1.0, 2.0, 3.0),
        };
        let fused = fuse(vec![h.clone(), h.clone(), h], false, &Interrupt::never()).unwrap();
        assert_eq!(fused.len(), 1);
        assert!(matches!(fused[0], Kernel::Unitary1 { target: 3, .. }));
    }
}
