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

/// A local HTTP server that answers every request `500` and counts them.
async fn failing_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 65536];
                let mut request = Vec::new();
                // One request per connection; its body is small (an empty ListTables).
                while let Ok(n) = stream.read(&mut buffer).await {
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some(head) = text.find("\r\n\r\n") {
                        let length = text[..head]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= head + 4 + length {
                            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let _ = stream
                                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}")
                                .await;
                            request.clear();
                        }
                    }
                }
            });
        }
    });
    (url, count)
}

/// The SDK's own settings that apply on Lambda: each service's endpoint
/// variable before `AWS_ENDPOINT_URL`, `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`, FIPS and dual-stack
/// endpoints, the number of attempts and the retry mode; bad values and settings the
/// functions do not read stop the start naming the variable.
#[tokio::test]
async fn the_sdks_own_settings_are_honoured_or_refused_by_name() {
    let sdk_of = |vars: &HashMap<String, String>| {
        stowage::bootstrap::sdk_config_from(|name| vars.get(name).cloned())
    };
    // DynamoDB's own endpoint is moto; everything else points at a port nobody listens on.
    let mut vars = lambda_vars(&[]);
    vars.insert("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into());
    vars.insert(
        "AWS_ENDPOINT_URL_DYNAMODB".into(),
        stowage_tests::moto_endpoint(),
    );
    vars.insert("AWS_MAX_ATTEMPTS".into(), "1".into());
    let sdk = sdk_of(&vars).unwrap();
    aws_sdk_dynamodb::Client::new(&sdk)
        .list_tables()
        .send()
        .await
        .expect("DynamoDB at its own endpoint");
    assert!(
        stowage::bootstrap::s3_client(&sdk, true)
            .list_buckets()
            .send()
            .await
            .is_err(),
        "S3 has no endpoint of its own: AWS_ENDPOINT_URL"
    );
    // S3's own endpoint, as its presigned URLs show.
    vars.insert(
        "AWS_ENDPOINT_URL_S3".into(),
        "http://s3.example.test:4566".into(),
    );
    let presigned = presigned_host(&sdk_of(&vars).unwrap()).await;
    assert!(
        presigned.starts_with("http://s3.example.test:4566/"),
        "{presigned}"
    );
    // Ignoring configured endpoints: AWS's own (FIPS and dual-stack ones when asked for).
    let mut aws = lambda_vars(&["AWS_ENDPOINT_URL"]);
    aws.insert(
        "AWS_ENDPOINT_URL_S3".into(),
        "http://s3.example.test:4566".into(),
    );
    aws.insert("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS".into(), "true".into());
    let url = presigned_host(&sdk_of(&aws).unwrap()).await;
    assert!(
        url.starts_with("https://s3.eu-west-1.amazonaws.com/"),
        "{url}"
    );
    aws.insert("AWS_USE_FIPS_ENDPOINT".into(), "true".into());
    let url = presigned_host(&sdk_of(&aws).unwrap()).await;
    assert!(
        url.starts_with("https://s3-fips.eu-west-1.amazonaws.com/"),
        "{url}"
    );
    aws.remove("AWS_USE_FIPS_ENDPOINT");
    aws.insert("AWS_USE_DUALSTACK_ENDPOINT".into(), "TRUE".into());
    let url = presigned_host(&sdk_of(&aws).unwrap()).await;
    assert!(
        url.starts_with("https://s3.dualstack.eu-west-1.amazonaws.com/"),
        "{url}"
    );

    // Attempts: a server that always fails is asked AWS_MAX_ATTEMPTS times (3 by default).
    let (url, count) = failing_server().await;
    for (attempts, expected) in [(None, 3), (Some("1"), 1), (Some("2"), 2)] {
        let mut vars = lambda_vars(&[]);
        vars.insert("AWS_ENDPOINT_URL".into(), url.clone());
        if let Some(attempts) = attempts {
            vars.insert("AWS_MAX_ATTEMPTS".into(), attempts.into());
        }
        count.store(0, std::sync::atomic::Ordering::SeqCst);
        let sdk = sdk_of(&vars).unwrap();
        assert!(aws_sdk_dynamodb::Client::new(&sdk)
            .list_tables()
            .send()
            .await
            .is_err());
        assert_eq!(
            count.load(std::sync::atomic::Ordering::SeqCst),
            expected,
            "{attempts:?}"
        );
    }
    let mut vars = lambda_vars(&[]);
    vars.insert("AWS_RETRY_MODE".into(), "adaptive".into());
    assert_eq!(
        sdk_of(&vars).unwrap().retry_config().unwrap().mode(),
        aws_config::retry::RetryMode::Adaptive
    );
    vars.insert("AWS_RETRY_MODE".into(), "Standard".into());
    assert_eq!(
        sdk_of(&vars).unwrap().retry_config().unwrap().mode(),
        aws_config::retry::RetryMode::Standard
    );

    for (name, value) in [
        ("AWS_RETRY_MODE", "legacy"),
        ("AWS_MAX_ATTEMPTS", "0"),
        ("AWS_MAX_ATTEMPTS", "three"),
        ("AWS_USE_FIPS_ENDPOINT", "yes"),
        ("AWS_USE_DUALSTACK_ENDPOINT", "1"),
        ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "on"),
        ("AWS_PROFILE", "prod"),
        ("AWS_CONFIG_FILE", "/etc/aws/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/etc/aws/credentials"),
    ] {
        let mut vars = lambda_vars(&[]);
        vars.insert(name.into(), value.into());
        let err = sdk_of(&vars).expect_err(name).to_string();
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}

/// A presigned GET's URL from the functions' S3 client on `sdk` (virtual-hosted style off, so
/// the host is the endpoint's).
async fn presigned_host(sdk: &aws_config::SdkConfig) -> String {
    stowage::bootstrap::s3_client(sdk, true)
        .get_object()
        .bucket("b")
        .key("k")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(
                60,
            ))
            .unwrap(),
        )
        .await
        .unwrap()
        .uri()
        .to_owned()
}
