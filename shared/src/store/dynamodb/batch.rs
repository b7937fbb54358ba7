//! Batch reads and writes: tag pointers written and deleted 25 at a time, records read 100 at
//! a time, each retried while DynamoDB leaves items unprocessed.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};

use super::schema::{backend, pointer_item, pointer_key, record_from_item, record_key, Item};
use super::sdk::{classify, until_processed};
use super::DynamoStore;
use crate::model::{FileId, FileRecord, TenantId};
use crate::store::StoreError;

/// DynamoDB's limit on the requests of one `BatchWriteItem`.
const MAX_BATCH_WRITE: usize = 25;
/// DynamoDB's limit on the keys of one `BatchGetItem`.
const MAX_BATCH_GET: usize = 100;

impl DynamoStore {
    /// Writes (or deletes) the pointers of `record` in the partitions `pks` (tags' and
    /// grantees'), 25 at a time.
    pub(super) async fn write_pointers<'a>(
        &self,
        record: &FileRecord,
        pks: impl IntoIterator<Item = &'a String>,
        delete: bool,
    ) -> Result<(), StoreError> {
        let requests = pks
            .into_iter()
            .map(|pk| {
                let request = if delete {
                    let key = pointer_key(record, pk);
                    let delete = DeleteRequest::builder().set_key(Some(key)).build();
                    WriteRequest::builder().delete_request(delete.map_err(backend)?)
                } else {
                    let item = pointer_item(record, pk);
                    let put = PutRequest::builder().set_item(Some(item)).build();
                    WriteRequest::builder().put_request(put.map_err(backend)?)
                };
                Ok(request.build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        for chunk in requests.chunks(MAX_BATCH_WRITE) {
            until_processed(chunk.to_vec(), Vec::is_empty, |pending| async move {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default())
            })
            .await?;
        }
        Ok(())
    }

    /// The records with these ids (consistent reads), in the order of `ids`; missing ones are
    /// left out.
    pub(super) async fn get_records(
        &self,
        tenant: &TenantId,
        ids: &[FileId],
    ) -> Result<Vec<FileRecord>, StoreError> {
        let mut found = HashMap::<FileId, FileRecord>::new();
        for chunk in ids.chunks(MAX_BATCH_GET) {
            let keys: Vec<Item> = chunk.iter().map(|id| record_key(tenant, *id)).collect();
            for item in self.get_items(keys).await? {
                let record = record_from_item(item)?;
                found.insert(record.id, record);
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// The items at these keys (at most 100; consistent reads, unprocessed keys asked again),
    /// in no particular order; missing ones are left out.
    pub(super) async fn get_items(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let found = std::sync::Mutex::new(Vec::<Item>::new());
        until_processed(keys, Vec::is_empty, |pending| {
            let found = &found;
            async move {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(backend)?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(classify)?;
                found
                    .lock()
                    .map_err(|_| StoreError::Backend("poisoned".into()))?
                    .extend(
                        output
                            .responses
                            .and_then(|mut by_table| by_table.remove(&self.table))
                            .unwrap_or_default(),
                    );
                Ok(output
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&self.table))
                    .map(|left| left.keys)
                    .unwrap_or_default())
            }
        })
        .await?;
        found
            .into_inner()
            .map_err(|_| StoreError::Backend("poisoned".into()))
    }
}
