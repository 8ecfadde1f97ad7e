//! Per-backend resource limits and the admission checks built on them.
//!
//! Memory admission is by qubit count, per method: a state vector of `n` qubits holds `2^n`
//! complex amplitudes, `16 · 2^n` bytes in double precision and `8 · 2^n` in single; a
//! stabilizer tableau of `n` qubits holds `2n` rows of `2n` bits, `n²/2` bytes (`3n²/4`
//! while one of its two halves is transposed between the row and column layouts, and while
//! measurements keep a column copy of its `x` half; plus the outcomes' bookkeeping, see
//! `stabilizer`).
//! The check runs before anything is allocated, both when a program is prepared and again
//! when it is simulated (the program may have been prepared under other limits).

use std::time::Duration;

use crate::error::{EngineError, FailureKind, Result, Stage};
use crate::method::Method;
use crate::precision::Precision;

/// The most qubits the engine will ever simulate on a state vector, whatever the
/// configuration says (2^40 amplitudes are 16 TiB).
pub const ENGINE_MAX_QUBITS: u32 = 40;

/// The most qubits the engine will ever simulate on a stabilizer tableau, whatever the
/// configuration says: a tableau of 32 768 qubits is 512 MiB, and each measurement on it
/// touches all of it.
pub const ENGINE_MAX_STABILIZER_QUBITS: u32 = 32_768;

/// The most classical bits a program may declare. Every distinct outcome is a count key of
/// this many characters, so the keys of a run take at most `max_shots × MAX_CLBITS` bytes
/// (100 MiB with the default 100 000 shots); no real device has more classical bits.
pub const MAX_CLBITS: u64 = 1024;

/// Limits of one backend, from configuration, and the simulation method it pins (if any).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Most qubits a circuit may use on the state vector ([`Method::StateVector`]); bounds
    /// memory at `16 · 2^max_qubits` bytes per state (`8 ·` in single [`Limits::precision`]).
    /// Capped at [`ENGINE_MAX_QUBITS`].
    pub max_qubits: u32,
    /// Most qubits a Clifford circuit may use on the stabilizer method
    /// ([`Method::Stabilizer`]); bounds memory at about `max_stabilizer_qubits² / 2` bytes
    /// (`3/4 · max_stabilizer_qubits²` while the tableau is transposed, or measured with a
    /// column copy of its `x` half).
    /// Capped at [`ENGINE_MAX_STABILIZER_QUBITS`]. 0 turns the method off.
    #[serde(default = "default_max_stabilizer_qubits")]
    pub max_stabilizer_qubits: u32,
    /// The one method this backend runs, or `None` to choose per circuit: the stabilizer
    /// when every operation is Clifford, the state vector otherwise (`crate::method`).
    #[serde(default)]
    pub method: Option<Method>,
    /// The state vector's amplitudes: f64 (the default) or f32 (a run's `precision` option).
    #[serde(default)]
    pub precision: Precision,
    /// Most shots per run (at least 1 shot is always required).
    pub max_shots: u64,
    /// Most operations a circuit may expand to (gates after expanding gate definitions and
    /// register broadcasts, plus measure/reset/barrier).
    pub max_gates: u64,
    /// Largest accepted source, in bytes.
    pub max_source_bytes: usize,
    /// Longest a simulation may run.
    pub time_limit: Duration,
}

impl Default for Limits {
    /// Sized for the default 2-core / 24 GiB machine: 24 qubits is a 256 MiB state vector,
    /// which leaves room for several concurrent runs and the extra states that mid-circuit
    /// measurements may keep (at most one more max-size state's worth, see `sim::branches`).
    fn default() -> Self {
        Self {
            max_qubits: 24,
            max_stabilizer_qubits: DEFAULT_MAX_STABILIZER_QUBITS,
            method: None,
            precision: Precision::Double,
            max_shots: 100_000,
            max_gates: 1_000_000,
            max_source_bytes: 1 << 20,
            time_limit: Duration::from_secs(300),
        }
    }
}

/// The default [`Limits::max_stabilizer_qubits`]: a 10 000-qubit tableau is 48 MiB (72 MiB
/// while it is transposed or measured with a column copy of `x`), and a
/// measurement on it takes about a millisecond.
pub const DEFAULT_MAX_STABILIZER_QUBITS: u32 = 10_000;

