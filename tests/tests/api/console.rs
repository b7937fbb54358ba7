//! The console as its two hosts serve it: the `console` function (the sample API Gateway event,
//! through `lambda_http`'s request conversion) and `stowage-local` at `/console/`, without a
//! token, while the API beside it still needs one. The page itself is driven in Chromium by
//! `web/console/test/console.test.mjs`.

use stowage_console::{Console, ConsoleSettings};
use stowage_tests::{sample, to_request, TestEnv};

#[test]
fn the_function_answers_its_sample_event_with_the_gzipped_script() {
    let request = to_request(&sample("console.json"));
    let console = Console::new(&ConsoleSettings::default());
    let accept = request
        .headers()
        .get("accept-encoding")
        .and_then(|v| v.to_str().ok());
    let response = console.answer(request.method(), request.uri().path(), accept, None);
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
}

#[tokio::test]
async fn stowage_local_serves_the_console_without_a_token() {
    let env = TestEnv::embedded_with(&[("STOWAGE_CONSOLE_CLIENT_ID", "")]).await;
    let base = env.local_url().unwrap().to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let page = no_redirects
        .get(format!("{base}/console/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<title>Stowage console</title>"));

    let mount = no_redirects
        .get(format!("{base}/console"))
        .send()
        .await
        .unwrap();
    assert_eq!(mount.status(), 308);
    assert_eq!(mount.headers()["location"], "console/");

    let config: serde_json::Value = no_redirects
        .get(format!("{base}/console/config.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["oidc"], serde_json::Value::Null);
    assert_eq!(config["tenantClaim"], "tenant_id");
    // The page offers only what the signed-in person may do; its groups are part of that.
    assert_eq!(config["groupsClaim"], "cognito:groups");

    let missing = no_redirects
        .get(format!("{base}/console/secrets.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let post = no_redirects
        .post(format!("{base}/console/"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);

    // The API beside it is unchanged: no token, no files.
    let files = no_redirects
        .get(format!("{base}/files"))
        .send()
        .await
        .unwrap();
    assert_eq!(files.status(), 401);
}

#[tokio::test]
async fn stowage_local_offers_oidc_sign_in_when_configured() {
    let env = TestEnv::embedded_with(&[
        ("STOWAGE_CONSOLE_CLIENT_ID", "console-app"),
        (
            "STOWAGE_CONSOLE_ISSUER",
            "https://issuer.example/realms/acme",
        ),
        ("STOWAGE_CONSOLE_SCOPE", "openid files:read"),
    ])
    .await;
    let base = env.local_url().unwrap();
    let config: serde_json::Value = reqwest::get(format!("{base}/console/config.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["oidc"]["clientId"], "console-app");
    assert_eq!(
        config["oidc"]["issuer"],
        "https://issuer.example/realms/acme"
    );
    assert_eq!(config["oidc"]["scope"], "openid files:read");
    assert_eq!(config["oidc"]["token"], "access");
}
