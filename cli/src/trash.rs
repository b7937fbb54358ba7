//! `stowage versions`, `stowage trash`: a file's versions, and the files in the trash.

use crate::api::{Api, Result};
use crate::{encode, out, print_record};

/// Prints `id`'s versions, current first: `VERSION SIZE UPLOADED-AT UPLOADED-BY [current]`.
pub(crate) async fn versions(api: &Api, id: &str, json: bool) -> Result<()> {
    let answer = api.versions(id).await?;
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return Ok(());
    }
    for item in answer["items"].as_array().into_iter().flatten() {
        out!(
            "{:>5}  {:>12}  {}  {}{}",
            item["version"].as_u64().unwrap_or_default(),
            item["size"].as_u64().unwrap_or_default(),
            item["uploadedAt"].as_str().unwrap_or_default(),
            item["uploadedBy"].as_str().unwrap_or_default(),
            if item["current"].as_bool() == Some(true) {
                "  current"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// Prints the trash, newest first, each file with when it is purged.
pub(crate) async fn list(
    api: &Api,
    collection: Option<String>,
    limit: u32,
    all: bool,
    json: bool,
) -> Result<()> {
    let mut base = format!("trashed=true&limit={limit}");
    if let Some(collection) = collection {
        base.push_str(&format!("&collection={}", encode(&collection)));
    }
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("{base}&cursor={c}"),
            None => base.clone(),
        };
        let page = api.list(&query).await?;
        for item in page["items"].as_array().into_iter().flatten() {
            if json {
                print_record(item, true);
            } else {
                out!(
                    "{}  {:>12}  purged {}  {}",
                    item["id"].as_str().unwrap_or_default(),
                    item["size"]
                        .as_u64()
                        .map_or("-".to_owned(), |s| s.to_string()),
                    item["purgeAt"].as_str().unwrap_or_default(),
                    item["name"].as_str().unwrap_or_default()
                );
            }
        }
        match (all, page["nextCursor"].as_str()) {
            (true, Some(next)) => cursor = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(())
}
