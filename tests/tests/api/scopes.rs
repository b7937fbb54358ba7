//! Access below the tenant: with scopes required, every route × every set of scopes a token
//! can hold — the route's scope lets the request through, anything else is `403
//! insufficient_scope` naming the scope, with nothing read or written.

use serde_json::{json, Value};
use stowage::http::{RouteId, ROUTES};
use stowage_tests::{scoped_request, valid_body, TestEnv};

/// Every subset of Stowage's four scopes, as a `scope` claim.
fn scope_sets() -> Vec<String> {
    let names = ["files:read", "files:write", "files:delete", "files:admin"];
    (0..16u8)
        .map(|bits| {
            names
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The file a route acts on: the uploaded one, or the multipart upload for its part routes.
fn target<'a>(route: RouteId, uploaded: &'a str, multipart: &'a str) -> Option<&'a str> {
    let path = route.route().path;
    match route {
        RouteId::ListUploadParts | RouteId::SignUploadParts | RouteId::CompleteUpload => {
            Some(multipart)
        }
        _ if path.contains("{id}") => Some(uploaded),
        _ if path.contains("{name}") => Some("default"),
        _ => None,
    }
}

/// What tenant acme can observe, read with a full-scope token.
async fn observe(env: &TestEnv, ids: &[&str]) -> Vec<Value> {
    let mut state = vec![json!(env.listed("acme").await)];
    for id in ids {
        let mut file = env.get("acme", id).await.json;
        file["contentUrl"].take();
        state.push(file);
    }
    state
}

async fn every_route_needs_its_scope_and_nothing_happens_without_it(env: TestEnv) {
    env.check_policies();
    let uploaded = env
        .uploaded(
            "acme",
            json!({"name": "a.txt", "mimeType": "text/plain"}),
            b"abc",
        )
        .await;
    let uploaded = uploaded["id"].as_str().unwrap().to_owned();
    let multipart = env
        .create_id(
            "acme",
            json!({"name": "m.bin", "mimeType": "application/octet-stream",
                   "size": 6 * 1024 * 1024, "multipart": true}),
        )
        .await;
    let ids = [uploaded.as_str(), multipart.as_str()];
    let before = observe(&env, &ids).await;

    let mut refused = 0;
    let mut expected = 0;
    for route in ROUTES {
        let needed = route.scope.as_str();
        // files:admin grants every scope; an admin route refuses the 8 sets without it, any
        // other route the 4 sets without its scope and without files:admin.
        expected += if needed == "files:admin" { 8 } else { 4 };
        for scopes in scope_sets() {
            if scopes
                .split_whitespace()
                .any(|s| s == needed || s == "files:admin")
            {
                continue;
            }
            let id = target(route.id, &uploaded, &multipart);
            let body = match route.id {
                RouteId::DeleteFiles => Some(json!({"ids": ids})),
                RouteId::UpdateFiles => Some(json!([{"id": uploaded, "tags": ["x"]}])),
                other => valid_body(other),
            };
            let reply = env
                .call(
                    route.id,
                    scoped_request(route.id, "acme", &scopes, id, body.as_ref()),
                )
                .await;
            reply.assert_problem(403, "insufficient_scope");
            assert!(
                reply.json["detail"].as_str().unwrap().contains(needed),
                "{route:?} with [{scopes}]: {}",
                reply.json
            );
            let challenge = reply.headers["www-authenticate"].to_str().unwrap();
            assert!(challenge.contains("insufficient_scope") && challenge.contains(needed));
            refused += 1;
        }
    }
    assert_eq!(
        refused, expected,
        "each route refuses the sets without its scope"
    );
    assert_eq!(
        observe(&env, &ids).await,
        before,
        "nothing was read or written"
    );

    // The route's own scope alone is enough.
    for route in ROUTES {
        let id = target(route.id, &uploaded, &multipart);
        let body = match route.id {
            // Deletes go last and on their own files, so the loop's other routes find theirs.
            RouteId::DeleteFiles => Some(json!({"ids": []})),
            RouteId::DeleteFile => continue,
            other => valid_body(other),
        };
        let reply = env
            .call(
                route.id,
                scoped_request(route.id, "acme", route.scope.as_str(), id, body.as_ref()),
            )
            .await;
        assert!(
            ![401, 403].contains(&reply.status),
            "{route:?} with its own scope: {} {}",
            reply.status,
            reply.json
        );
    }
    let reply = env
        .call(
            RouteId::DeleteFile,
            scoped_request(
                RouteId::DeleteFile,
                "acme",
                "files:delete",
                Some(&uploaded),
                None,
            ),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.json);
}

stowage_tests::on_every_backend!(
    settings = [("STOWAGE_REQUIRE_SCOPES", "true")];
    every_route_needs_its_scope_and_nothing_happens_without_it,
);

/// Without `STOWAGE_REQUIRE_SCOPES`, scopes are ignored: a token without any works — except on
/// the routes that manage collections and limits, which always need `files:admin`.
#[tokio::test]
async fn scopes_are_ignored_unless_required() {
    let env = TestEnv::embedded().await;
    let reply = env
        .call(
            RouteId::CreateFile,
            scoped_request(
                RouteId::CreateFile,
                "acme",
                "",
                None,
                Some(&json!({"name": "a.txt", "mimeType": "text/plain"})),
            ),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.json);
}

#[tokio::test]
async fn managing_collections_and_limits_needs_files_admin_even_unrequired() {
    let env = TestEnv::embedded().await;
    let member = "files:read files:write files:delete";
    for (route, id) in [
        (RouteId::CreateCollection, None),
        (RouteId::UpdateCollection, Some("default")),
        (RouteId::DeleteCollection, Some("default")),
        (RouteId::PutUsageLimits, None),
    ] {
        let body = valid_body(route);
        let reply = env
            .call(
                route,
                scoped_request(route, "acme", member, id, body.as_ref()),
            )
            .await;
        reply.assert_problem(403, "insufficient_scope");
        assert!(reply.json["detail"]
            .as_str()
            .unwrap()
            .contains("files:admin"));
    }
    // Reading them is a member's.
    for route in [RouteId::ListCollections, RouteId::GetUsage] {
        let reply = env
            .call(route, scoped_request(route, "acme", "", None, None))
            .await;
        assert_eq!(reply.status, 200, "{route:?}: {}", reply.json);
    }
    let reply = env
        .call(
            RouteId::CreateCollection,
            scoped_request(
                RouteId::CreateCollection,
                "acme",
                "files:admin",
                None,
                Some(&json!({"name": "avatars"})),
            ),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.json);
}
