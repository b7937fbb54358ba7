//! How DynamoDB's answers become store errors, by the SDK's typed errors (never by matching
//! error-code strings), and the retry of the items a batch call leaves unprocessed.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemError, batch_write_item::BatchWriteItemError,
    delete_item::DeleteItemError, get_item::GetItemError, put_item::PutItemError,
    query::QueryError, transact_write_items::TransactWriteItemsError, update_item::UpdateItemError,
};

use crate::store::StoreError;

/// What Stowage needs to know about one operation's error.
pub(super) trait OperationError: std::error::Error + Send + Sync + 'static {
    /// Throttled (provisioned throughput, request limit, throttling) or DynamoDB's own 500.
    fn transient(&self) -> bool;
    /// The write's condition did not hold.
    fn condition_failed(&self) -> bool {
        false
    }
}

macro_rules! transient_when {
    ($($error:ty),*) => {$(
        impl OperationError for $error {
            fn transient(&self) -> bool {
                self.is_provisioned_throughput_exceeded_exception()
                    || self.is_request_limit_exceeded()
                    || self.is_throttling_exception()
                    || self.is_internal_server_error()
            }
        }
    )*};
}

transient_when!(
    GetItemError,
    QueryError,
    BatchGetItemError,
    BatchWriteItemError,
    TransactWriteItemsError
);

macro_rules! conditional_writes {
    ($($error:ty),*) => {$(
        impl OperationError for $error {
            fn transient(&self) -> bool {
                self.is_provisioned_throughput_exceeded_exception()
                    || self.is_request_limit_exceeded()
                    || self.is_throttling_exception()
                    || self.is_internal_server_error()
                    || self.is_transaction_conflict_exception()
            }

            fn condition_failed(&self) -> bool {
                self.is_conditional_check_failed_exception()
            }
        }
    )*};
}

conditional_writes!(PutItemError, DeleteItemError, UpdateItemError);

/// Sorts an SDK failure into the store's error kinds.
pub(super) fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: OperationError,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) if service.err().condition_failed() => StoreError::Conflict,
        SdkError::ServiceError(service) if service.err().transient() => {
            StoreError::Unavailable(Box::new(err))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            StoreError::Unavailable(Box::new(err))
        }
        _ => StoreError::Backend(Box::new(err)),
    }
}

/// Attempts a batch call makes before giving up on items DynamoDB keeps leaving unprocessed.
const UNPROCESSED_ATTEMPTS: u32 = 9;

/// Calls `send` with `pending` until nothing is left unprocessed, backing off between calls
/// (BatchGetItem's `UnprocessedKeys`, BatchWriteItem's `UnprocessedItems`).
pub(super) async fn until_processed<T, F, Fut>(
    mut pending: T,
    is_done: impl Fn(&T) -> bool,
    mut send: F,
) -> Result<(), StoreError>
where
    F: FnMut(T) -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    for attempt in 0..UNPROCESSED_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        pending = send(pending).await?;
        if is_done(&pending) {
            return Ok(());
        }
    }
    Err(StoreError::Unavailable(
        "DynamoDB kept leaving batch items unprocessed".into(),
    ))
}
