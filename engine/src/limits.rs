//! Per-backend resource limits and the admission checks built on them.
//!
//! Memory admission is by qubit count: a state vector of `n` qubits holds `2^n` complex f64
//! amplitudes, `16 · 2^n` bytes. The check runs before anything is allocated, both when a
//! program is prepared and again when it is simulated (the program may have been prepared
//! under other limits).

use std::time::Duration;

use crate::error::{EngineError, FailureKind, Result, Stage};

/// The most qubits the engine will ever simulate, whatever the configuration says
/// (2^40 amplitudes are 16 TiB).
pub const ENGINE_MAX_QUBITS: u32 = 40;

/// The most classical bits a program may declare. Every distinct outcome is a count key of
/// this many characters, so the keys of a run take at most `max_shots × MAX_CLBITS` bytes
/// (100 MiB with the default 100 000 shots); no real device has more classical bits.
pub const MAX_CLBITS: u64 = 1024;

/// Limits of one backend, from configuration.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Most qubits a circuit may use; bounds memory at `16 · 2^max_qubits` bytes per state.
    pub max_qubits: u32,
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
            max_shots: 100_000,
            max_gates: 1_000_000,
            max_source_bytes: 1 << 20,
            time_limit: Duration::from_secs(300),
        }
    }
}

impl Limits {
    /// Admits a state vector of `num_qubits` qubits, before anything is allocated.
    pub fn admit_qubits(&self, num_qubits: u64, stage: Stage) -> Result<()> {
        let limit = u64::from(self.max_qubits.min(ENGINE_MAX_QUBITS));
        if num_qubits <= limit {
            return Ok(());
        }
        Err(EngineError::new(
            FailureKind::ResourceLimit,
            stage,
            format!(
                "circuit uses {num_qubits} qubits; this backend allows at most {limit} \
                 (a state vector of {limit} qubits takes {})",
                format_bytes(state_bytes(limit))
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
        state_bytes(u64::from(self.max_qubits.min(ENGINE_MAX_QUBITS)))
    }
}

/// Bytes of a state vector of `num_qubits` qubits (saturating).
pub(crate) fn state_bytes(num_qubits: u64) -> u64 {
    if num_qubits >= 60 {
        u64::MAX
    } else {
        16 << num_qubits
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
        assert_eq!(state_bytes(0), 16);
        assert_eq!(state_bytes(24), 256 << 20);
        assert_eq!(state_bytes(59), 16 << 59);
        assert_eq!(state_bytes(60), u64::MAX);
    }
}
