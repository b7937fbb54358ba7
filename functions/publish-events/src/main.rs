//! The table stream's second reader as a Lambda function: every change of a file record
//! published as a file event to the EventBridge bus named by `STOWAGE_EVENT_BUS`.

#[tokio::main]
async fn main() -> Result<(), stowage::lambda_http::Error> {
    stowage::bootstrap::run_records_changed().await
}