fn default_max_stabilizer_qubits() -> u32 {
    DEFAULT_MAX_STABILIZER_QUBITS
}

impl Limits {
    /// The methods this backend runs: the pinned one, or every method with room for at
    /// least one qubit, in [`Method::ALL`] order.
    pub fn methods(&self) -> Vec<Method> {
        Method::ALL
            .into_iter()
            .filter(|&m| self.method.is_none_or(|pinned| pinned == m))
            .filter(|&m| self.max_qubits_for(m) > 0)
            .collect()
    }

    /// The most qubits `method` simulates on this backend (its configured limit, capped by
    /// the engine's own), whether or not the backend runs that method. For `GET
    /// /api/backends`: pair it with [`Limits::methods`].
    pub fn max_qubits_for(&self, method: Method) -> u32 {
        match method {
            Method::StateVector => self.max_qubits.min(ENGINE_MAX_QUBITS),
            Method::Stabilizer => self.max_stabilizer_qubits.min(ENGINE_MAX_STABILIZER_QUBITS),
        }
    }

    /// The widest circuit any method of this backend runs, in qubits: what a front end
    /// admits at a register declaration (the method is chosen once the whole program is
    /// known).
    pub fn max_qubits_any(&self) -> u32 {
        self.methods()
            .into_iter()
            .map(|m| self.max_qubits_for(m))
            .max()
            .unwrap_or(0)
    }

    /// Admits a state vector of `num_qubits` qubits, before anything is allocated.
    /// Errors: [`FailureKind::ResourceLimit`] in `stage`, saying the limit and its memory.
    pub fn admit_qubits(&self, num_qubits: u64, stage: Stage) -> Result<()> {
        self.admit(Method::StateVector, num_qubits, stage)
    }

    /// Admits `num_qubits` qubits for `method`, before anything is allocated. Errors:
    /// [`FailureKind::ResourceLimit`] in `stage`, saying the limit and its memory.
    pub fn admit(&self, method: Method, num_qubits: u64, stage: Stage) -> Result<()> {
        let limit = u64::from(self.max_qubits_for(method));
        if num_qubits <= limit {
            return Ok(());
        }
        Err(EngineError::new(
            FailureKind::ResourceLimit,
            stage,
            format!(
                "circuit uses {num_qubits} qubits; this backend allows at most {}",
                method_limit(method, limit, self.precision)
            ),
        ))
    }

    /// Admits a circuit of `num_qubits` qubits for some method of this backend, before the
    /// rest of the program is known (a register declaration). Errors:
    /// [`FailureKind::ResourceLimit`] in `stage`, saying every method's limit.
    pub fn admit_any(&self, num_qubits: u64, stage: Stage) -> Result<()> {
        if num_qubits <= u64::from(self.max_qubits_any()) {
            return Ok(());
        }
        let limits: Vec<String> = self
            .methods()
            .into_iter()
            .map(|m| method_limit(m, u64::from(self.max_qubits_for(m)), self.precision))
            .collect();
        Err(EngineError::new(
            FailureKind::ResourceLimit,
            stage,
            format!(
                "circuit uses {num_qubits} qubits; this backend allows at most {}",
                limits.join(", or ")
            ),
        ))
    }

    /// Checks a shot count against `1..=max_shots`.
    pub fn check_shots(&self, shots: u64) -> Result<()> {
        if (1..=self.max_shots).contains(&shots) {
            return Ok(());
        }
        Err(EngineError::new(
            FailureKind::Validation,
            Stage::Prepare,
            format!(
                "shots must be between 1 and {}, got {shots}",
                self.max_shots
            ),
        ))
    }

    /// Bytes of saved states a simulation may hold besides its working state (mid-circuit
    /// measurements branch the state): one state of `max_qubits`.
    pub(crate) fn extra_state_budget(&self) -> u64 {
        state_bytes(
            u64::from(self.max_qubits.min(ENGINE_MAX_QUBITS)),
            self.precision.amplitude_bytes(),
        )
    }
}

