//! The template, the route table and the function crates must agree.

use std::collections::BTreeSet;

use stowage::http::ROUTES;
use stowage_tests::{template, REPO_ROOT};

#[test]
fn template_http_routes_equal_the_route_table() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut from_template = BTreeSet::new();
    let mut console = BTreeSet::new();
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        // `sam build` runs the Makefile's `build-<LogicalId>`, which copies the bootstrap of
        // the crate the logical id names: `CreateFileFunction` → `create-file`.
        assert_eq!(
            resource["Metadata"]["BuildMethod"].as_str(),
            Some("makefile")
        );
        let logical = name.as_str().unwrap();
        let mut kebab = String::new();
        let stem = logical
            .strip_suffix("Function")
            .expect("a function's logical id ends in Function");
        for (at, c) in stem.chars().enumerate() {
            if c.is_ascii_uppercase() && at > 0 {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        }
        assert_eq!(
            kebab, binary,
            "the Makefile builds {logical} from functions/{kebab}"
        );
        // The subscribe guard has no events: AppSync calls it.
        for (_, event) in resource["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"].as_str() == Some("HttpApi") {
                let props = &event["Properties"];
                let path = props["Path"].as_str().unwrap();
                let open = props["Auth"]["Authorizer"].as_str() == Some("NONE");
                if binary == "console" {
                    // The console's page is public (it holds no data; its API calls carry the
                    // person's token); every other route is behind the JWT authorizer.
                    console.insert((
                        props["Method"].as_str().unwrap().to_owned(),
                        path.to_owned(),
                    ));
                    assert!(open, "the console's {path} must not need a token");
                    continue;
                }
                assert!(!open, "{binary} serves {path} without the authorizer");
                from_template.insert((
                    props["Method"].as_str().unwrap().to_owned(),
                    props["Path"].as_str().unwrap().to_owned(),
                    binary.clone(),
                ));
            }
        }
    }
    let from_code: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| {
            (
                r.method.as_str().to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
            )
        })
        .collect();
    assert_eq!(from_template, from_code);
    assert_eq!(
        console,
        BTreeSet::from([
            ("GET".to_owned(), "/console".to_owned()),
            ("GET".to_owned(), "/console/{proxy+}".to_owned())
        ])
    );
}

#[test]
fn every_function_in_the_template_has_its_crate() {
    let template = template();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let manifest = format!("{REPO_ROOT}/functions/{binary}/Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|_| panic!("{name:?} builds {binary}, but {manifest} is missing"));
        assert!(text.contains(&format!("name = \"{binary}\"")), "{manifest}");
    }
}

#[test]
fn the_table_has_the_keys_and_ttl_the_code_uses() {
    let template = template();
    let props = &template["Resources"]["FilesTable"]["Properties"];
    let keys: Vec<(&str, &str)> = props["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            (stowage::store::dynamodb::PK, "HASH"),
            (stowage::store::dynamodb::SK, "RANGE")
        ]
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(stowage::store::dynamodb::TTL_ATTRIBUTE)
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
}

#[test]
fn no_policy_grants_scan_or_wildcard_actions() {
    let text = std::fs::read_to_string(format!("{REPO_ROOT}/template.yaml")).unwrap();
    assert!(!text.contains("dynamodb:Scan"));
    let template = template();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let Some(policies) = resource["Properties"]["Policies"].as_sequence() else {
            continue;
        };
        for policy in policies {
            for statement in policy["Statement"].as_sequence().into_iter().flatten() {
                let actions: Vec<&str> = match &statement["Action"] {
                    serde_yaml::Value::String(a) => vec![a.as_str()],
                    serde_yaml::Value::Sequence(list) => {
                        list.iter().filter_map(|a| a.as_str()).collect()
                    }
                    other => panic!("{name:?}: unexpected Action {other:?}"),
                };
                for action in actions {
                    assert!(!action.contains('*'), "{name:?} grants {action}");
                }
            }
        }
    }
}

