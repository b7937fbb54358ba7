//! `stowage-local` command line: serve the API (default), or print a bearer token.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use stowage::identity::{Scope, Scopes};
use stowage::model::{TenantId, UserId};
use stowage::service::{Clock, SystemClock};
use stowage_local::auth::LocalSecret;
use stowage_local::{Backend, LocalConfig};

#[derive(Parser)]
#[command(
    name = "stowage-local",
    version,
    about = "Stowage on your laptop: the whole file API, no AWS account needed",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve(ServeArgs),
    /// Print a bearer token that the server on this data dir accepts.
    Token(TokenArgs),
    /// Print the embedded S3 endpoint's credentials as shell variables, for the AWS CLI and
    /// other S3 tools: `eval "$(stowage-local s3-credentials)"`, then
    /// `aws s3 ls s3://stowage/ --endpoint-url http://127.0.0.1:4600`.
    S3Credentials(S3CredentialsArgs),
}

#[derive(clap::Args)]
struct S3CredentialsArgs {
    /// The server's data dir (the credentials derive from its secret).
    #[arg(long, env = "STOWAGE_LOCAL_DATA_DIR", default_value = "./.stowage")]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "STOWAGE_LOCAL_ADDR", default_value = "127.0.0.1:4600")]
    addr: SocketAddr,
    /// Where records, objects and the signing secret are kept.
    #[arg(long, env = "STOWAGE_LOCAL_DATA_DIR", default_value = "./.stowage")]
    data_dir: PathBuf,
    /// `embedded` (SQLite + embedded S3 endpoint) or `aws` (DynamoDB + S3 from STOWAGE_TABLE,
    /// STOWAGE_BUCKET and the AWS SDK's settings, e.g. AWS_ENDPOINT_URL).
    #[arg(long, env = "STOWAGE_LOCAL_BACKEND", value_enum, default_value_t = BackendArg::Embedded)]
    backend: BackendArg,
    /// URL clients use to reach this server, if not http://<addr> (e.g. behind a proxy).
    #[arg(long, env = "STOWAGE_LOCAL_PUBLIC_URL")]
    public_url: Option<String>,
    /// Tenant the printed console link signs in as.
    #[arg(long, default_value = "acme")]
    console_tenant: String,
    /// User the printed console link signs in as.
    #[arg(long, default_value = "alice")]
    console_user: String,
    /// Seconds between sweeps that expire records and clean up after removals.
    #[arg(long, env = "STOWAGE_LOCAL_SWEEP_INTERVAL", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    sweep_interval: u64,
    /// POST every file event to this URL (repeatable), from a durable outbox: a receiver that
    /// is down, or a restart, loses nothing.
    #[arg(long = "webhook", value_name = "URL")]
    webhooks: Vec<String>,
    /// Sent with each webhook request in the `x-stowage-webhook-secret` header.
    #[arg(
        long,
        env = "STOWAGE_WEBHOOK_SECRET",
        value_name = "SECRET",
        requires = "webhooks"
    )]
    webhook_secret: Option<String>,
    /// Bytes each tenant may store unless `PUT /usage/limits` says otherwise (0: no limit;
    /// the template's `DefaultTenantMaxBytes`).
    #[arg(long, env = "STOWAGE_DEFAULT_TENANT_MAX_BYTES", value_name = "BYTES")]
    default_tenant_max_bytes: Option<String>,
    /// Files each tenant may hold unless `PUT /usage/limits` says otherwise (0: no limit; the
    /// template's `DefaultTenantMaxFiles`).
    #[arg(long, env = "STOWAGE_DEFAULT_TENANT_MAX_FILES", value_name = "FILES")]
    default_tenant_max_files: Option<String>,
    /// Days a deleted file stays in the trash in collections that set no `trashDays`, and in
    /// `default` (0: deletes are immediate; the template's `DefaultTrashDays`).
    #[arg(long, env = "STOWAGE_DEFAULT_TRASH_DAYS", value_name = "DAYS")]
    default_trash_days: Option<String>,
    /// Requests each tenant may start per second, counted per 10-second window; over it, 429
    /// too_many_requests (0 or unset: no limit; the template's `TenantRequestsPerSecond`).
    #[arg(long, env = "STOWAGE_TENANT_REQUESTS_PER_SECOND", value_name = "N")]
    tenant_requests_per_second: Option<String>,
    /// Requests of one tenant that may run at once; over it, 429 too_many_requests (0 or
    /// unset: no limit; the template's `TenantConcurrentRequests`).
    #[arg(long, env = "STOWAGE_TENANT_CONCURRENT_REQUESTS", value_name = "N")]
    tenant_concurrent_requests: Option<String>,
}

