//! Per-tenant request limits in the table: counter items `pk = L#<t>`, `sk = <window>#<shard>`,
//! [`REQUEST_SHARDS`] per tenant and window, removed by TTL a minute after their window
//! (`store::requests` has the design). They are outside the tenant's `T#` partition and the
//! stream functions' filters, so no stream function runs for them.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::conditional::rand_below;
use super::schema::{key, n, Item, TTL_ATTRIBUTE};
use super::sdk::classify;
use super::DynamoStore;
use crate::keys::encode_tenant;
use crate::model::{TenantId, Timestamp};
use crate::store::requests::window_of;
use crate::store::{
    Admitted, RequestLimits, RequestTicket, StoreError, REQUEST_SHARDS, REQUEST_WINDOW_SECONDS,
};

const STARTED: &str = "started";
const RUNNING: &str = "running";
/// Seconds a window's counters are kept after it ends.
const KEPT_SECONDS: i64 = 60;

/// The partition of a tenant's request counters.
pub(crate) fn requests_pk(tenant: &TenantId) -> String {
    format!("L#{}", encode_tenant(tenant))
}

fn counter_key(tenant: &TenantId, window: i64, shard: u32) -> Item {
    key(requests_pk(tenant), format!("{window}#{shard}"))
}

fn number(item: Option<&Item>, attribute: &str) -> u64 {
    item.and_then(|i| i.get(attribute))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl DynamoStore {
    pub(super) async fn count_request(
        &self,
        tenant: &TenantId,
        limits: RequestLimits,
        now: Timestamp,
    ) -> Result<Admitted, StoreError> {
        let (window, left) = window_of(now);
        let shard = rand_below(REQUEST_SHARDS);
        let started_share = limits
            .per_window()
            .map(|max| RequestLimits::share(max, REQUEST_SHARDS));
        let running_share = limits
            .concurrent
            .map(|max| RequestLimits::share(u64::from(max), REQUEST_SHARDS));
        let mut conditions = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(counter_key(tenant, window, shard)))
            .update_expression("ADD #started :one, #running :one SET #ttl = :ttl")
            .expression_attribute_names("#started", STARTED)
            .expression_attribute_names("#running", RUNNING)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(
                ":ttl",
                n((window + 1) * REQUEST_WINDOW_SECONDS + KEPT_SECONDS),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(share) = started_share {
            conditions.push("(attribute_not_exists(#started) OR #started < :started)");
            update = update.expression_attribute_values(":started", n(share));
        }
        if let Some(share) = running_share {
            conditions.push("(attribute_not_exists(#running) OR #running < :running)");
            update = update.expression_attribute_values(":running", n(share));
        }
        if !conditions.is_empty() {
            update = update.condition_expression(conditions.join(" AND "));
        }
        match update.send().await {
            Ok(_) => Ok(Admitted::Yes(RequestTicket {
                tenant: tenant.clone(),
                window,
                shard,
            })),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                let UpdateItemError::ConditionalCheckFailedException(failed) = service.err() else {
                    unreachable!("matched above");
                };
                let old = failed.item();
                // The window's allowance is spent until it ends; a running request ends soon.
                let spent = started_share.is_some_and(|share| number(old, STARTED) >= share);
                Ok(Admitted::No {
                    retry_after_seconds: if spent { left } else { 1 },
                })
            }
            Err(err) => Err(classify(err)),
        }
    }

    pub(super) async fn end_counted_request(
        &self,
        ticket: &RequestTicket,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(counter_key(
                &ticket.tenant,
                ticket.window,
                ticket.shard,
            )))
            .update_expression("ADD #running :minus")
            .expression_attribute_names("#running", RUNNING)
            .expression_attribute_values(":minus", n(-1))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}