/// `24 (a state vector of 24 qubits takes 256 MiB)`, `24 (a single-precision state vector
/// of 24 qubits takes 128 MiB)`, `10000 for a Clifford circuit (stabilizer method)`.
fn method_limit(method: Method, limit: u64, precision: Precision) -> String {
    let single = match precision {
        Precision::Double => "",
        Precision::Single => " single-precision",
    };
    match method {
        Method::StateVector => format!(
            "{limit} (a{single} state vector of {limit} qubits takes {})",
            format_bytes(state_bytes(limit, precision.amplitude_bytes()))
        ),
        Method::Stabilizer => format!("{limit} for a Clifford circuit (stabilizer method)"),
    }
}

/// Bytes of a state vector of `num_qubits` qubits of `amplitude_bytes` each (16 or 8;
/// saturating).
pub(crate) fn state_bytes(num_qubits: u64, amplitude_bytes: u64) -> u64 {
    if num_qubits >= 60 {
        u64::MAX
    } else {
        amplitude_bytes << num_qubits
    }
}

fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024 && value.is_multiple_of(1024) && unit + 1 < UNITS.len() {
        value /= 1024;
        unit += 1;
    }
    format!("{value} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits_admit_24_qubits_and_say_the_memory() {
        let limits = Limits::default();
        assert!(limits.admit_qubits(24, Stage::Prepare).is_ok());
        let err = limits.admit_qubits(25, Stage::Execute).unwrap_err();
        assert_eq!(err.kind, FailureKind::ResourceLimit);
        assert_eq!(err.stage, Stage::Execute);
        assert!(err.message.contains("256 MiB"), "{}", err.message);
    }

    #[test]
    fn configured_limit_is_capped_by_the_engine_maximum() {
        let limits = Limits {
            max_qubits: 64,
            ..Limits::default()
        };
        assert!(limits.admit_qubits(40, Stage::Prepare).is_ok());
        assert!(limits.admit_qubits(41, Stage::Prepare).is_err());
    }

    #[test]
    fn each_method_has_its_limit_and_a_pinned_method_is_the_only_one() {
        let limits = Limits::default();
        assert_eq!(
            limits.methods(),
            vec![Method::StateVector, Method::Stabilizer]
        );
        assert_eq!(limits.max_qubits_any(), DEFAULT_MAX_STABILIZER_QUBITS);
        assert!(limits.admit_any(10_000, Stage::Prepare).is_ok());
        let err = limits.admit_any(10_001, Stage::Prepare).unwrap_err();
        assert_eq!(
            err.message,
            "circuit uses 10001 qubits; this backend allows at most 24 (a state vector of 24 \
             qubits takes 256 MiB), or 10000 for a Clifford circuit (stabilizer method)"
        );
        let pinned = Limits {
            method: Some(Method::StateVector),
            ..Limits::default()
        };
        assert_eq!(pinned.methods(), vec![Method::StateVector]);
        assert_eq!(pinned.max_qubits_any(), 24);
        assert!(pinned.admit_any(25, Stage::Prepare).is_err());
        let off = Limits {
            max_stabilizer_qubits: 0,
            ..Limits::default()
        };
        assert_eq!(off.methods(), vec![Method::StateVector]);
        let capped = Limits {
            max_stabilizer_qubits: u32::MAX,
            ..Limits::default()
        };
        assert_eq!(
            capped.max_qubits_for(Method::Stabilizer),
            ENGINE_MAX_STABILIZER_QUBITS
        );
    }

    #[test]
    fn shots_must_be_in_range() {
        let limits = Limits::default();
        assert!(limits.check_shots(1).is_ok());
        assert!(limits.check_shots(100_000).is_ok());
        for bad in [0, 100_001] {
            let err = limits.check_shots(bad).unwrap_err();
            assert_eq!(err.kind, FailureKind::Validation);
        }
    }

    #[test]
    fn state_bytes_saturates() {
        assert_eq!(state_bytes(0, 16), 16);
        assert_eq!(state_bytes(24, 16), 256 << 20);
        assert_eq!(state_bytes(24, 8), 128 << 20);
        assert_eq!(state_bytes(59, 16), 16 << 59);
        assert_eq!(state_bytes(60, 16), u64::MAX);
    }
}
