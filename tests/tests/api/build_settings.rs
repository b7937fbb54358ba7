//! Build settings that must follow the dependency tree: every crate of the image code stays at
//! `opt-level = "s"` in release builds (the rest is "z"), or thumbnails get three times slower
//! (`Cargo.toml` says why). The tree is read from `Cargo.lock`, so an update that brings in a
//! new crate fails here until it is listed.

use std::collections::{BTreeMap, BTreeSet};

use stowage_tests::REPO_ROOT;

/// Each package of `Cargo.lock` with the names of its dependencies.
fn lock_graph() -> BTreeMap<String, BTreeSet<String>> {
    let lock = std::fs::read_to_string(format!("{REPO_ROOT}/Cargo.lock")).unwrap();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut deps = BTreeSet::new();
        let mut in_deps = false;
        for line in package.lines().map(str::trim) {
            if let Some(value) = line.strip_prefix("name = ") {
                name = Some(value.trim_matches('"').to_owned());
            } else if line.starts_with("dependencies = [") {
                in_deps = true;
            } else if in_deps && line.starts_with(']') {
                in_deps = false;
            } else if in_deps {
                // `"name"` or `"name version"` (when several versions are locked).
                let dep = line.trim_end_matches(',').trim_matches('"');
                deps.insert(dep.split(' ').next().unwrap().to_owned());
            }
        }
        graph
            .entry(name.expect("a package has a name"))
            .or_default()
            .extend(deps);
    }
    graph
}

/// The `opt-level` each `[profile.release.package]` entry of `Cargo.toml` sets.
fn release_overrides() -> BTreeMap<String, String> {
    let manifest = std::fs::read_to_string(format!("{REPO_ROOT}/Cargo.toml")).unwrap();
    let section = manifest
        .split("\n[profile.release.package]\n")
        .nth(1)
        .expect("Cargo.toml has a [profile.release.package] table");
    section
        .lines()
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| {
            let (name, rest) = line.split_once(" = ")?;
            let level = rest.split("opt-level = ").nth(1)?.split('"').nth(1)?;
            Some((name.trim().to_owned(), level.to_owned()))
        })
        .collect()
}

#[test]
fn every_crate_of_the_image_code_is_built_for_speed() {
    let graph = lock_graph();
    let overrides = release_overrides();
    let mut reached = BTreeSet::new();
    let mut stack = vec!["image".to_owned(), "fast_image_resize".to_owned()];
    while let Some(name) = stack.pop() {
        if reached.insert(name.clone()) {
            stack.extend(graph.get(&name).into_iter().flatten().cloned());
        }
    }
    assert!(
        reached.contains("zune-jpeg"),
        "the walk reaches the JPEG decoder: {reached:?}"
    );
    let missing: Vec<&String> = reached
        .iter()
        .filter(|name| overrides.get(*name).map(String::as_str) != Some("s"))
        .collect();
    assert!(
        missing.is_empty(),
        "add to [profile.release.package] in Cargo.toml, at opt-level \"s\": {missing:?}"
    );
    assert_eq!(
        overrides.get("stowage-shared").map(String::as_str),
        Some("s")
    );
}