/// How long the printed console link signs people in for (it is printed again on every start).
const CONSOLE_LINK_TTL_SECONDS: u64 = 86_400;

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Embedded,
    Aws,
}

#[derive(clap::Args)]
struct TokenArgs {
    /// Tenant the token acts for.
    #[arg(long)]
    tenant: String,
    /// User the token acts as.
    #[arg(long)]
    user: String,
    /// The server's data dir (tokens are signed with its secret).
    #[arg(long, env = "STOWAGE_LOCAL_DATA_DIR", default_value = "./.stowage")]
    data_dir: PathBuf,
    /// Lifetime in seconds (default 30 days).
    #[arg(long, default_value_t = 2_592_000)]
    ttl: u64,
    /// Space-separated scopes the token grants (checked when STOWAGE_REQUIRE_SCOPES=true;
    /// files:admin, for managing collections and limits, is always checked).
    #[arg(long, default_value = "files:read files:write files:delete")]
    scope: String,
    /// A group the user is in (repeatable; the groups claim, STOWAGE_GROUPS_CLAIM, lists them as
    /// Cognito does, and the server reads them as the principals group:<name>).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
}

fn main() -> ExitCode {
    // Everything stowage-local writes (the data dir, its objects, its database, its key) is
    // its user's only: directories 0700, files 0600.
    #[cfg(unix)]
    // SAFETY: umask(2) only sets this process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token(args)) => token(args),
        Some(Command::S3Credentials(args)) => s3_credentials(args),
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn token(args: TokenArgs) -> ExitCode {
    let tenant = match TenantId::parse(&args.tenant) {
        Ok(t) => t,
        Err(e) => return fail(&format!("--tenant {}", e.message)),
    };
    let user = match UserId::parse(&args.user) {
        Ok(u) => u,
        Err(e) => return fail(&format!("--user {}", e.message)),
    };
    let secret = match LocalSecret::load_or_create(&args.data_dir) {
        Ok(s) => s,
        Err(e) => return fail(&format!("data dir {}: {e}", args.data_dir.display())),
    };
    let unknown: Vec<&str> = args
        .scope
        .split_whitespace()
        .filter(|name| Scope::ALL.iter().all(|s| s.as_str() != *name))
        .collect();
    if !unknown.is_empty() {
        return fail(&format!(
            "--scope: unknown scope(s) {}; the scopes are files:read, files:write, files:delete and files:admin (an app: every scope, and managing collections and limits)",
            unknown.join(", ")
        ));
    }
    let scopes = Scopes::parse(&args.scope);
    if let Some(bad) = args
        .groups
        .iter()
        .find(|g| !stowage::model::valid_principal_name(g))
    {
        return fail(&format!(
            "--group {bad:?}: a group is 1 to 128 characters without spaces, commas, brackets or quotes"
        ));
    }
    if args.groups.len() > stowage::model::MAX_GROUPS {
        return fail(&format!(
            "--group: at most {} groups are considered",
            stowage::model::MAX_GROUPS
        ));
    }
    // The claim names a server started in this environment reads, from their one reader.
    let claims = match stowage::config::claim_names(|name| std::env::var(name).ok()) {
        Ok(claims) => claims,
        Err(e) => return fail(&e.to_string()),
    };
    println!(
        "{}",
        secret.issue_token_with_groups(
            &claims,
            &tenant,
            &user,
            scopes,
            &args.groups,
            SystemClock.now(),
            args.ttl
        )
    );
    ExitCode::SUCCESS
}

fn s3_credentials(args: S3CredentialsArgs) -> ExitCode {
    let secret = match LocalSecret::load_or_create(&args.data_dir) {
        Ok(s) => s,
        Err(e) => return fail(&format!("data dir {}: {e}", args.data_dir.display())),
    };
    println!(
        "export AWS_ACCESS_KEY_ID={}",
        stowage_local::auth::S3_ACCESS_KEY
    );
    println!("export AWS_SECRET_ACCESS_KEY={}", secret.s3_secret_key());
    println!("export AWS_REGION={}", stowage_local::server::REGION);
    println!(
        "export AWS_DEFAULT_REGION={}",
        stowage_local::server::REGION
    );
    println!("export STOWAGE_LOCAL_BUCKET={}", stowage_local::BUCKET);
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("stowage-local: {message}");
    ExitCode::FAILURE
}

fn serve(args: ServeArgs) -> ExitCode {
    let console_identity = TenantId::parse(&args.console_tenant)
        .map_err(|e| format!("--console-tenant {}", e.message))
        .and_then(|tenant| {
            UserId::parse(&args.console_user)
                .map(|user| (tenant, user))
                .map_err(|e| format!("--console-user {}", e.message))
        });
    let (console_tenant, console_user) = match console_identity {
        Ok(pair) => pair,
        Err(message) => return fail(&message),
    };
    // s3s logs every refused request as an error; the dispatcher logs S3 answers itself.
    stowage::bootstrap::init_tracing_quieting(&["s3s::ops"]);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    // The flags that stand for settings, checked by the settings' own reader (`Config`).
    let settings: std::collections::HashMap<String, String> = [
        (
            "STOWAGE_DEFAULT_TENANT_MAX_BYTES",
            args.default_tenant_max_bytes.clone(),
        ),
        (
            "STOWAGE_DEFAULT_TENANT_MAX_FILES",
            args.default_tenant_max_files.clone(),
        ),
        (
            "STOWAGE_DEFAULT_TRASH_DAYS",
            args.default_trash_days.clone(),
        ),
        (
            "STOWAGE_TENANT_REQUESTS_PER_SECOND",
            args.tenant_requests_per_second.clone(),
        ),
        (
            "STOWAGE_TENANT_CONCURRENT_REQUESTS",
            args.tenant_concurrent_requests.clone(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_owned(), value?)))
    .collect();
    runtime.block_on(async move {
        let backend = match args.backend {
            BackendArg::Embedded => Backend::Embedded,
            BackendArg::Aws => match stowage::config::Config::from_lookup(|name| {
                settings
                    .get(name)
                    .cloned()
                    .or_else(|| std::env::var(name).ok())
            }) {
                Ok(config) => Backend::Aws {
                    config: Box::new(config),
                    sdk: Box::new(
                        aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
                    ),
                },
                Err(e) => return fail(&e.to_string()),
            },
        };
        let embedded = matches!(backend, Backend::Embedded);
        let server = match stowage_local::start(LocalConfig {
            addr: args.addr,
            backend,
            public_url: args.public_url,
            sweep_interval: std::time::Duration::from_secs(args.sweep_interval),
            webhooks: stowage_local::Webhooks {
                urls: args.webhooks.clone(),
                secret: args.webhook_secret.clone(),
            },
            settings: settings.clone(),
            ..LocalConfig::new(args.data_dir.clone())
        })
        .await
        {
            Ok(s) => s,
            Err(e) => return fail(&e.to_string()),
        };
        let url = &server.base_url;
        println!("stowage-local listening on {url}");
        println!("  API:       {url}/files");
        // The link signs the browser in (the token in the fragment never reaches a server).
        let token = server.secret.issue_token(
            &server.app.claims,
            &console_tenant,
            &console_user,
            Scopes::all(),
            SystemClock.now(),
            CONSOLE_LINK_TTL_SECONDS,
        );
        println!("  console:   {url}/console/#token={token}");
        println!(
            "             (signed in as {} / {} for 24 hours)",
            console_tenant.as_str(),
            console_user.as_str()
        );
        for url in &args.webhooks {
            println!("  webhook:   {url}");
        }
        if embedded {
            println!(
                "  S3:        {url} (bucket \"{}\", path-style)",
                stowage_local::BUCKET
            );
            println!("  data dir:  {}", args.data_dir.display());
        } else {
            println!("  storage:   DynamoDB + S3 from STOWAGE_TABLE / STOWAGE_BUCKET");
        }
        // This very binary, so a second terminal need not wait for cargo's build lock.
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "stowage-local".to_owned());
        println!(
            "  token:     {exe} token --tenant acme --user alice --data-dir {}",
            args.data_dir.display()
        );
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("stowage-local: cannot wait for Ctrl-C: {e}");
        }
        server.stop().await;
        ExitCode::SUCCESS
    })
}
