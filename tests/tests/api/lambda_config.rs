//! The Lambda functions' SDK configuration (`bootstrap::sdk_config_from`, which
//! `lambda_sdk_config` reads Lambda's variables with): its own client (rustls on ring) reaches
//! DynamoDB and S3 with the role's credentials from the variables, the region falls back to
//! `AWS_DEFAULT_REGION`, and a missing variable stops the start naming it.

use std::collections::HashMap;

fn lambda_vars(drop: &[&str]) -> HashMap<String, String> {
    [
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_SESSION_TOKEN", "session".to_owned()),
        ("AWS_REGION", "eu-west-1".to_owned()),
        ("AWS_ENDPOINT_URL", stowage_tests::moto_endpoint()),
    ]
    .into_iter()
    .filter(|(name, _)| !drop.contains(name))
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

#[tokio::test]
async fn lambda_sdk_config_reaches_the_services_and_names_what_is_missing() {
    use aws_credential_types::provider::ProvideCredentials as _;

    let vars = lambda_vars(&[]);
    let sdk = stowage::bootstrap::sdk_config_from(|name| vars.get(name).cloned()).unwrap();
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
    let credentials = sdk
        .credentials_provider()
        .unwrap()
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(credentials.access_key_id(), "testing");
    assert_eq!(credentials.session_token(), Some("session"));
    aws_sdk_dynamodb::Client::new(&sdk)
        .list_tables()
        .send()
        .await
        .expect("DynamoDB through the functions' own client");
    stowage::bootstrap::s3_client(&sdk, true)
        .list_buckets()
        .send()
        .await
        .expect("S3 through the same client");

    let mut vars = lambda_vars(&["AWS_REGION"]);
    vars.insert("AWS_DEFAULT_REGION".into(), "us-east-2".into());
    let sdk = stowage::bootstrap::sdk_config_from(|name| vars.get(name).cloned()).unwrap();
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-east-2"));

    for missing in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
        let mut vars = lambda_vars(&[missing]);
        // Blank is as good as missing.
        if missing == "AWS_SECRET_ACCESS_KEY" {
            vars.insert(missing.into(), "  ".into());
        }
        let err = stowage::bootstrap::sdk_config_from(|name| vars.get(name).cloned())
            .expect_err(missing)
            .to_string();
        assert!(err.contains(missing), "{missing}: {err}");
    }
}
