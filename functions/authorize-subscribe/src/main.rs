//! The AppSync Events API's subscribe guard (realtime), the `stowage` channel namespace's
//! `onSubscribe` handler: a subscriber may subscribe only to its own channels, the ones
//! `GET /realtime` lists for its token.

#[tokio::main]
async fn main() -> Result<(), stowage::lambda_http::Error> {
    stowage::bootstrap::run_authorize_subscribe().await
}
