//! `stowage cp`, `mv`, `mkdir`, `rmdir`, and the folders `ls --dir` prints: copying and moving
//! files, and the folders that hold them.

use serde_json::{json, Value};

use crate::api::{Api, Result};
use crate::{encode, out, print_record};

/// Where a copy or move puts a file: each left out stays as it is.
#[derive(clap::Args, Debug)]
pub(crate) struct Target {
    /// Its new name.
    #[arg(long)]
    name: Option<String>,
    /// Its new folder (`/` is the top).
    #[arg(long, visible_alias = "dir", value_name = "PATH")]
    directory: Option<String>,
    /// Its new collection (its rules and limits apply).
    #[arg(long)]
    collection: Option<String>,
}

impl Target {
    fn body(self) -> Value {
        let mut body = json!({});
        for (key, value) in [
            ("name", self.name),
            ("directory", self.directory),
            ("collection", self.collection),
        ] {
            if let Some(value) = value {
                body[key] = json!(value);
            }
        }
        body
    }
}

/// `stowage cp ID`: a new file with the bytes of `id`, copied in storage.
pub(crate) async fn copy(api: &Api, id: &str, target: Target, json: bool) -> Result<()> {
    print_record(&api.copy(id, target.body()).await?, json);
    Ok(())
}

/// `stowage mv ID`: renames, refolders or moves a file to another collection.
pub(crate) async fn move_file(api: &Api, id: &str, target: Target, json: bool) -> Result<()> {
    let body = target.body();
    if body.as_object().is_some_and(|o| o.is_empty()) {
        return Err(crate::api::Error(
            "mv: say where: --name, --dir or --collection".to_owned(),
        ));
    }
    print_record(&api.update(id, body).await?, json);
    Ok(())
}

/// `stowage mv --folder FROM TO`: moves a folder with everything below it, call after call.
pub(crate) async fn move_folder(api: &Api, from: &str, to: &str) -> Result<()> {
    let (mut moved, mut skipped) = (0, 0);
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({ "from": from, "to": to });
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let step = api.move_folder(body).await?;
        moved += step["moved"].as_u64().unwrap_or(0);
        skipped += step["skipped"].as_u64().unwrap_or(0);
        match step["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let files = |n: u64| {
        if n == 1 {
            "1 file".to_owned()
        } else {
            format!("{n} files")
        }
    };
    out!("moved {} from {from} to {to}", files(moved));
    if skipped > 0 {
        eprintln!(
            "stowage: {} you may not change stayed in {from}",
            files(skipped)
        );
    }
    Ok(())
}

/// `stowage mkdir PATH`.
pub(crate) async fn make(api: &Api, path: &str) -> Result<()> {
    api.make_folder(path).await?;
    Ok(())
}

/// `stowage rmdir PATH`.
pub(crate) async fn remove(api: &Api, path: &str) -> Result<()> {
    api.delete_folder(&format!("path={}", encode(path))).await
}

/// Prints the subfolders of `parent`, every page: `PATH/` (or each folder as JSON).
pub(crate) async fn print_folders(api: &Api, parent: &str, json: bool) -> Result<()> {
    let mut cursor: Option<String> = None;
    loop {
        let mut query = format!("parent={}&limit=1000", encode(parent));
        if let Some(c) = &cursor {
            query.push_str(&format!("&cursor={c}"));
        }
        let page = api.folders(&query).await?;
        for folder in page["items"].as_array().into_iter().flatten() {
            if json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(folder).unwrap_or_default()
                );
            } else {
                out!("{}/", folder["path"].as_str().unwrap_or_default());
            }
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(()),
        }
    }
}
