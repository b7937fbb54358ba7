//! The S3 `ObjectCreated:*` handler as a Lambda function: marks records uploaded.

#[tokio::main]
async fn main() -> Result<(), stowage::lambda_http::Error> {
    stowage::bootstrap::run_object_created().await
}
