//! The precision of a state vector's amplitudes (docs/DESIGN.md §5), by Qiskit Aer's
//! `precision` option.

/// The floating-point type of a state vector's amplitudes: `"double"` (f64 parts, 16 bytes
/// per amplitude, the default) or `"single"` (f32 parts, 8 bytes: half the memory and half
/// the bytes each pass moves, about 7 significant digits, so probabilities are good to
/// about 1e-6 after thousands of gates). The stabilizer method is exact and has none.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f64 real and imaginary parts (`"double"`).
    #[default]
    Double,
    /// f32 real and imaginary parts (`"single"`).
    Single,
}

impl Precision {
    /// Both precisions, by [`Precision::as_str`]'s names.
    pub const ALL: [Precision; 2] = [Precision::Double, Precision::Single];

    /// The name Qiskit Aer gives it: `"double"` or `"single"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Double => "double",
            Self::Single => "single",
        }
    }

    /// The precision named `name` (as [`Precision::as_str`] writes it); `None` for any other.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Bytes per amplitude: 16 or 8.
    pub fn amplitude_bytes(self) -> u64 {
        match self {
            Self::Double => 16,
            Self::Single => 8,
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
