//! Circuits and their versions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{circuit_versions, circuits, users};
use sea_orm::sea_query::LikeExpr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::convert::{circuit_from_db, manifest_from_db, version_from_db, visibility_to_db};
use super::{Result, Store, StoreError};
use crate::domain::{Circuit, CircuitSummary, CircuitVersion, Manifest, Visibility};

/// Why a circuit could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateCircuitError {
    #[error("you already have a circuit named `{0}`")]
    NameTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Creates a circuit with its first version.
    pub async fn create_circuit(
        &self,
        owner_id: Uuid,
        name: &str,
        visibility: Visibility,
        source: &str,
        manifest: &Manifest,
    ) -> Result<(Circuit, CircuitVersion), CreateCircuitError> {
        let now = self.clock.now();
        let txn = self.begin_write().await.map_err(StoreError::from)?;
        let inserted = circuits::Entity::insert(circuits::ActiveModel {
            id: Set(Uuid::now_v7()),
            owner_id: Set(owner_id),
            name: Set(name.to_owned()),
            visibility: Set(visibility_to_db(visibility)),
            created_at: Set(now),
        })
        .exec_with_returning(&txn)
        .await
        .map_err(StoreError::from);
        let row = match inserted {
            Ok(row) => row,
            Err(err) if err.unique_violation().is_some() => {
                return Err(CreateCircuitError::NameTaken(name.to_owned()));
            }
            Err(err) => return Err(err.into()),
        };
        let version = insert_version(&txn, row.id, 1, source, manifest, now).await?;
        let owner = owner_handle(&txn, owner_id).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok((circuit_from_db(row, owner), version))
    }

    /// Adds the next version of a circuit.
    pub async fn add_circuit_version(
        &self,
        circuit_id: Uuid,
        source: &str,
        manifest: &Manifest,
    ) -> Result<CircuitVersion> {
        let now = self.clock.now();
        let txn = self.begin_write().await?;
        // Writers of one circuit's versions queue on its row, so each reads the maximum the
        // one before it wrote (SQLite's write lock already serialises them; it has no
        // `FOR UPDATE`, and sea-query leaves the clause out there).
        circuits::Entity::find_by_id(circuit_id)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("circuit {circuit_id} does not exist")))?;
        let latest: Option<i32> = circuit_versions::Entity::find()
            .select_only()
            .column_as(circuit_versions::Column::Version.max(), "max")
            .filter(circuit_versions::Column::CircuitId.eq(circuit_id))
            .into_tuple::<Option<i32>>()
            .one(&txn)
            .await?
            .flatten();
        let version = insert_version(
            &txn,
            circuit_id,
            latest.unwrap_or(0) + 1,
            source,
            manifest,
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(version)
    }

    /// A circuit by its owner's handle and its name.
    pub async fn circuit_by_name(&self, owner: &str, name: &str) -> Result<Option<Circuit>> {
        let key = (owner.to_owned(), name.to_owned());
        if let Some(id) = self.caches.circuit_names.get(&key) {
            return self.circuit(id).await;
        }
        let Some(user) = self.user_by_handle(owner).await? else {
            return Ok(None);
        };
        let found = circuits::Entity::find()
            .filter(circuits::Column::OwnerId.eq(user.id))
            .filter(circuits::Column::Name.eq(name))
            .one(&self.db)
            .await?
            .map(|row| circuit_from_db(row, user.handle));
        if let Some(circuit) = &found {
            self.caches.circuit_names.put(key, circuit.id);
        }
        Ok(found)
    }

    /// A circuit by its id. Its row is read every time: its visibility changes
    /// ([`Store::set_circuit_visibility`], on any node), and every visibility decision reads
    /// it here or in [`Store::circuit_by_name`]; only its owner's handle is kept.
    pub async fn circuit(&self, id: Uuid) -> Result<Option<Circuit>> {
        let Some(row) = circuits::Entity::find_by_id(id).one(&self.db).await? else {
            return Ok(None);
        };
        let owner = self.owner_handle(row.owner_id).await?;
        Ok(Some(circuit_from_db(row, owner)))
    }

    /// A user's handle (handles never change), kept.
    async fn owner_handle(&self, owner_id: Uuid) -> Result<String> {
        if let Some(handle) = self.caches.handles.get(&owner_id) {
            return Ok(handle);
        }
        let handle = owner_handle(&self.db, owner_id).await?;
        self.caches.handles.put(owner_id, handle.clone());
        Ok(handle)
    }

    /// Makes a circuit public or private (its owner's call, checked by the service).
    pub async fn set_circuit_visibility(
        &self,
        circuit_id: Uuid,
        visibility: Visibility,
    ) -> Result<()> {
        circuits::Entity::update_many()
            .set(circuits::ActiveModel {
                visibility: Set(visibility_to_db(visibility)),
                ..Default::default()
            })
            .filter(circuits::Column::Id.eq(circuit_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The circuits of the user `owner_id` (whose handle is `owner_handle`) in name order,
    /// each with its latest version: those whose name contains `search` (as typed: names are
    /// lower-case) if given, named after `after` (the previous page's last name), at most
    /// `limit`. Three queries whatever the page's size.
    pub async fn circuits_of(
        &self,
        owner_id: Uuid,
        owner_handle: &str,
        search: Option<&str>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<CircuitSummary>> {
        let mut query = circuits::Entity::find().filter(circuits::Column::OwnerId.eq(owner_id));
        if let Some(search) = search {
            let escaped: String = search
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            query = query.filter(
                circuits::Column::Name.like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
            );
        }
        if let Some(after) = after {
            query = query.filter(circuits::Column::Name.gt(after));
        }
        let rows = query
            .order_by_asc(circuits::Column::Name)
            .limit(limit)
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let latest: Vec<(Uuid, i32)> = circuit_versions::Entity::find()
            .select_only()
            .column(circuit_versions::Column::CircuitId)
            .column_as(circuit_versions::Column::Version.max(), "latest")
            .filter(circuit_versions::Column::CircuitId.is_in(ids))
            .group_by(circuit_versions::Column::CircuitId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut heads = Condition::any();
        for (id, version) in &latest {
            heads = heads.add(
                Condition::all()
                    .add(circuit_versions::Column::CircuitId.eq(*id))
                    .add(circuit_versions::Column::Version.eq(*version)),
            );
        }
        let heads: HashMap<Uuid, (i32, serde_json::Value, DateTime<Utc>)> =
            circuit_versions::Entity::find()
                .select_only()
                .column(circuit_versions::Column::CircuitId)
                .column(circuit_versions::Column::Version)
                .column(circuit_versions::Column::Manifest)
                .column(circuit_versions::Column::CreatedAt)
                .filter(heads)
                .into_tuple::<(Uuid, i32, serde_json::Value, DateTime<Utc>)>()
                .all(&self.db)
                .await?
                .into_iter()
                .map(|(id, version, manifest, at)| (id, (version, manifest, at)))
                .collect();
        rows.into_iter()
            .map(|row| {
                let (version, manifest, updated_at) = heads.get(&row.id).ok_or_else(|| {
                    StoreError::Corrupt(format!("circuit {} has no version", row.id))
                })?;
                Ok(CircuitSummary {
                    latest_version: *version,
                    manifest: manifest_from_db(row.id, *version, manifest)?,
                    updated_at: *updated_at,
                    circuit: circuit_from_db(row, owner_handle.to_owned()),
                })
            })
            .collect()
    }

    /// One version of a circuit, or its latest when `version` is `None`.
    pub async fn circuit_version(
        &self,
        circuit_id: Uuid,
        version: Option<i32>,
    ) -> Result<Option<CircuitVersion>> {
        if let Some(v) = version
            && let Some(cached) = self.caches.versions.get(&(circuit_id, v))
        {
            return Ok(Some(cached));
        }
        let mut query = circuit_versions::Entity::find()
            .filter(circuit_versions::Column::CircuitId.eq(circuit_id));
        if let Some(v) = version {
            query = query.filter(circuit_versions::Column::Version.eq(v));
        }
        let found = query
            .order_by_desc(circuit_versions::Column::Version)
            .one(&self.db)
            .await?
            .map(version_from_db)
            .transpose()?;
        if let Some(found) = &found {
            let key = (found.circuit_id, found.version);
            self.caches.versions.put(key, found.clone());
        }
        Ok(found)
    }
}

async fn insert_version(
    txn: &DatabaseTransaction,
    circuit_id: Uuid,
    version: i32,
    source: &str,
    manifest: &Manifest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CircuitVersion> {
    let row = circuit_versions::Entity::insert(circuit_versions::ActiveModel {
        circuit_id: Set(circuit_id),
        version: Set(version),
        source: Set(source.to_owned()),
        manifest: Set(json!({"framework": manifest.framework, "format": manifest.format})),
        created_at: Set(now),
    })
    .exec_with_returning(txn)
    .await?;
    version_from_db(row)
}

async fn owner_handle(db: &impl sea_orm::ConnectionTrait, owner_id: Uuid) -> Result<String> {
    users::Entity::find_by_id(owner_id)
        .one(db)
        .await?
        .map(|u| u.handle)
        .ok_or_else(|| StoreError::Corrupt(format!("circuit owner {owner_id} does not exist")))
}
