//! `stowage`: upload, download, list, inspect and delete files through Stowage's public HTTP
//! API (a deployed stack or `stowage-local`).

mod api;
mod download;
mod list;
mod organize;
mod progress;
mod smoke;
mod trash;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value;

use api::{Api, Error, Result};

/// `println!` for the command's output: when the reader has gone (`stowage ls | head`), the
/// command ends quietly with success, as Unix tools do, instead of panicking on the broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(err) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if err.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("failed printing to stdout: {err}");
        }
    }};
}
pub(crate) use out;
use upload::UploadOptions;

#[derive(Parser)]
#[command(
    name = "stowage",
    version,
    about = "Upload and download files through a Stowage API"
)]
struct Cli {
    /// The API's base URL.
    #[arg(
        long,
        global = true,
        env = "STOWAGE_ENDPOINT",
        default_value = "http://127.0.0.1:4600"
    )]
    endpoint: String,
    /// Bearer token (for stowage-local: `stowage-local token --tenant … --user …`).
    #[arg(long, global = true, env = "STOWAGE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print records as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Upload a file (multipart with parallel parts above the part size).
    Upload {
        /// The file to upload.
        file: PathBuf,
        /// Finish the interrupted upload of this file id instead of creating a new file.
        #[arg(long, value_name = "ID")]
        resume: Option<String>,
        /// The file's name in Stowage (default: the local file's name).
        #[arg(long)]
        name: Option<String>,
        /// Media type (default: guessed from the extension).
        #[arg(long = "type")]
        mime_type: Option<String>,
        /// A tag for the file (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// What the file is for (a free-form label you can list by).
        #[arg(long)]
        purpose: Option<String>,
        /// The collection the file goes in (default: `default`; its rules and limits apply).
        #[arg(long)]
        collection: Option<String>,
        /// The folder the file goes in (default: `/`, the top).
        #[arg(long, visible_alias = "dir", value_name = "PATH")]
        directory: Option<String>,
        /// A temp file, deleted after --ttl seconds.
        #[arg(long)]
        temp: bool,
        /// Seconds a temp file lives (default: the server's, one day).
        #[arg(long, requires = "temp")]
        ttl: Option<u64>,
        /// Parts in flight at once (memory ≈ parallel × part size).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallel: u16,
        /// Part size in bytes (default 8 MiB; the server clamps it to S3's rules).
        #[arg(long)]
        part_size: Option<u64>,
        /// Cap the upload rate, in bytes per second.
        #[arg(long)]
        limit_rate: Option<u64>,
    },
    /// Download a file.
    Download {
        /// The file's id.
        id: String,
        /// Download this earlier version instead (see `stowage versions`).
        #[arg(long)]
        version: Option<u32>,
        /// Where to write it (default: the file's name, in the current folder).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// List files, newest first (or in the order --sort gives).
    Ls(list::ListArgs),
    /// Find files by words of their names: every word must start a word of the name, ignoring
    /// case and accents (`stowage find rep 2026` finds "Q3 Report 2026.pdf").
    Find {
        /// The words to look for.
        #[arg(required = true)]
        words: Vec<String>,
        #[command(flatten)]
        filters: list::ListArgs,
    },
    /// Copy a file: a new file of yours with its bytes, copied in storage.
    Cp {
        /// The file's id.
        id: String,
        #[command(flatten)]
        target: organize::Target,
    },
    /// Rename a file, put it in another folder or collection; or, with --folder, move a folder
    /// with everything below it.
    Mv {
        /// The file's id (with --folder: the folder to move).
        source: String,
        /// With --folder: where the folder goes.
        destination: Option<String>,
        /// Move the folder SOURCE to DESTINATION, with every file below it you may change.
        #[arg(long, requires = "destination")]
        folder: bool,
        #[command(flatten)]
        target: organize::Target,
    },
    /// Make a folder that shows while it is empty.
    Mkdir {
        /// The folder, e.g. /reports/2026.
        path: String,
    },
    /// Delete a folder made with mkdir that holds nothing.
    Rmdir {
        /// The folder.
        path: String,
    },
    /// Show a file's record.
    Info {
        /// The file's id.
        id: String,
    },
    /// Check a deployment end to end: the life of one small image (limits, create, upload,
    /// wait for `uploaded`, read, list by tag, download and compare, its thumbnail, delete,
    /// and its events when a receiver is given), each step timed. Exits non-zero at the first
    /// failure, naming the step, and deletes what it made.
    Smoke {
        /// Skip the thumbnail step, for a server that makes no thumbnails (`stowage-local` and the
        /// AWS stack make them; a server embedded from the `stowage_local` crate with
        /// `thumbnails: false` does not).
        #[arg(long)]
        no_thumbnail: bool,
        /// Receive the deployment's webhook on this address (e.g. `0.0.0.0:8787`; the stack's
        /// `WebhookUrl`, or stowage-local's `--webhook`, must reach it) and check that the
        /// file's created, uploaded and deleted events arrive, in order.
        #[arg(long, value_name = "ADDR")]
        events_listen: Option<std::net::SocketAddr>,
        /// The secret each webhook request must carry in `x-stowage-webhook-secret`.
        #[arg(long, env = "STOWAGE_WEBHOOK_SECRET", requires = "events_listen")]
        events_secret: Option<String>,
        /// Seconds the file's events may take to arrive after its delete (EventBridge's API
        /// destination delivers within seconds, and retries for longer).
        #[arg(
            long,
            default_value_t = 60,
            value_name = "SECONDS",
            requires = "events_listen"
        )]
        events_timeout: u64,
    },
    /// Delete files: into the trash where their collection keeps one, else with their bytes.
    Rm {
        /// The ids of the files to delete.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Delete for good, skipping the trash (also deletes files already in it).
        #[arg(long)]
        permanent: bool,
    },
    /// List a file's versions: its current content, then the earlier ones its collection keeps.
    Versions {
        /// The file's id.
        id: String,
    },
    /// List the trash: files deleted in collections with `trashDays`, newest first.
    Trash {
        /// Only this collection's files.
        #[arg(long)]
        collection: Option<String>,
        /// Files per page (1 to 1,000).
        #[arg(long, default_value_t = 30)]
        limit: u32,
        /// Follow every page.
        #[arg(long)]
        all: bool,
    },
    /// Bring a file back from the trash, or make an earlier version its current content.
    Restore {
        /// The file's id.
        id: String,
        /// Restore this version (see `stowage versions`) instead of restoring from the trash.
        #[arg(long)]
        version: Option<u32>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stowage: {err}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn print_record(record: &Value, json: bool) {
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(record).unwrap_or_default()
        );
    } else {
        out!(
            "{}  {:>12}  {:<8}  {}",
            record["id"].as_str().unwrap_or_default(),
            record["size"]
                .as_u64()
                .map_or("-".to_owned(), |s| s.to_string()),
            record["status"].as_str().unwrap_or_default(),
            record["name"].as_str().unwrap_or_default()
        );
    }
}

pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn run(cli: Cli) -> Result<()> {
    let token = cli
        .token
        .ok_or_else(|| Error("no token: pass --token or set STOWAGE_TOKEN".into()))?;
    let api = Api::new(&cli.endpoint, &token)?;
    match cli.command {
        Command::Upload {
            file,
            resume,
            name,
            mime_type,
            tags,
            purpose,
            collection,
            directory,
            temp,
            ttl,
            parallel,
            part_size,
            limit_rate,
        } => {
            let options = UploadOptions {
                name,
                mime_type,
                tags,
                purpose,
                collection,
                directory,
                temp,
                ttl,
                parallel: usize::from(parallel),
                part_size,
                limit_rate,
            };
            let record = match resume {
                Some(id) => upload::resume(&api, &id, &file, &options).await?,
                None => upload::upload(&api, &file, &options).await?,
            };
            print_record(&record, cli.json);
        }
        Command::Download {
            id,
            version,
            output,
        } => download::download(&api, &id, version, output, cli.json).await?,
        Command::Ls(filters) => list::list(&api, filters, None, cli.json).await?,
        Command::Cp { id, target } => organize::copy(&api, &id, target, cli.json).await?,
        Command::Mv {
            source,
            destination,
            folder,
            target,
        } => match (folder, destination) {
            (true, Some(to)) => organize::move_folder(&api, &source, &to).await?,
            (false, None) => organize::move_file(&api, &source, target, cli.json).await?,
            _ => {
                return Err(Error(
                    "mv: a file moves with --name, --dir or --collection; a folder moves with --folder FROM TO".to_owned(),
                ))
            }
        },
        Command::Mkdir { path } => organize::make(&api, &path).await?,
        Command::Rmdir { path } => organize::remove(&api, &path).await?,
        Command::Find { words, filters } => {
            list::list(&api, filters, Some(words.join(" ")), cli.json).await?
        }
        Command::Info { id } => print_record(&api.get(&id).await?, true),
        Command::Smoke {
            no_thumbnail,
            events_listen,
            events_secret,
            events_timeout,
        } => {
            let started = std::time::Instant::now();
            let events = match events_listen {
                Some(addr) => Some(
                    smoke::Receiver::listen(
                        addr,
                        events_secret,
                        std::time::Duration::from_secs(events_timeout),
                    )
                    .await
                    .map_err(|e| Error(format!("smoke: cannot receive events on {addr}: {e}")))?,
                ),
                None => None,
            };
            let skipped = smoke::run(&api, !no_thumbnail, events.as_ref(), |line| out!("{line}"))
                .await
                .map_err(|(step, err)| Error(format!("smoke: the {step} step failed: {err}")))?;
            out!(
                "all {} steps passed ({skipped} skipped) in {:.1} s against {}",
                smoke::STEPS.len() - skipped,
                started.elapsed().as_secs_f64(),
                cli.endpoint
            );
        }
        Command::Rm { ids, permanent } => {
            if let ([id], false) = (ids.as_slice(), permanent) {
                api.delete(id).await?;
                out!("deleted {id}");
            } else if let ([id], true) = (ids.as_slice(), permanent) {
                api.delete_permanently(id).await?;
                out!("deleted {id}");
            } else {
                let answer = api.delete_many(&ids, permanent).await?;
                for id in answer["deleted"].as_array().into_iter().flatten() {
                    out!("deleted {}", id.as_str().unwrap_or_default());
                }
                for id in answer["notFound"].as_array().into_iter().flatten() {
                    out!("not found {}", id.as_str().unwrap_or_default());
                }
            }
        }
        Command::Versions { id } => trash::versions(&api, &id, cli.json).await?,
        Command::Trash {
            collection,
            limit,
            all,
        } => trash::list(&api, collection, limit, all, cli.json).await?,
        Command::Restore { id, version } => {
            let record = match version {
                Some(v) => api.restore_version(&id, v).await?,
                None => api.restore(&id).await?,
            };
            print_record(&record, cli.json);
        }
    }
    Ok(())
}
