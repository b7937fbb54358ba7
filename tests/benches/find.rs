//! The find-and-organize benchmark: how many items one page of a name search, a folder view
//! and a subfolder listing reads, on both stores, over a tenant of many records. It reports; it
//! does not pass or fail (`bench/run --find`; docs/src/measurements/find-and-organize.md).
//!
//!   STOWAGE_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT \
//!   FIND_BENCH_FILES=100000 FIND_BENCH_BACKENDS=embedded,moto \
//!     cargo bench -p stowage-tests --bench find
//!
//! Records are written straight to the store (as `TestEnv::insert_record` does), each with its
//! pointers and index entries, so the reads are those of a tenant that holds them.

use std::time::Instant;

use stowage::model::{DirectoryPath, FileName};
use stowage::validate::{FolderQuery, ListQuery};
use stowage_tests::TestEnv;

const ADJECTIVES: [&str; 40] = [
    "quarterly",
    "annual",
    "draft",
    "final",
    "signed",
    "scanned",
    "old",
    "new",
    "shared",
    "team",
    "weekly",
    "monthly",
    "daily",
    "urgent",
    "spare",
    "public",
    "private",
    "blue",
    "green",
    "red",
    "early",
    "late",
    "main",
    "backup",
    "copy",
    "raw",
    "edited",
    "small",
    "large",
    "tiny",
    "great",
    "local",
    "remote",
    "north",
    "south",
    "east",
    "west",
    "first",
    "second",
    "third",
];
const NOUNS: [&str; 50] = [
    "report", "invoice", "photo", "scan", "plan", "budget", "notes", "minutes", "memo", "letter",
    "contract", "receipt", "slide", "deck", "sheet", "chart", "map", "poster", "logo", "banner",
    "video", "clip", "song", "track", "mix", "draft", "paper", "thesis", "essay", "story",
    "recipe", "menu", "list", "ticket", "pass", "badge", "form", "survey", "quote", "order",
    "label", "manual", "guide", "brief", "spec", "design", "sketch", "model", "render", "export",
];
const EXTENSIONS: [&str; 5] = ["pdf", "jpg", "docx", "txt", "png"];
const PAGE: usize = 50;
const PAGES: usize = 5;

fn name_of(i: usize) -> String {
    format!(
        "{} {} {i:06}.{}",
        ADJECTIVES[i % ADJECTIVES.len()],
        NOUNS[(i / ADJECTIVES.len()) % NOUNS.len()],
        EXTENSIONS[i % EXTENSIONS.len()]
    )
}

fn directory_of(i: usize, files: usize, folder: usize) -> String {
    // The first `folder` files are in /big, the next `folder` in 100 subfolders of /tree, the
    // rest spread over /misc/0 .. /misc/999.
    if i < folder {
        "/big".to_owned()
    } else if i < 2 * folder {
        format!("/tree/sub{:03}", i % 100)
    } else {
        format!("/misc/{}", i % 1_000.min(files.max(1)))
    }
}

fn query(params: &[(&str, &str)]) -> ListQuery {
    ListQuery::from_params(params.iter().map(|(k, v)| (*k, vec![*v]))).unwrap()
}

/// Items read by each of the first `PAGES` pages of `params`, and the items they held.
async fn pages(env: &TestEnv, params: &[(&str, &str)]) -> (Vec<u64>, Vec<usize>) {
    let who = env.who("bench");
    let limit = PAGE.to_string();
    let mut read = Vec::new();
    let mut held = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..PAGES {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        all.push(("limit", &limit));
        if let Some(c) = &cursor {
            all.push(("cursor", c));
        }
        let page = env.app.service.list(&who, &query(&all)).await.unwrap();
        read.push(page.items_read);
        held.push(page.items.len());
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    (read, held)
}

async fn run(backend: &str, env: TestEnv, files: usize, folder: usize) {
    let started = Instant::now();
    let now = env.clock.now_millis();
    let mut prefixes = 0usize;
    for i in 0..files {
        let mut record = stowage_tests::sample_record("bench", now - 10_000_000 + i as i64);
        let name = name_of(i);
        prefixes += stowage::model::words::prefixes(&name).len();
        record.name = FileName::parse(&name).unwrap();
        record.extension = record.name.extension();
        record.directory = Some(DirectoryPath::parse(&directory_of(i, files, folder)).unwrap());
        record.expires_at = None;
        env.insert_record(&record).await;
        if (i + 1) % 10_000 == 0 {
            eprintln!(
                "{backend}: {} records in {:.0} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let write_secs = started.elapsed().as_secs_f64();
    println!(
        "\n{backend}: {files} records written in {write_secs:.0} s; {:.1} name-word pointers per record",
        prefixes as f64 / files as f64
    );
    println!(
        "| read ({backend}, pages of {PAGE}) | items read, first {PAGES} pages | items per page |"
    );
    println!("| --- | --- | --- |");
    for (label, params) in [
        ("search `q=quarterly`", vec![("q", "quarterly")]),
        (
            "search `q=quarterly report`",
            vec![("q", "quarterly report")],
        ),
        ("search `q=quart`", vec![("q", "quart")]),
        (
            "folder view `directory=/big` (newest first)",
            vec![("directory", "/big")],
        ),
        (
            "folder view `directory=/big&sort=name`",
            vec![("directory", "/big"), ("sort", "name")],
        ),
    ] {
        let (read, held) = pages(&env, &params).await;
        println!("| {label} | {read:?} | {held:?} |");
    }
    // Subfolders: /tree holds 100 subfolders over `folder` files; / holds 3.
    let who = env.who("bench");
    for (parent, limit) in [("/tree", "50"), ("/", "50")] {
        let mut cursor: Option<String> = None;
        let mut read = Vec::new();
        let mut held = Vec::new();
        for _ in 0..PAGES {
            let mut params = vec![("parent", vec![parent]), ("limit", vec![limit])];
            if let Some(c) = &cursor {
                params.push(("cursor", vec![c.as_str()]));
            }
            let page = env
                .app
                .service
                .list_folders(&who, &FolderQuery::from_params(params).unwrap())
                .await
                .unwrap();
            read.push(page.items_read);
            held.push(page.items.len());
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        println!("| subfolders of `{parent}` (keys read) | {read:?} | {held:?} |");
    }
}

#[tokio::main]
async fn main() {
    let files: usize = std::env::var("FIND_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let folder = 10_000.min(files / 3);
    let backends = std::env::var("FIND_BENCH_BACKENDS").unwrap_or_else(|_| "embedded,moto".into());
    for backend in backends.split(',') {
        let env = match backend {
            "embedded" => TestEnv::embedded().await,
            "moto" => TestEnv::moto().await,
            other => panic!("unknown backend {other} (embedded or moto)"),
        };
        run(backend, env, files, folder).await;
    }
}
