//! Thumbnails as a Lambda function: each `stowage.file.uploaded` event of an image (from the
//! file events bus) makes that file's 64, 256 and 1024 px thumbnails.

#[tokio::main]
async fn main() -> Result<(), stowage::lambda_http::Error> {
    stowage::bootstrap::run_thumbnails().await
}
