//! `POST /folders` as a Lambda function.

#[tokio::main]
async fn main() -> Result<(), stowage::lambda_http::Error> {
    stowage::bootstrap::run_route::<stowage::http::CreateFolder>().await
}
