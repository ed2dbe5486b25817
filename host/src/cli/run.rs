//! `siglearn run`: the daemon.

use std::path::PathBuf;

use clap::Args;

use crate::config::{Config, missing_folder};

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// siglearn.toml (default: none; every key has a default).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7878, or daemon.listen].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The SQLite store [default: ./siglearn.db, or daemon.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// The strategy scripts folder, watched for changes [default: ./scripts, or daemon.scripts].
    #[arg(long, value_name = "DIR")]
    scripts: Option<PathBuf>,
    /// The plugin library folder, watched for changes [default: ./plugins, or daemon.plugins].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
}

pub(super) fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.daemon.listen = listen;
    }
    // A folder named on the command line must exist, as one named in the
    // file must (flags are relative to the working directory).
    let mut problems = Vec::new();
    if let Some(db) = args.db {
        if let Some(folder) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
            problems.extend(missing_folder("--db's folder", folder));
        }
        config.daemon.db = db;
    }
    if let Some(scripts) = args.scripts {
        problems.extend(missing_folder("--scripts", &scripts));
        config.daemon.scripts = scripts;
    }
    if let Some(plugins) = args.plugins {
        problems.extend(missing_folder("--plugins", &plugins));
        config.daemon.plugins = plugins;
    }
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("\n"));
    }
    crate::daemon::run(config)
}
