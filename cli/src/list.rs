//! `stowage ls` and `stowage find`: one listing, page by page.

use crate::api::{Api, Result};
use crate::{encode, print_record};

/// The filters and order of a listing.
#[derive(clap::Args, Debug)]
pub(crate) struct ListArgs {
    /// Only files with exactly this name.
    #[arg(long)]
    name: Option<String>,
    /// Only files with this tag (repeatable: every tag given).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Only files with this purpose.
    #[arg(long)]
    purpose: Option<String>,
    /// Only files in this status: pending, uploaded or failed.
    #[arg(long)]
    status: Option<String>,
    /// Only files of this kind: client or temp.
    #[arg(long)]
    kind: Option<String>,
    /// Only files in exactly this folder (`/` is the top); its subfolders are listed first.
    #[arg(long, visible_alias = "dir", value_name = "PATH")]
    directory: Option<String>,
    /// Only files in this folder or below it.
    #[arg(long, value_name = "PATH")]
    below: Option<String>,
    /// Only this collection's files.
    #[arg(long)]
    collection: Option<String>,
    /// The order: -createdAt (newest first, the default), createdAt, name or -name. A name
    /// order needs --dir or --collection.
    #[arg(long, value_name = "ORDER", allow_hyphen_values = true)]
    sort: Option<String>,
    /// Files per page (1 to 1,000).
    #[arg(long, default_value_t = 30)]
    limit: u32,
    /// Follow every page.
    #[arg(long)]
    all: bool,
}

/// Prints the files that match `args` (and the name search `q`, if given).
pub(crate) async fn list(api: &Api, args: ListArgs, q: Option<String>, json: bool) -> Result<()> {
    // A folder view (`ls --dir PATH` alone): its subfolders first, as a file manager shows them.
    if let (Some(directory), None) = (&args.directory, &q) {
        crate::organize::print_folders(api, directory, json).await?;
    }
    let mut query = vec![format!("limit={}", args.limit)];
    for (key, value) in [
        ("q", q),
        ("name", args.name),
        ("purpose", args.purpose),
        ("status", args.status),
        ("kind", args.kind),
        ("directory", args.directory),
        ("directoryPrefix", args.below),
        ("collection", args.collection),
        ("sort", args.sort),
    ] {
        if let Some(value) = value {
            query.push(format!("{key}={}", encode(&value)));
        }
    }
    query.extend(args.tags.iter().map(|t| format!("tag={}", encode(t))));
    let base = query.join("&");
    let mut cursor: Option<String> = None;
    loop {
        let page_query = match &cursor {
            Some(c) => format!("{base}&cursor={c}"),
            None => base.clone(),
        };
        let page = api.list(&page_query).await?;
        for item in page["items"].as_array().into_iter().flatten() {
            print_record(item, json);
        }
        match (args.all, page["nextCursor"].as_str()) {
            (true, Some(next)) => cursor = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(())
}
