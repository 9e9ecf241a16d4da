//! Where the repository is (`--repo`, `--stanza`) and the `[xb]` group of the option files,
//! which gives these and the repository's other settings so that cron lines stay short:
//!
//! ```ini
//! [xb]
//! repo = s3://backups/db1
//! stanza = db1
//! aws-region = eu-west-1
//! aws-access-key-id = AKIA…
//! aws-secret-access-key = …        # keep this file mode 0600
//! compress = zstd
//! encrypt-key-file = /etc/xb/backup.key
//! retain-full = 2
//! ```
//!
//! Secrets are never taken from the command line: from the environment (`AWS_*`, …) or from
//! an option file. Options on the command line win over the `[xb]` group; the group's
//! `aws-*`, `google-*` and `azure-*` settings win over the environment.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use incremental_core::format::option_file::OptionFiles;
use incremental_core::repo::{Repository, StoreOptions, DEFAULT_STANZA};

/// The option-file group xb reads its repository settings from.
pub const GROUP: &str = "xb";

/// `--repo` and `--stanza`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RepoArgs {
    /// The repository: a local directory, or s3://BUCKET/PREFIX (configured by the AWS_*
    /// variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, and AWS_ENDPOINT_URL
    /// for an S3-compatible store), gs://BUCKET/PREFIX or az://CONTAINER/PREFIX. Default: `repo`
    /// in the xb group of the option files.
    #[arg(long, value_name = "URL", help_heading = "Repository")]
    pub repo: Option<String>,
    /// The stanza: the name under which the backups of one server are kept (default: `stanza`
    /// in the xb option group, else "main").
    #[arg(long, value_name = "NAME", help_heading = "Repository")]
    pub stanza: Option<String>,
    /// How long an unreachable object store is retried before the command fails (default:
    /// `repo-retry-timeout` in the xb option group, else 180 s).
    #[arg(long, value_name = "SECONDS", help_heading = "Repository")]
    pub repo_retry_timeout: Option<u64>,
}

/// The `[xb]` group of the option files.
#[derive(Debug, Clone, Default)]
pub struct Config {
    files: OptionFiles,
}

impl Config {
    /// Reads the `[xb]` group of the standard option files (as the MariaDB clients find them),
    /// or of `defaults_file` alone, plus `extra_file`.
    pub fn read(defaults_file: Option<&Path>, extra_file: Option<&Path>) -> Config {
        Config {
            files: OptionFiles::read(defaults_file, extra_file, &[GROUP]),
        }
    }

    /// The value of `name` (`-` or `_` alike).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.files.get(name)
    }

    /// The value of `name` as a number.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> anyhow::Result<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| anyhow::anyhow!("[{GROUP}] {name} = {v}: not a number")),
        }
    }

    /// Whether the boolean option `name` is on (`name`, `name=1`, `name=ON`, `name=true`).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "" | "1" | "on" | "true" | "yes"
            )
        })
    }

    /// The object-store settings of the group (`aws-…`, `google-…`, `azure-…`).
    fn store_settings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.entries().iter().filter_map(|(k, v)| {
            ["aws_", "google_", "azure_"]
                .iter()
                .any(|p| k.starts_with(p))
                .then_some((k.as_str(), v.as_str()))
        })
    }
}

impl RepoArgs {
    /// Whether a repository is named, on the command line or in `[xb]`.
    pub fn given(&self, config: &Config) -> bool {
        self.repo.is_some() || config.get("repo").is_some()
    }

    /// Opens the stanza these arguments (over `config`) name.
    pub fn open(&self, config: &Config) -> anyhow::Result<Repository> {
        let Some(url) = self.repo.as_deref().or_else(|| config.get("repo")) else {
            bail!("no repository: give --repo URL, or `repo = URL` in the [{GROUP}] group of an option file");
        };
        let stanza = self
            .stanza
            .as_deref()
            .or_else(|| config.get("stanza"))
            .unwrap_or(DEFAULT_STANZA);
        let mut opts = StoreOptions::default();
        let retry = match self.repo_retry_timeout {
            Some(s) => Some(s),
            None => config.number::<u64>("repo-retry-timeout")?,
        };
        if let Some(s) = retry {
            opts.set_retry_timeout(Duration::from_secs(s));
        }
        for (name, value) in config.store_settings() {
            opts.set(name, value);
        }
        Repository::open(url, &opts, stanza)
            .with_context(|| format!("opening the repository {url}"))
    }
}
