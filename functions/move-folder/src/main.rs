//! `POST /folders/move` as a Lambda function.

#[tokio::main]
async fn main() -> Result<(), stowage::lambda_http::Error> {
    stowage::bootstrap::run_route::<stowage::http::MoveFolder>().await
}
