//! `class-board`: serves the class board until Ctrl-C.
//!
//! ```text
//! cargo run -p class-board -- --addr 0.0.0.0:7878 --jaeger-ui-url http://192.168.1.20:16686
//! ```
//!
//! Usually started by `cargo workbook class serve`, which passes the same flags and adds the
//! workbook's steps as columns.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::{Context, Result, bail};
use clap::Parser;
use class_board::{
    announce,
    board::{Board, Marks},
    http::{self, Class},
    store::ReportLog,
    token,
};

/// The class board: every learner's checks on one page.
#[derive(Parser)]
#[command(name = "class-board")]
struct Args {
    /// Where to listen. The default is this machine only; `0.0.0.0:7878` opens it to the room.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// The token learners must send. Without it, one is made and kept beside the data file,
    /// so a restart keeps it.
    #[arg(long)]
    token: Option<String>,
    /// The reports, one JSON line each, appended and read back at start.
    #[arg(long, default_value = "target/class-board/reports.jsonl")]
    data: PathBuf,
    /// The shared Jaeger's UI (e.g. http://192.168.1.20:16686): each name links to that
    /// learner's traces there.
    #[arg(long)]
    jaeger_ui_url: Option<String>,
    /// Steps to show as columns before anyone reports them, comma-separated (01,02,...).
    #[arg(long, value_delimiter = ',')]
    steps: Vec<String>,
    /// Mark a row "stuck" when its step has failed for longer than this.
    #[arg(long, default_value_t = 10)]
    stuck_minutes: u64,
    /// Mark a row "silent" when it has not checked for longer than this.
    #[arg(long, default_value_t = 15)]
    silent_minutes: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(token) = &args.token
        && !token::is_valid(token)
    {
        bail!("--token must be 1 to 128 letters, digits, '-', '_', '.' or '~'");
    }
    let jaeger_ui_url = args
        .jaeger_ui_url
        .map(|url| url.trim_end_matches('/').to_string());
    if let Some(url) = &jaeger_ui_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        bail!("--jaeger-ui-url must start with http:// or https://");
    }

    let steps = args.steps.iter().filter(|s| !s.is_empty()).cloned();
    let marks = Marks {
        stuck_after_ms: args.stuck_minutes * 60 * 1000,
        silent_after_ms: args.silent_minutes * 60 * 1000,
    };
    let reloaded = ReportLog::open(&args.data, Board::new(steps).with_marks(marks))
        .with_context(|| format!("cannot open the data file {}", args.data.display()))?;
    let (token, source) = token::resolve(args.token, &args.data).with_context(|| {
        format!(
            "cannot keep the token in {}",
            token::path_for(&args.data).display()
        )
    })?;
    let instructor_path = token::instructor_path_for(&args.data);
    let (instructor, _) = token::resolve_in(None, &instructor_path)
        .with_context(|| format!("cannot keep the token in {}", instructor_path.display()))?;

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: is a board already running?",
                args.addr
            )
        })?;
    let addr = listener.local_addr()?;

    println!("Class board on {addr}");
    println!(
        "Reports: {} ({} from {} learners read back{})",
        args.data.display(),
        reloaded.board.report_count(),
        reloaded.board.learner_count(),
        match reloaded.skipped {
            0 => String::new(),
            n => format!("; {n} unreadable lines skipped"),
        }
    );
    match source {
        token::Source::Given => {}
        token::Source::Saved => println!(
            "Token: the one saved in {} (delete it for a new one)",
            token::path_for(&args.data).display()
        ),
        token::Source::Made => println!(
            "Token: made now and saved in {}",
            token::path_for(&args.data).display()
        ),
    }
    println!();
    print!(
        "{}",
        announce::text(addr, &token, Some(&instructor), jaeger_ui_url.as_deref())
    );
    println!("\nStop with Ctrl-C: the reports stay in the data file for the next start.");

    let join = announce::join_lines(addr, &token);
    let class = Class::new(token, jaeger_ui_url, reloaded.board, reloaded.log)
        .with_instructor_token(instructor)
        .with_join_lines(join);
    let class = Arc::new(class);
    axum::serve(listener, http::router(class))
        .with_graceful_shutdown(signal())
        .await?;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler only fails outside a Tokio runtime");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
