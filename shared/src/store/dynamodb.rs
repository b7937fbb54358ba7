//! DynamoDB adapter: records go through `serde_dynamo`, keys follow `crate::keys`, and every
//! write is conditional.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::{MetadataStore, StoreError};
use crate::keys::{file_sk, tenant_pk};
use crate::model::{FileId, FileRecord, TenantId};

/// The table's partition key attribute.
pub const PK: &str = "pk";
/// The table's sort key attribute.
pub const SK: &str = "sk";
/// The table's TTL attribute: epoch seconds.
pub const TTL_ATTRIBUTE: &str = "expiresAtEpoch";

/// File records in one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store on `table`, using a client built once at start-up.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    fn key(tenant: &TenantId, id: FileId) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(tenant_pk(tenant))),
            (SK.to_owned(), AttributeValue::S(file_sk(id))),
        ])
    }

    fn to_item(record: &FileRecord) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let mut item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(record).map_err(|e| StoreError::Backend(Box::new(e)))?;
        item.extend(Self::key(&record.tenant, record.id));
        if let Some(at) = record.expires_at {
            item.insert(
                TTL_ATTRIBUTE.to_owned(),
                AttributeValue::N(at.epoch_seconds_ceil().to_string()),
            );
        }
        Ok(item)
    }

    fn from_item(mut item: HashMap<String, AttributeValue>) -> Result<FileRecord, StoreError> {
        for attribute in [PK, SK, TTL_ATTRIBUTE] {
            item.remove(attribute);
        }
        serde_dynamo::from_item(item).map_err(|e| StoreError::Backend(Box::new(e)))
    }
}

/// Sorts an SDK failure into the store's error kinds by the SDK's typed metadata.
fn classify<E>(err: SdkError<E>, is_condition_failed: impl Fn(&E) -> bool) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) if is_condition_failed(service.err()) => {
            StoreError::Conflict
        }
        SdkError::ServiceError(service)
            if matches!(
                service.err().code(),
                Some(
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                )
            ) =>
        {
            StoreError::Unavailable(Box::new(err))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            StoreError::Unavailable(Box::new(err))
        }
        _ => StoreError::Backend(Box::new(err)),
    }
}

#[async_trait]
impl MetadataStore for DynamoStore {
    async fn get(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(tenant, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(e, |_| false))?;
        output.item.map(Self::from_item).transpose()
    }

    async fn insert(&self, record: &FileRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::to_item(record)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(|e| classify(e, |e| e.is_conditional_check_failed_exception()))?;
        Ok(())
    }

    async fn replace(&self, record: &FileRecord, expected_version: u64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::to_item(record)?))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(expected_version.to_string()),
            )
            .send()
            .await
            .map_err(|e| classify(e, |e| e.is_conditional_check_failed_exception()))?;
        Ok(())
    }
}