#[test]
fn every_route_has_a_sample_event_that_names_it() {
    for route in ROUTES {
        let event = stowage_tests::sample(&format!("{}.json", route.function));
        assert_eq!(
            event["routeKey"].as_str(),
            Some(format!("{} {}", route.method, route.path).as_str()),
            "events/{}.json",
            route.function
        );
        let request = stowage_tests::to_request(&event);
        assert_eq!(request.method().as_str(), route.method.as_str());
    }
}

/// Every `Allow` statement in the template: the functions' policies and resource policies.
fn allow_statements(template: &serde_yaml::Value) -> Vec<(String, serde_yaml::Value)> {
    let mut found = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap().to_owned();
        let mut documents = Vec::new();
        if let Some(policies) = resource["Properties"]["Policies"].as_sequence() {
            documents.extend(policies.iter().cloned());
        }
        if resource["Properties"]["PolicyDocument"].is_mapping() {
            documents.push(resource["Properties"]["PolicyDocument"].clone());
        }
        for document in documents {
            for statement in document["Statement"].as_sequence().into_iter().flatten() {
                if statement["Effect"].as_str() == Some("Allow") {
                    found.push((name.clone(), statement.clone()));
                }
            }
        }
    }
    found
}

#[test]
fn no_policy_allows_wildcard_actions_or_scan() {
    let template = template();
    let statements = allow_statements(&template);
    assert!(statements.len() > 16, "every function has a policy");
    for (resource, statement) in statements {
        let actions: Vec<String> = match &statement["Action"] {
            serde_yaml::Value::String(one) => vec![one.clone()],
            serde_yaml::Value::Sequence(many) => many
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
            other => panic!("{resource}: unexpected Action {other:?}"),
        };
        for action in actions {
            assert!(!action.contains('*'), "{resource} allows {action}");
            assert_ne!(action, "dynamodb:Scan", "{resource}: listing must Query");
        }
    }
}

