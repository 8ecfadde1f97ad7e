//! Reading a run's per-shot memory (`run_memory`, docs/DESIGN.md §2) a page at a time: the
//! page is cut from the stored keys by the database (`substr`), so a page of a run of
//! megabytes reads a page's bytes.

use entity::run_memory::{self, Column};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{EntityTrait, QuerySelect};
use uuid::Uuid;

use super::{Result, Store, StoreError};
use crate::domain::MemoryPage;

impl Store {
    /// Shots `offset .. offset + limit` (fewer at the end) of run `run_id`'s memory, with how
    /// many shots it has; `None` when the run has none stored.
    pub async fn memory_page(
        &self,
        run_id: Uuid,
        offset: u64,
        limit: u64,
    ) -> Result<Option<MemoryPage>> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("run {run_id}: memory {what}"));
        let width: Option<(i32, i64)> = run_memory::Entity::find_by_id(run_id)
            .select_only()
            .column(Column::KeyWidth)
            .column(Column::Shots)
            .into_tuple()
            .one(&self.db)
            .await?;
        let Some((width, shots)) = width else {
            return Ok(None);
        };
        let width = u64::try_from(width).map_err(|_| corrupt("key width"))?;
        let shots = u64::try_from(shots).map_err(|_| corrupt("shots"))?;
        let count = limit.min(shots.saturating_sub(offset));
        let mut keys = Vec::with_capacity(count as usize);
        if count > 0 && width > 0 {
            // substr is 1-based on both databases, and takes PostgreSQL's `integer`s: the
            // stored text is at most `executor.max_memory_bits`-ish characters, far below.
            let start = i32::try_from(offset * width + 1).map_err(|_| corrupt("offset"))?;
            let length = i32::try_from(count * width).map_err(|_| corrupt("length"))?;
            let slice: Option<String> = run_memory::Entity::find_by_id(run_id)
                .select_only()
                .expr(Func::cust("substr").args([
                    Expr::col(Column::Memory),
                    Expr::val(start),
                    Expr::val(length),
                ]))
                .into_tuple()
                .one(&self.db)
                .await?;
            let slice = slice.ok_or_else(|| corrupt("row gone"))?;
            if slice.len() as u64 != length as u64 || !slice.is_ascii() {
                return Err(corrupt("length"));
            }
            keys.extend(
                slice
                    .as_bytes()
                    .chunks(width as usize)
                    .map(|key| String::from_utf8_lossy(key).into_owned()),
            );
        } else {
            keys.resize(count as usize, String::new());
        }
        Ok(Some(MemoryPage {
            shots,
            offset,
            keys,
        }))
    }
}
