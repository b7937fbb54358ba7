//! The folder tree on DynamoDB: the first path key of a range (one item read, from a keys-only
//! path index or the explicit folder items), the records below a folder (for a folder move),
//! and explicitly created folders.

use super::schema::{
    file_id_of, path_partition, s, tenant_pk, FOLDER_SK_PREFIX, PATH_ORDER, PK, SK,
};
use super::sdk::classify;
use super::DynamoStore;
use crate::model::{FileId, FileRecord, TenantId};
use crate::store::{folder_key, folder_range_end, PathSource, StoreError};

impl DynamoStore {
    /// The first key of `source` in `[lo, hi)`: a `Query` of one item.
    pub(super) async fn first_key(
        &self,
        tenant: &TenantId,
        source: &PathSource,
        lo: &str,
        hi: &str,
    ) -> Result<Option<String>, StoreError> {
        if lo >= hi {
            return Ok(None);
        }
        // `BETWEEN` is inclusive; no key equals `hi` (file keys end with an id, folder keys
        // with `/`, and `hi` ends with neither).
        let request = self.client.query().table_name(&self.table).limit(1);
        let (request, attribute) = match path_partition(tenant, source) {
            Some((index, attribute, value)) => (
                request
                    .index_name(index)
                    .key_condition_expression("#h = :h AND #o BETWEEN :lo AND :hi")
                    .expression_attribute_names("#h", attribute)
                    .expression_attribute_names("#o", PATH_ORDER)
                    .expression_attribute_values(":h", s(value))
                    .expression_attribute_values(":lo", s(lo))
                    .expression_attribute_values(":hi", s(hi)),
                PATH_ORDER,
            ),
            None => (
                request
                    .consistent_read(true)
                    .key_condition_expression("#h = :h AND #o BETWEEN :lo AND :hi")
                    .expression_attribute_names("#h", PK)
                    .expression_attribute_names("#o", SK)
                    .expression_attribute_values(":h", s(tenant_pk(tenant)))
                    .expression_attribute_values(":lo", s(format!("{FOLDER_SK_PREFIX}{lo}")))
                    .expression_attribute_values(":hi", s(format!("{FOLDER_SK_PREFIX}{hi}"))),
                SK,
            ),
        };
        let output = request.send().await.map_err(classify)?;
        let key = output
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|item| item.get(attribute)?.as_s().ok().cloned())
            .map(|key| {
                key.strip_prefix(FOLDER_SK_PREFIX)
                    .filter(|_| attribute == SK)
                    .map_or(key.clone(), str::to_owned)
            });
        Ok(key)
    }

    /// The records whose path key starts with `prefix`, past `after`: the keys from the
    /// tenant's path index, then the records by a consistent batch read.
    pub(super) async fn below(
        &self,
        tenant: &TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Option<FileRecord>)>, bool), StoreError> {
        let (index, attribute, value) =
            path_partition(tenant, &PathSource::All).ok_or(StoreError::Conflict)?;
        let lo = match after {
            // No key extends another, so the next key after `after` is at least this.
            Some(after) => format!("{after}\u{1}"),
            None => prefix.to_owned(),
        };
        let hi = folder_range_end(prefix);
        if lo >= hi {
            return Ok((Vec::new(), false));
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#h = :h AND #o BETWEEN :lo AND :hi")
            .expression_attribute_names("#h", attribute)
            .expression_attribute_names("#o", PATH_ORDER)
            .expression_attribute_values(":h", s(value))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .limit(i32::try_from(limit.clamp(1, 1_000)).unwrap_or(1_000))
            .send()
            .await
            .map_err(classify)?;
        let keys: Vec<(String, FileId)> = output
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                let key = item.get(PATH_ORDER)?.as_s().ok()?.clone();
                Some((key, file_id_of(item)?))
            })
            .collect();
        let ids: Vec<FileId> = keys.iter().map(|(_, id)| *id).collect();
        let mut records: std::collections::HashMap<FileId, FileRecord> = self
            .get_records(tenant, &ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let found = keys
            .into_iter()
            .map(|(key, id)| (key, records.remove(&id)))
            .collect();
        Ok((found, output.last_evaluated_key.is_some()))
    }

    /// Puts an explicit folder's item unless it exists.
    pub(super) async fn store_folder(
        &self,
        tenant: &TenantId,
        path: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(tenant_pk(tenant)))
            .item(SK, s(format!("{FOLDER_SK_PREFIX}{}", folder_key(path))))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Deletes an explicit folder's item if it exists.
    pub(super) async fn remove_folder(
        &self,
        tenant: &TenantId,
        path: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(tenant)))
            .key(SK, s(format!("{FOLDER_SK_PREFIX}{}", folder_key(path))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// The explicit folders at or below `path`, following every page.
    pub(super) async fn explicit_below(
        &self,
        tenant: &TenantId,
        path: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut folders = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#h = :h AND begins_with(#o, :prefix)")
                .expression_attribute_names("#h", PK)
                .expression_attribute_names("#o", SK)
                .expression_attribute_values(":h", s(tenant_pk(tenant)))
                .expression_attribute_values(
                    ":prefix",
                    s(format!("{FOLDER_SK_PREFIX}{}", folder_key(path))),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            for item in output.items.unwrap_or_default() {
                if let Some(key) = item.get(SK).and_then(|v| v.as_s().ok()) {
                    if let Some(prefix) = key.strip_prefix(FOLDER_SK_PREFIX) {
                        folders.push(prefix.trim_end_matches('/').to_owned());
                    }
                }
            }
            match output.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(folders),
            }
        }
    }
}
