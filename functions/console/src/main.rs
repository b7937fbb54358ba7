//! `GET /console` and `GET /console/{proxy+}` as a Lambda function: the console's page and
//! assets (built into the binary) and its `config.json`, without the JWT authorizer; the page
//! signs people in and calls the API with their token.

use stowage::lambda_http::{self, Body, Request, Response};
use stowage_console::{Console, ConsoleSettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    stowage::bootstrap::init_lambda_tracing();
    // The API's claim names, from their one reader, so the page names what the API reads.
    let claims = stowage::config::claim_names(|name| std::env::var(name).ok())?;
    let settings = ConsoleSettings {
        groups_claim: claims.groups.clone(),
        ..ConsoleSettings::from_env(&claims.tenant, &claims.user)?
    };
    let console: &'static Console = Box::leak(Box::new(Console::new(&settings)));
    lambda_http::run(lambda_http::service_fn(move |request: Request| async move {
        Ok::<_, lambda_http::Error>(answer(console, &request))
    }))
    .await
}

fn answer(console: &Console, request: &Request) -> Response<Body> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let response = console.answer(
        request.method(),
        request.uri().path(),
        header("accept-encoding"),
        header("if-none-match"),
    );
    response.map(Body::Binary)
}
