//! The publish worker as a Lambda function: brings public copies in step, any size.

#[tokio::main]
async fn main() -> Result<(), stowage::lambda_http::Error> {
    stowage::bootstrap::run_publish_requested().await
}
