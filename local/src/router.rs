//! Matches a request to a route of the shared route table (`stowage::http::ROUTES`), the same
//! table the SAM template's HTTP API events are checked against.

use std::collections::HashMap;

use stowage::http::{RouteId, ROUTES};

/// What a method and path select.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// A route, with its decoded path parameters.
    Found(RouteId, HashMap<String, String>),
    /// Some route has this path, none this method.
    MethodNotAllowed,
    /// No route has this path.
    NotFound,
}

/// Finds the route for `method` and `path` (API Gateway template syntax: `{name}` is one
/// non-empty segment).
pub fn match_route(method: &str, path: &str) -> RouteMatch {
    let mut path_matched = false;
    for route in ROUTES {
        let Some(params) = match_path(route.path, path) else {
            continue;
        };
        if route.method.is(method) {
            return RouteMatch::Found(route.id, params);
        }
        path_matched = true;
    }
    if path_matched {
        RouteMatch::MethodNotAllowed
    } else {
        RouteMatch::NotFound
    }
}

fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    let mut want = template.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) => {
                if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if g.is_empty() {
                        return None;
                    }
                    // Not UTF-8 after decoding: passed on lossily, so the handler answers
                    // `400 invalid_id` rather than this path looking unknown.
                    let value = percent_encoding::percent_decode_str(g)
                        .decode_utf8_lossy()
                        .into_owned();
                    params.insert(name.to_owned(), value);
                } else if w != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A concrete path for a route template.
    fn sample_path(template: &str) -> String {
        template
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "01KAQ3V6T0Z9Y8X7W6V5T4S3R2"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn every_route_of_the_table_is_served_locally() {
        for route in ROUTES {
            match match_route(route.method.as_str(), &sample_path(route.path)) {
                RouteMatch::Found(id, _) => assert_eq!(id, route.id, "{route:?}"),
                other => panic!("{route:?} is not served: {other:?}"),
            }
        }
    }

    #[test]
    fn path_parameters_are_captured_and_decoded() {
        let RouteMatch::Found(RouteId::GetFile, params) = match_route("GET", "/files/a%20b") else {
            panic!("no match");
        };
        assert_eq!(params["id"], "a b");
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        assert_eq!(match_route("GET", "/nope"), RouteMatch::NotFound);
        assert_eq!(match_route("GET", "/files/"), RouteMatch::NotFound);
        assert_eq!(match_route("GET", "/files/x/y/z/w"), RouteMatch::NotFound);
        assert_eq!(match_route("TRACE", "/files"), RouteMatch::MethodNotAllowed);
    }
}
