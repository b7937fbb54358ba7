//! `openapi.yaml` is the published contract: its operations must be exactly the route table's
//! (and so the template's, see `template.rs`), and every operation must document the answers
//! that every route can give.

use std::collections::BTreeSet;

use serde_yaml::Value;
use stowage::http::ROUTES;
use stowage_tests::REPO_ROOT;

fn spec() -> Value {
    let path = format!("{REPO_ROOT}/openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_yaml::from_str(&text).expect("openapi.yaml parses as YAML")
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every `(METHOD, path, operation)` of the spec.
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        let path = path.as_str().unwrap().to_owned();
        for (key, operation) in item.as_mapping().unwrap() {
            let key = key.as_str().unwrap();
            if METHODS.contains(&key) {
                found.push((key.to_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

#[test]
fn spec_operations_equal_the_route_table() {
    let spec = spec();
    assert_eq!(spec["openapi"].as_str(), Some("3.1.0"));
    let from_spec: BTreeSet<_> = operations(&spec)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let from_code: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(from_spec, from_code);
}

#[test]
fn every_operation_is_secured_named_and_documents_its_errors() {
    let spec = spec();
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"].as_str(),
        Some("bearer")
    );
    assert!(spec["security"][0].get("bearer").is_some());
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&spec) {
        let label = format!("{method} {path}");
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{label}: operationId"));
        assert!(
            ids.insert(id.to_owned()),
            "{label}: duplicate operationId {id}"
        );
        assert!(
            operation.get("security").is_none(),
            "{label} must not override security"
        );
        let responses = operation["responses"].as_mapping().unwrap();
        let codes: BTreeSet<&str> = responses.keys().map(|k| k.as_str().unwrap()).collect();
        for code in ["400", "401", "403", "429", "503"] {
            assert!(codes.contains(code), "{label} does not document {code}");
        }
        if path.contains("{id}") {
            assert!(codes.contains("404"), "{label} does not document 404");
        }
        if operation.get("requestBody").is_some() {
            for code in ["413", "415"] {
                assert!(codes.contains(code), "{label} does not document {code}");
            }
        }
        for (code, response) in responses {
            let code = code.as_str().unwrap();
            if code.starts_with('4') || code.starts_with('5') {
                let reference = response["$ref"].as_str().unwrap_or_default();
                assert!(
                    reference.starts_with("#/components/responses/"),
                    "{label} {code} must use a shared problem response"
                );
            }
        }
    }
    // Every shared error response is problem+json, but API Gateway's own throttling answer
    // (and the shared success answers).
    for (name, response) in spec["components"]["responses"].as_mapping().unwrap() {
        let content = response["content"].as_mapping().unwrap();
        let name = name.as_str().unwrap();
        if !["File", "Collection", "Usage", "TooManyRequests"].contains(&name) {
            assert!(
                content.contains_key("application/problem+json"),
                "{name} is not problem+json"
            );
        }
    }
}

#[test]
fn the_problem_schema_names_code_and_errors() {
    let spec = spec();
    let problem = &spec["components"]["schemas"]["Problem"];
    let required: BTreeSet<&str> = problem["required"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        required,
        BTreeSet::from(["type", "title", "status", "detail", "code"])
    );
    assert!(problem["properties"]["errors"].is_mapping());
}

#[test]
fn problem_codes_are_exactly_those_the_code_can_answer() {
    let spec = spec();
    let listed: Vec<&str> = spec["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_sequence()
        .expect("Problem.code lists its values")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let from_code: Vec<&str> = stowage::error::ProblemCode::ALL
        .iter()
        .map(|code| code.as_str())
        .collect();
    assert_eq!(listed, from_code);
}

/// The docs' problem-code page (written by scripts/gen_docs.py, diffed by the test command)
/// names every code with its status.
#[test]
fn the_docs_explain_every_problem_code() {
    let page =
        std::fs::read_to_string(format!("{REPO_ROOT}/docs/src/reference/errors.md")).unwrap();
    for code in stowage::error::ProblemCode::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.status());
        assert!(
            page.contains(&row),
            "docs/src/reference/errors.md does not explain `{}` ({}); run scripts/gen_docs.py",
            code.as_str(),
            code.status()
        );
    }
}
