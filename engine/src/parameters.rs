//! A run's parameters and the `input` declarations they bind (OpenQASM 3, docs/DESIGN.md
//! §12): what a source declares ([`Input`]) and the check a service makes at submission
//! ([`check_parameters`], [`Input::check`]), with the same rules the lowering applies.

use std::collections::BTreeMap;

/// A run's parameters: values of the source's `input` declarations by name (OpenQASM 3;
/// `"parameters": {"theta": 0.5}` in `POST /api/runs`). Angles are in radians.
pub type Parameters = BTreeMap<String, f64>;

/// One `input` declaration of a source.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Input {
    /// The parameter's name.
    pub name: String,
    /// Its type as declared, e.g. `float[64]`, `angle[32]`, `int`.
    pub ty: String,
}

impl Input {
    /// Checks `value` against the input's type, as [`crate::prepare`] will bind it: `float`
    /// and `angle[n]` take any finite number (an angle in radians, rounded to its width);
    /// `int[n]` an integer in `−2^(n−1) … 2^(n−1)−1` and `uint[n]` one in `0 … 2^n−1`
    /// (without a width: below 2^63 in magnitude, and non-negative for `uint`); `bool` and
    /// `bit` inputs take nothing. Errors: [`ParameterError::Invalid`], naming the parameter,
    /// its type and what it needs (`parameter 'n' is 2.5; input 'n' (int) needs an
    /// integer`).
    pub fn check(&self, value: f64) -> Result<(), ParameterError> {
        crate::qasm3::check_input(&self.ty, value).map_err(|expected| ParameterError::Invalid {
            name: self.name.clone(),
            ty: self.ty.clone(),
            value,
            expected,
        })
    }
}

/// Why a run's parameters do not fit the inputs its source declares. `Display` is the
/// sentence for the caller (a service's 400 `invalid_parameters`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParameterError {
    /// A declared input without a value.
    #[error("missing parameter '{name}' (input {ty} {name})")]
    Missing {
        /// The input's name.
        name: String,
        /// Its declared type.
        ty: String,
    },
    /// A parameter the source does not declare.
    #[error("unknown parameter '{name}': {}", known_inputs(declared))]
    Unknown {
        /// The parameter's name.
        name: String,
        /// The inputs the source declares, in declaration order.
        declared: Vec<String>,
    },
    /// A value its input's type does not take.
    #[error("{}", crate::qasm3::invalid_parameter(name, ty, *value, expected))]
    Invalid {
        /// The parameter's name.
        name: String,
        /// The input's declared type.
        ty: String,
        /// The value given.
        value: f64,
        /// What the type takes, e.g. `an integer`, `a non-negative integer`.
        expected: String,
    },
}

impl ParameterError {
    /// The parameter (or input) the error is about.
    pub fn name(&self) -> &str {
        match self {
            Self::Missing { name, .. }
            | Self::Unknown { name, .. }
            | Self::Invalid { name, .. } => name,
        }
    }
}

fn known_inputs(declared: &[String]) -> String {
    if declared.is_empty() {
        "the circuit declares no input".to_owned()
    } else {
        format!("the circuit declares {}", declared.join(", "))
    }
}

/// Checks a run's `parameters` against the `inputs` its source declares ([`crate::inputs`];
/// none for OpenQASM 2): every input given, nothing else given, each value of its input's
/// type ([`Input::check`]). The first problem is returned, in the order missing (in
/// declaration order), unknown (by name), invalid (in declaration order). Cheap: call it at
/// submission, so that a run [`crate::prepare`] would refuse for its parameters is never
/// created.
pub fn check_parameters(inputs: &[Input], parameters: &Parameters) -> Result<(), ParameterError> {
    if let Some(input) = inputs.iter().find(|i| !parameters.contains_key(&i.name)) {
        return Err(ParameterError::Missing {
            name: input.name.clone(),
            ty: input.ty.clone(),
        });
    }
    if let Some(name) = parameters
        .keys()
        .find(|name| !inputs.iter().any(|i| &i.name == *name))
    {
        return Err(ParameterError::Unknown {
            name: name.clone(),
            declared: inputs.iter().map(|i| i.name.clone()).collect(),
        });
    }
    inputs
        .iter()
        .try_for_each(|input| input.check(parameters[&input.name]))
}
