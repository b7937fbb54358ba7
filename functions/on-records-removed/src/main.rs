//! The table-stream handler as a Lambda function: deletes the bytes of removed records.

#[tokio::main]
async fn main() -> Result<(), stowage::lambda_http::Error> {
    stowage::bootstrap::run_records_removed().await
}
