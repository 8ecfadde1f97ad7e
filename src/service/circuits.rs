//! Circuits: create with a first version, add versions, read.
//!
//! An OpenQASM source is checked for syntax on upload (a 400 with `line:col`); limits are
//! checked at submission (`admission`), because they belong to the backend a run chooses. A `python` source
//! (framework code for a runner, docs/DESIGN.md §12) is stored as text and never parsed or run
//! here: only a sandboxed command backend executes it. When a command backend takes the
//! source's OpenQASM version, its runner is the judge of what it accepts (Aer runs `while`,
//! `delay`, … that qrun's engine refuses): the engine's refusal then does not refuse the
//! upload, and the built-in simulator refuses such a source when a run chooses it.

use super::runs::CircuitRef;
use super::{Service, ServiceError};
use crate::domain::circuit::validate_circuit_name;
use crate::domain::qpy;
use crate::domain::{Circuit, CircuitSummary, CircuitVersion, Manifest, User, Visibility};
use crate::store::circuits::CreateCircuitError;

/// The formats a circuit may be uploaded in: every format qrun knows.
pub const UPLOAD_FORMATS: [&str; 4] = crate::config::FORMATS;

/// The format must be one qrun executes and the framework one of `executor.frameworks`.
fn check_manifest(manifest: &Manifest, frameworks: &[String]) -> Result<(), ServiceError> {
    if !UPLOAD_FORMATS.contains(&manifest.format.as_str()) {
        return Err(ServiceError::invalid(
            "invalid_manifest",
            format!(
                "manifest.format must be one of {}, not `{}`",
                UPLOAD_FORMATS.join(", "),
                manifest.format
            ),
        ));
    }
    if !frameworks.contains(&manifest.framework) {
        return Err(ServiceError::invalid(
            "invalid_manifest",
            format!(
                "manifest.framework must be one of {}",
                frameworks.join(", ")
            ),
        ));
    }
    Ok(())
}