#[test]
fn the_table_declares_exactly_the_indexes_the_code_reads() {
    let template = template();
    let props = &template["Resources"]["FilesTable"]["Properties"];
    let declared: BTreeSet<(String, String)> = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|index| {
            let hash = index["KeySchema"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|k| k["KeyType"].as_str() == Some("HASH"))
                .unwrap();
            (
                index["IndexName"].as_str().unwrap().to_owned(),
                hash["AttributeName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let read: BTreeSet<(String, String)> = stowage::store::dynamodb::indexes()
        .into_iter()
        .map(|(name, attribute)| (name.to_owned(), attribute.to_owned()))
        .collect();
    assert_eq!(declared, read);
}

#[test]
fn the_stream_function_reports_partial_batch_failures() {
    let template = template();
    let event = &template["Resources"]["OnRecordsRemovedFunction"]["Properties"]["Events"]
        ["Removed"]["Properties"];
    assert_eq!(
        event["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
    assert_eq!(event["BisectBatchOnFunctionError"].as_bool(), Some(true));
    assert!(!event["DestinationConfig"]["OnFailure"]["Destination"].is_null());
}

#[test]
fn scopes_and_throttling_are_parameters_of_the_stack() {
    let template = template();
    let parameters = &template["Parameters"];
    for name in [
        "RequireScopes",
        "ThrottlingRateLimit",
        "ThrottlingBurstLimit",
    ] {
        assert!(parameters[name].is_mapping(), "parameter {name}");
    }
    assert_eq!(
        parameters["RequireScopes"]["Default"].as_str(),
        Some("false")
    );
    let env = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert!(!env["STOWAGE_REQUIRE_SCOPES"].is_null());
    let api = &template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"];
    assert!(!api["ThrottlingRateLimit"].is_null() && !api["ThrottlingBurstLimit"].is_null());
}

/// File events on AWS: the table's stream carries old and new images to at most two readers (the
/// cleanup and the event publisher, each reporting partial batch failures, each with an
/// on-failure queue); the publisher may only put events on the stack's own bus; the webhook is
/// EventBridge's own delivery, and only when `WebhookUrl` is set.
#[test]
fn file_events_flow_from_the_stream_to_the_bus_and_the_webhook() {
    let template = template();
    let resources = &template["Resources"];
    assert_eq!(
        resources["FilesTable"]["Properties"]["StreamSpecification"]["StreamViewType"].as_str(),
        Some("NEW_AND_OLD_IMAGES")
    );
    let mut readers = Vec::new();
    for (name, resource) in resources.as_mapping().unwrap() {
        for (_, event) in resource["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"].as_str() == Some("DynamoDB") {
                let props = &event["Properties"];
                assert_eq!(
                    props["FunctionResponseTypes"][0].as_str(),
                    Some("ReportBatchItemFailures"),
                    "{name:?}"
                );
                assert!(
                    intrinsic(
                        &props["DestinationConfig"]["OnFailure"]["Destination"],
                        "GetAtt"
                    )
                    .is_some_and(|arn| arn.ends_with("FailedQueue.Arn")),
                    "{name:?}"
                );
                readers.push(name.as_str().unwrap().to_owned());
            }
        }
    }
    readers.sort();
    assert_eq!(
        readers,
        ["OnRecordsRemovedFunction", "PublishEventsFunction"]
    );

    let publisher = &resources["PublishEventsFunction"]["Properties"];
    assert_eq!(
        intrinsic(
            &publisher["Environment"]["Variables"]["STOWAGE_EVENT_BUS"],
            "Ref"
        ),
        Some("FileEventsBus")
    );
    let statements = publisher["Policies"][0]["Statement"].as_sequence().unwrap();
    assert_eq!(statements.len(), 3, "the bus, the policies' reads, AppSync");
    assert_eq!(statements[0]["Action"].as_str(), Some("events:PutEvents"));
    assert_eq!(
        intrinsic(&statements[0]["Resource"], "GetAtt"),
        Some("FileEventsBus.Arn")
    );

    for name in [
        "WebhookConnection",
        "WebhookDestination",
        "WebhookRule",
        "WebhookRole",
        "WebhookDeadLetterQueue",
        "WebhookDeadLetterQueuePolicy",
    ] {
        assert_eq!(
            resources[name]["Condition"].as_str(),
            Some("HasWebhook"),
            "{name} exists only with a webhook"
        );
    }
    let connection = &resources["WebhookConnection"]["Properties"];
    assert_eq!(
        connection["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"].as_str(),
        Some("x-stowage-webhook-secret")
    );
    let target = &resources["WebhookRule"]["Properties"]["Targets"][0];
    assert_eq!(
        intrinsic(&target["DeadLetterConfig"]["Arn"], "GetAtt"),
        Some("WebhookDeadLetterQueue.Arn")
    );
    assert!(target["RetryPolicy"]["MaximumRetryAttempts"].as_u64() > Some(0));
}

/// The argument of a short-form intrinsic (`!Ref X`, `!GetAtt X.Arn`) named `function`.
fn intrinsic<'a>(value: &'a serde_yaml::Value, function: &str) -> Option<&'a str> {
    match value {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == function => tagged.value.as_str(),
        _ => None,
    }
}

/// Whether an EventBridge `pattern` matches `event`, for the operators the template uses: a list
/// of exact values, and `{prefix: {equals-ignore-case: …}}`.
fn matches(pattern: &serde_yaml::Value, event: &serde_json::Value) -> bool {
    pattern.as_mapping().unwrap().iter().all(|(field, wanted)| {
        let value = &event[field.as_str().unwrap()];
        match wanted {
            serde_yaml::Value::Mapping(_) => matches(wanted, value),
            serde_yaml::Value::Sequence(options) => options.iter().any(|option| {
                if let Some(text) = option.as_str() {
                    return value.as_str() == Some(text);
                }
                let prefix = option["prefix"]["equals-ignore-case"]
                    .as_str()
                    .expect("only the operators this test knows");
                value
                    .as_str()
                    .is_some_and(|v| v.to_lowercase().starts_with(&prefix.to_lowercase()))
            }),
            other => panic!("unexpected pattern {other:?}"),
        }
    })
}

#[test]
fn thumbnails_are_made_by_their_own_function_for_images_whose_content_landed() {
    let template = template();
    let function = &template["Resources"]["MakeThumbnailsFunction"]["Properties"];
    assert_eq!(
        intrinsic(&function["MemorySize"], "Ref"),
        Some("ThumbnailMemorySize")
    );
    let default_memory = template["Parameters"]["ThumbnailMemorySize"]["Default"]
        .as_u64()
        .unwrap();
    assert!(
        default_memory
            > template["Globals"]["Function"]["MemorySize"]
                .as_u64()
                .unwrap(),
        "more memory than the API functions"
    );
    let rule = &function["Events"]["Uploaded"]["Properties"];
    assert_eq!(
        intrinsic(&rule["EventBusName"], "Ref"),
        Some("FileEventsBus")
    );
    let pattern = &rule["Pattern"];
    let sample = |kind: &str, mime: &str, status: &str| {
        let path = format!("{REPO_ROOT}/events/file-events/stowage.file.{kind}.json");
        let mut event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event["detail"]["file"]["mimeType"] = mime.into();
        event["detail"]["file"]["status"] = status.into();
        event
    };
    for (kind, mime, status, wanted) in [
        ("uploaded", "image/png", "uploaded", true),
        ("uploaded", "IMAGE/JPEG", "uploaded", true),
        // A re-upload landing keeps the status: an update.
        ("updated", "image/webp", "uploaded", true),
        ("updated", "image/webp", "pending", false),
        ("uploaded", "application/pdf", "uploaded", false),
        ("created", "image/png", "pending", false),
        ("failed", "image/png", "failed", false),
        ("deleted", "image/png", "uploaded", false),
    ] {
        assert_eq!(
            matches(pattern, &sample(kind, mime, status)),
            wanted,
            "{kind} {mime} {status}"
        );
    }
    // The function's input type reads what the bus delivers.
    let delivered: aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value> =
        serde_json::from_value(sample("uploaded", "image/png", "uploaded")).unwrap();
    assert_eq!(delivered.detail["tenant"], "acme");

    // It reads records and objects and writes only thumbnails (and public copies of them).
    for (name, statement) in allow_statements(&template) {
        if name != "MakeThumbnailsFunction" {
            continue;
        }
        let actions: Vec<&str> = match &statement["Action"] {
            serde_yaml::Value::Sequence(list) => list.iter().filter_map(|a| a.as_str()).collect(),
            single => vec![single.as_str().unwrap()],
        };
        for action in actions {
            assert!(
                [
                    "dynamodb:GetItem",
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:ListBucket"
                ]
                .contains(&action),
                "{action}"
            );
        }
    }
}

/// `stowage-local` answers CORS as the stack does: the HTTP API's `CorsConfiguration` for the
/// API, the bucket's rule for the S3 endpoint (and the public copies). Origins are the one
/// `CorsAllowedOrigins` parameter on both, as `STOWAGE_CORS_ORIGINS` is locally.
#[test]
fn local_cors_is_the_templates() {
    let template = template();
    let strings = |value: &serde_yaml::Value| -> Vec<String> {
        value
            .as_sequence()
            .unwrap_or_else(|| panic!("a list: {value:?}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let owned = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();

    let api = &template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"];
    let local = &stowage_local::API_CORS;
    assert_eq!(
        intrinsic(&api["AllowOrigins"], "Ref"),
        Some("CorsAllowedOrigins")
    );
    assert_eq!(strings(&api["AllowMethods"]), owned(local.allow_methods));
    assert_eq!(
        Some(strings(&api["AllowHeaders"])),
        local.allow_headers.map(owned)
    );
    assert_eq!(strings(&api["ExposeHeaders"]), owned(local.expose_headers));
    assert_eq!(
        api["MaxAge"].as_u64(),
        Some(u64::from(local.max_age_seconds))
    );

    let rules = template["Resources"]["FilesBucket"]["Properties"]["CorsConfiguration"]
        ["CorsRules"]
        .as_sequence()
        .unwrap();
    assert_eq!(rules.len(), 1, "one rule, as stowage-local has");
    let bucket = &rules[0];
    let local = &stowage_local::BUCKET_CORS;
    assert_eq!(
        intrinsic(&bucket["AllowedOrigins"], "Ref"),
        Some("CorsAllowedOrigins")
    );
    assert_eq!(
        strings(&bucket["AllowedMethods"]),
        owned(local.allow_methods)
    );
    assert_eq!(strings(&bucket["AllowedHeaders"]), ["*"]);
    assert_eq!(local.allow_headers, None, "any requested header, as \"*\"");
    assert_eq!(
        strings(&bucket["ExposedHeaders"]),
        owned(local.expose_headers)
    );
    assert_eq!(
        bucket["MaxAge"].as_u64(),
        Some(u64::from(local.max_age_seconds))
    );
}

/// Each route's function hands the bootstrap that route's own handler (the handlers are named
/// as the route ids), so no function answers another route or links its code.
#[test]
fn each_route_function_runs_its_own_handler() {
    for route in ROUTES {
        let main = format!("{REPO_ROOT}/functions/{}/src/main.rs", route.function);
        let text = std::fs::read_to_string(&main).unwrap_or_else(|e| panic!("{main}: {e}"));
        let call = format!(
            "stowage::bootstrap::run_route::<stowage::http::{:?}>()",
            route.id
        );
        assert!(text.contains(&call), "{main} calls {call}");
    }
}

#[test]
fn public_files_are_served_sandboxed_and_unsniffed() {
    // The same headers stowage-local puts on every object and public answer.
    let template = template();
    let resources = &template["Resources"];
    let behaviour = &resources["PublicFilesDistribution"]["Properties"]["DistributionConfig"]
        ["DefaultCacheBehavior"];
    let policy_name = intrinsic(&behaviour["ResponseHeadersPolicyId"], "Ref")
        .expect("the public files' cache behaviour names a response headers policy");
    let security = &resources[policy_name]["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"];
    let [(csp, csp_value), (nosniff, nosniff_value)] = stowage::blob::CONTENT_SECURITY_HEADERS;
    assert_eq!(
        (csp, nosniff),
        ("content-security-policy", "x-content-type-options")
    );
    assert_eq!(
        security["ContentSecurityPolicy"]["ContentSecurityPolicy"].as_str(),
        Some(csp_value)
    );
    assert_eq!(
        security["ContentSecurityPolicy"]["Override"].as_bool(),
        Some(true)
    );
    assert_eq!(nosniff_value, "nosniff");
    assert_eq!(
        security["ContentTypeOptions"]["Override"].as_bool(),
        Some(true)
    );
}

/// Realtime on AWS: an AppSync Events API whose connections and subscriptions take
/// the HTTP API's OIDC tokens and whose publishes need IAM; Stowage's namespace runs the
/// subscribe guard (the authorize-subscribe function, through a data source whose role may
/// invoke only it); publish-events may publish to that namespace only; GET /realtime names the
/// API's endpoints.
#[test]
fn realtime_subscriptions_are_guarded_and_only_publish_events_publishes() {
    let template = template();
    let resources = &template["Resources"];
    let api = &resources["RealtimeApi"];
    assert_eq!(api["Type"].as_str(), Some("AWS::AppSync::Api"));
    let config = &api["Properties"]["EventConfig"];
    let modes = |value: &serde_yaml::Value| -> Vec<String> {
        value
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| m["AuthType"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(modes(&config["ConnectionAuthModes"]), ["OPENID_CONNECT"]);
    assert_eq!(
        modes(&config["DefaultSubscribeAuthModes"]),
        ["OPENID_CONNECT"]
    );
    assert_eq!(modes(&config["DefaultPublishAuthModes"]), ["AWS_IAM"]);
    let oidc = config["AuthProviders"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["AuthType"].as_str() == Some("OPENID_CONNECT"))
        .unwrap();
    // The same issuer as the HTTP API, in both identity modes (scripts/check_deploy.py checks
    // each mode of the transformed template).
    let api_auth = &resources["HttpApi"]["Properties"]["Auth"]["Authorizers"]["JwtAuthorizer"];
    assert_eq!(
        oidc["OpenIDConnectConfig"]["Issuer"], api_auth["JwtConfiguration"]["issuer"],
        "the same issuer as the HTTP API"
    );

    let namespace = &resources["RealtimeNamespace"]["Properties"];
    assert_eq!(
        namespace["Name"].as_str(),
        Some(stowage::realtime::NAMESPACE)
    );
    assert_eq!(modes(&namespace["SubscribeAuthModes"]), ["OPENID_CONNECT"]);
    assert_eq!(modes(&namespace["PublishAuthModes"]), ["AWS_IAM"]);
    let guard = &namespace["HandlerConfigs"]["OnSubscribe"];
    assert_eq!(guard["Behavior"].as_str(), Some("DIRECT"));
    assert_eq!(
        guard["Integration"]["LambdaConfig"]["InvokeType"].as_str(),
        Some("REQUEST_RESPONSE"),
        "the guard's answer decides the subscription"
    );
    assert_eq!(
        intrinsic(&guard["Integration"]["DataSourceName"], "GetAtt"),
        Some("RealtimeGuardDataSource.Name")
    );
    let source = &resources["RealtimeGuardDataSource"]["Properties"];
    assert_eq!(
        intrinsic(&source["LambdaConfig"]["LambdaFunctionArn"], "GetAtt"),
        Some("AuthorizeSubscribeFunction.Arn")
    );
    assert_eq!(
        resources["AuthorizeSubscribeFunction"]["Metadata"]["BuildProperties"]["Binary"].as_str(),
        Some("authorize-subscribe")
    );
    let role = &resources["RealtimeGuardRole"]["Properties"];
    let invoke = &role["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(invoke.as_sequence().unwrap().len(), 1);
    assert_eq!(invoke[0]["Action"].as_str(), Some("lambda:InvokeFunction"));
    assert_eq!(
        intrinsic(&invoke[0]["Resource"], "GetAtt"),
        Some("AuthorizeSubscribeFunction.Arn")
    );

    let publisher = &resources["PublishEventsFunction"]["Properties"];
    let statements = publisher["Policies"][0]["Statement"].as_sequence().unwrap();
    let publish = statements
        .iter()
        .find(|s| s["Action"].as_str() == Some("appsync:EventPublish"))
        .expect("publish-events may publish");
    assert_eq!(
        intrinsic(&publish["Resource"], "Sub"),
        Some("${RealtimeApi.ApiArn}/channelNamespace/stowage")
    );
    assert_eq!(
        intrinsic(
            &publisher["Environment"]["Variables"]["STOWAGE_REALTIME_PUBLISH_URL"],
            "Sub"
        ),
        Some("https://${RealtimeApi.Dns.Http}/event")
    );
    // Nobody else may publish.
    for (name, resource) in resources.as_mapping().unwrap() {
        if name.as_str() == Some("PublishEventsFunction") {
            continue;
        }
        assert!(
            !format!("{:?}", resource["Properties"]["Policies"]).contains("appsync:"),
            "{name:?}"
        );
    }
    let realtime = &resources["GetRealtimeFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        intrinsic(&realtime["STOWAGE_REALTIME_URL"], "Sub"),
        Some("wss://${RealtimeApi.Dns.Realtime}/event/realtime")
    );
    assert_eq!(
        intrinsic(&realtime["STOWAGE_REALTIME_HOST"], "GetAtt"),
        Some("RealtimeApi.Dns.Http")
    );
}

/// Operations: every function has an Errors and a Throttles alarm, every queue a
/// not-empty alarm (under the queue's own condition), the HTTP API a 5xx-rate alarm and the
/// table throttle alarms; each alarm goes to the AlarmTopic, which AlarmEmail subscribes to
/// when set; and the dashboard's body is JSON.
#[test]
fn every_function_and_queue_has_its_alarms_and_the_dashboard_is_json() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let alarms: Vec<&serde_yaml::Value> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .collect();
    for alarm in &alarms {
        let props = &alarm["Properties"];
        assert_eq!(
            intrinsic(&props["AlarmActions"][0], "Ref"),
            Some("AlarmTopic"),
            "{props:?}"
        );
        assert_eq!(intrinsic(&props["OKActions"][0], "Ref"), Some("AlarmTopic"));
        assert!(props["AlarmDescription"]
            .as_str()
            .is_some_and(|d| d.len() > 20));
    }
    let alarm_on = |namespace: &str, metric: &str, dimension: &str, target: &str| {
        alarms
            .iter()
            .filter(|a| {
                let p = &a["Properties"];
                p["Namespace"].as_str() == Some(namespace)
                    && p["MetricName"].as_str() == Some(metric)
                    && p["Dimensions"][0]["Name"].as_str() == Some(dimension)
                    && (intrinsic(&p["Dimensions"][0]["Value"], "Ref") == Some(target)
                        || intrinsic(&p["Dimensions"][0]["Value"], "GetAtt")
                            == Some(&format!("{target}.QueueName")))
            })
            .copied()
            .collect::<Vec<_>>()
    };
    let mut functions = 0;
    let mut queues = 0;
    for (name, resource) in resources {
        let name = name.as_str().unwrap();
        match resource["Type"].as_str() {
            Some("AWS::Serverless::Function") => {
                functions += 1;
                for metric in ["Errors", "Throttles"] {
                    let found = alarm_on("AWS/Lambda", metric, "FunctionName", name);
                    assert_eq!(found.len(), 1, "{name} has no {metric} alarm");
                    assert_eq!(found[0]["Condition"], resource["Condition"], "{name}");
                }
            }
            Some("AWS::SQS::Queue") => {
                queues += 1;
                let found = alarm_on(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    name,
                );
                assert_eq!(found.len(), 1, "{name} has no not-empty alarm");
                assert_eq!(found[0]["Condition"], resource["Condition"], "{name}");
                assert_eq!(found[0]["Properties"]["Threshold"].as_u64(), Some(0));
            }
            _ => {}
        }
    }
    assert!(
        functions >= 32 && queues >= 5,
        "{functions} functions, {queues} queues"
    );
    for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
        assert_eq!(
            alarm_on("AWS/DynamoDB", metric, "TableName", "FilesTable").len(),
            1
        );
    }
    let rate = &resources["HttpApi5xxRateAlarm"]["Properties"];
    let metrics = format!("{:?}", rate["Metrics"]);
    assert!(metrics.contains("5xx") && metrics.contains("Count") && metrics.contains("HttpApi"));

    assert_eq!(
        template["Parameters"]["AlarmEmail"]["Default"].as_str(),
        Some("")
    );
    let subscription = &resources["AlarmEmailSubscription"];
    assert_eq!(subscription["Condition"].as_str(), Some("HasAlarmEmail"));
    assert_eq!(
        intrinsic(&subscription["Properties"]["Endpoint"], "Ref"),
        Some("AlarmEmail")
    );

    let body = intrinsic(
        &resources["Dashboard"]["Properties"]["DashboardBody"],
        "Sub",
    )
    .expect("a !Sub body");
    let substituted = regex_free_substitute(body);
    let parsed: serde_json::Value = serde_json::from_str(&substituted)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}\n{substituted}"));
    assert!(parsed["widgets"].as_array().unwrap().len() >= 6);
}

/// `${Name}` replaced by `Name`, as CloudFormation substitutes a value.
fn regex_free_substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${") + start;
        out.push_str(&rest[start + 2..end].replace(':', "-"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}
