//! The one route table. Each route is one Lambda function (`functions/<function>`), one HTTP API
//! event in `template.yaml`, and one route of the local server; tests hold the three together.

/// Names a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteId {
    CreateFile,
    GetFile,
}

/// A route: method, path template (API Gateway syntax) and the function that serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    pub method: &'static str,
    pub path: &'static str,
    /// The crate under `functions/` and the `Binary` the template builds.
    pub function: &'static str,
}

/// Every HTTP route of the API.
pub const ROUTES: &[Route] = &[
    Route {
        id: RouteId::CreateFile,
        method: "POST",
        path: "/files",
        function: "create-file",
    },
    Route {
        id: RouteId::GetFile,
        method: "GET",
        path: "/files/{id}",
        function: "get-file",
    },
];