impl Service {
    /// Syntax and name checks only: resource errors pass, since the backend a run chooses
    /// decides those. The expansion is bounded by the largest `max_gates` any configured
    /// simulator accepts (past it the circuit could never run anyway), and it runs on the blocking
    /// pool: a small source whose gate definitions nest into millions of operations costs a
    /// bounded amount of work, off the threads that serve requests.
    ///
    /// An OpenQASM 3 source's `input` parameters are bound to 0, a value of every input type:
    /// the check is of the program, whatever a run will bind.
    ///
    /// When a command backend lists `format`, the engine's verdict is not the upload's: that
    /// backend's runner reads the source with its own parser (Qiskit's importer takes
    /// `while` and `delay`, which the engine refuses) and reports a mistake with its line
    /// when a run executes it (exit 65, docs/DESIGN.md §5); a run on the built-in simulator
    /// is refused at submission with the engine's `LINE:COL` (`admission`).
    ///
    /// A `qpy` source must be base64 of a QPY file (400 `invalid_source` otherwise,
    /// [`qpy::decode`]); its runner loads it.
    async fn check_source(&self, source: &str, format: &str) -> Result<(), ServiceError> {
        if format == qpy::FORMAT {
            return qpy::decode(source)
                .map(|_| ())
                .map_err(|message| ServiceError::invalid("invalid_source", message));
        }
        let Some(engine_format) = qrun_engine::Format::from_manifest(format) else {
            return Ok(()); // python: a runner's to read, never this service's
        };
        if self.rules.runner_reads(format) {
            return Ok(());
        }
        let format = engine_format;
        let max_gates = self.rules.source_check_max_gates;
        let limits = qrun_engine::Limits {
            // As wide as the engine goes by either method: a backend's own limits are
            // checked when a run chooses it (`admission`).
            max_qubits: qrun_engine::ENGINE_MAX_QUBITS,
            max_stabilizer_qubits: qrun_engine::ENGINE_MAX_STABILIZER_QUBITS,
            method: None,
            precision: qrun_engine::Precision::Double,
            max_shots: 1,
            max_gates,
            max_source_bytes: usize::MAX,
            time_limit: std::time::Duration::from_secs(60),
        };
        let source = source.to_owned();
        let prepared = tokio::task::spawn_blocking(move || {
            let parameters = qrun_engine::inputs(&source, format)?
                .into_iter()
                .map(|input| (input.name, 0.0))
                .collect();
            qrun_engine::prepare(&source, format, &parameters, 1, &limits).map(|_| ())
        })
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("checking the source: {e}")))?;
        match prepared {
            Ok(()) => Ok(()),
            Err(e) if e.kind == qrun_engine::FailureKind::ResourceLimit => Ok(()),
            Err(e) => Err(ServiceError::invalid(
                "invalid_source",
                match e.position {
                    Some(p) => format!("{}:{}: {}", p.line, p.col, e.message),
                    None => e.message,
                },
            )),
        }
    }

    /// Creates a circuit owned by `user` with its first version.
    pub async fn create_circuit(
        &self,
        user: &User,
        name: &str,
        visibility: Visibility,
        source: &str,
        manifest: &Manifest,
    ) -> Result<(Circuit, CircuitVersion), ServiceError> {
        validate_circuit_name(name)
            .map_err(|e| ServiceError::invalid("invalid_name", e.to_string()))?;
        check_manifest(manifest, &self.rules.frameworks)?;
        self.check_source(source, &manifest.format).await?;
        self.store
            .create_circuit(user.id, name, visibility, source, manifest)
            .await
            .map_err(|e| match e {
                CreateCircuitError::NameTaken(name) => ServiceError::Conflict {
                    code: "name_taken",
                    message: format!("you already have a circuit named `{name}`"),
                },
                CreateCircuitError::Store(err) => err.into(),
            })
    }

    /// Adds a version to `owner/name`; only its owner may.
    pub async fn add_circuit_version(
        &self,
        user: &User,
        owner: &str,
        name: &str,
        source: &str,
        manifest: &Manifest,
    ) -> Result<(Circuit, CircuitVersion), ServiceError> {
        let reference = CircuitRef::Name {
            owner: owner.to_owned(),
            name: name.to_owned(),
        };
        let circuit = self.resolve_circuit(Some(user), &reference).await?;
        if circuit.owner_id != user.id {
            return Err(ServiceError::Forbidden(
                "only the circuit's owner may add versions".into(),
            ));
        }
        check_manifest(manifest, &self.rules.frameworks)?;
        self.check_source(source, &manifest.format).await?;
        let version = self
            .store
            .add_circuit_version(circuit.id, source, manifest)
            .await?;
        Ok((circuit, version))
    }

    /// Makes `owner/name` public or private; only its owner may, as for adding a version.
    /// Errors: `NotFound("circuit")` for a circuit `user` may not see (as for reading it),
    /// `Forbidden` for another's public one.
    pub async fn set_circuit_visibility(
        &self,
        user: &User,
        owner: &str,
        name: &str,
        visibility: Visibility,
    ) -> Result<Circuit, ServiceError> {
        let reference = CircuitRef::Name {
            owner: owner.to_owned(),
            name: name.to_owned(),
        };
        let mut circuit = self.resolve_circuit(Some(user), &reference).await?;
        if circuit.owner_id != user.id {
            return Err(ServiceError::Forbidden(
                "only the circuit's owner may change its visibility".into(),
            ));
        }
        self.store
            .set_circuit_visibility(circuit.id, visibility)
            .await?;
        circuit.visibility = visibility;
        Ok(circuit)
    }

    /// `user`'s circuits in name order, each with its latest version: those whose name
    /// contains `search` if given, named after `after` (the previous page's last); up to
    /// `limit`, and whether there are more.
    pub async fn circuits_of(
        &self,
        user: &User,
        search: Option<&str>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<(Vec<CircuitSummary>, bool), ServiceError> {
        let mut page = self
            .store
            .circuits_of(user.id, &user.handle, search, after, limit + 1)
            .await?;
        let more = page.len() as u64 > limit;
        page.truncate(limit as usize);
        Ok((page, more))
    }

    /// A circuit with its latest version, as `viewer` may see it.
    pub async fn circuit(
        &self,
        viewer: Option<&User>,
        owner: &str,
        name: &str,
    ) -> Result<(Circuit, CircuitVersion), ServiceError> {
        let reference = CircuitRef::Name {
            owner: owner.to_owned(),
            name: name.to_owned(),
        };
        let circuit = self.resolve_circuit(viewer, &reference).await?;
        let version = self
            .store
            .circuit_version(circuit.id, None)
            .await?
            .ok_or_else(|| {
                ServiceError::Internal(anyhow::anyhow!("circuit {} has no version", circuit.id))
            })?;
        Ok((circuit, version))
    }
}

impl Service {
    /// A circuit as `viewer` may see it with one of its versions (`None`: the latest), and
    /// the number of its latest version. Errors: `NotFound("circuit")` for a circuit the
    /// viewer may not see, exactly as for one that does not exist; `NotFound("circuit
    /// version")` for a version it does not have.
    pub async fn circuit_at(
        &self,
        viewer: Option<&User>,
        owner: &str,
        name: &str,
        version: Option<i32>,
    ) -> Result<(Circuit, CircuitVersion, i32), ServiceError> {
        let (circuit, latest) = self.circuit(viewer, owner, name).await?;
        let newest = latest.version;
        let shown = match version {
            None => latest,
            Some(v) if v == newest => latest,
            Some(v) => self
                .store
                .circuit_version(circuit.id, Some(v))
                .await?
                .ok_or(ServiceError::NotFound("circuit version"))?,
        };
        Ok((circuit, shown, newest))
    }
}
