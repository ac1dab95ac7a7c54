//! Text data sets for the language models: makemore's names and tiny Shakespeare (fetched and
//! checked against a pinned SHA-256, as MNIST's files are), slices of both built into the
//! binary, and the splits the lectures make.

use std::path::Path;

use super::fetch::{fetch_files, FetchEvent, Sources};
use super::{data_dir, DataError};
use crate::files::read_regular;
use crate::text::named_choices;

/// A text data set scratchgrad knows how to get and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corpus {
    /// makemore's `names.txt`: 32,033 lower-case first names, one a line.
    Names,
    /// Every 16th of those names (2,003), built in: no download needed.
    NamesMini,
    /// char-rnn's tiny Shakespeare: 1,115,394 characters of the plays.
    Shakespeare,
    /// Its first 65,536 characters, built in.
    ShakespeareMini,
}

named_choices!(Corpus, "text data set", [
    Names => "names",
    NamesMini => "names-mini",
    Shakespeare => "shakespeare",
    ShakespeareMini => "shakespeare-mini",
]);

/// How a corpus is cut into examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// One example per line (a name), each starting and ending at a boundary token.
    Lines,
    /// One long text, read in windows.
    Stream,
}

/// A corpus's file: its name in the data folder, where it is published, its SHA-256.
#[derive(Debug, Clone, Copy)]
pub struct TextFile {
    pub name: &'static str,
    pub url: &'static str,
    pub sha256: &'static str,
}

const NAMES_FILE: TextFile = TextFile {
    name: "names.txt",
    url: "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt",
    sha256: "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d",
};

const SHAKESPEARE_FILE: TextFile = TextFile {
    name: "tinyshakespeare.txt",
    url:
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    sha256: "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
};

/// The built-in slices, made by `tools/make_text_mini.py`.
const NAMES_MINI: &str = include_str!("../../assets/text-mini/names-mini.txt");
const SHAKESPEARE_MINI: &str = include_str!("../../assets/text-mini/shakespeare-mini.txt");

/// The largest text file read (tiny Shakespeare is 1.1 MB).
pub const MAX_TEXT_BYTES: u64 = 64 << 20;

/// makemore's test set: a tenth of the names, at most this many.
pub const MAX_TEST_NAMES: usize = 1000;

/// makemore.py's default seed: with it, [`Corpus::split`] holds out the 1,000 names that
/// makemore.py holds out, so held-out losses compare with makemore's own.
pub const MAKEMORE_SEED: u32 = 3407;

/// The permutation `torch.randperm(n)` gives after `torch.manual_seed(seed)` on the CPU:
/// PyTorch's generator is a Mersenne Twister (MT19937), and its `randperm` walks forward,
/// swapping place `i` with place `i + draw % (n - i)`.
///
/// ```
/// // torch.manual_seed(3407); torch.randperm(10) -> [9, 1, 5, 7, 3, 2, 8, 6, 4, 0]
/// assert_eq!(scratchgrad::data::torch_randperm(10, 3407), [9, 1, 5, 7, 3, 2, 8, 6, 4, 0]);
/// ```
pub fn torch_randperm(n: usize, seed: u32) -> Vec<usize> {
    let mut twister = rand_mt::Mt::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..n.saturating_sub(1) {
        let draw = twister.next_u32() as usize % (n - i);
        order.swap(i, i + draw);
    }
    order
}

impl Corpus {
    /// The file to fetch, or `None` for a built-in slice.
    pub fn file(self) -> Option<TextFile> {
        match self {
            Corpus::Names => Some(NAMES_FILE),
            Corpus::Shakespeare => Some(SHAKESPEARE_FILE),
            Corpus::NamesMini | Corpus::ShakespeareMini => None,
        }
    }

    /// Whether its examples are lines or one stream.
    pub fn kind(self) -> TextKind {
        match self {
            Corpus::Names | Corpus::NamesMini => TextKind::Lines,
            Corpus::Shakespeare | Corpus::ShakespeareMini => TextKind::Stream,
        }
    }

    /// The whole text: built in, or from the data folder (`data_dir_given`, else the default:
    /// see [`data_dir`]), where a missing file is fetched first from its public address,
    /// reporting to `on_event`, for as long as `stop()` stays false. A folder that already
    /// holds the file under its name (`names.txt`, `tinyshakespeare.txt`) is used as it is.
    pub fn load(
        self,
        data_dir_given: Option<&Path>,
        on_event: &mut dyn FnMut(FetchEvent),
        stop: &dyn Fn() -> bool,
    ) -> Result<String, DataError> {
        let Some(file) = self.file() else {
            return Ok(match self {
                Corpus::NamesMini => NAMES_MINI,
                _ => SHAKESPEARE_MINI,
            }
            .to_string());
        };
        let dir = data_dir(data_dir_given)?;
        let sources = Sources::text(file.url);
        let label = self.to_string();
        fetch_files(
            &label,
            &[(file.name, file.sha256)],
            &dir,
            &sources,
            "",
            on_event,
            stop,
        )?;
        let path = dir.join(file.name);
        let bytes = read_regular(&path, MAX_TEXT_BYTES)
            .map_err(|e| DataError::new(path.display().to_string(), e.to_string()))?;
        String::from_utf8(bytes)
            .map_err(|_| DataError::new(path.display().to_string(), "is not UTF-8 text"))
    }

    /// The training and test examples of `text`, as the lectures cut them: names are put in
    /// the order of [`torch_randperm`] and the last tenth, at most [`MAX_TEST_NAMES`], is the
    /// test set (makemore.py's `create_datasets`: with [`MAKEMORE_SEED`], the same names);
    /// a stream's first 90% trains and its last 10% tests (nanoGPT's `prepare.py`). A stream
    /// is one example.
    ///
    /// ```
    /// use scratchgrad::data::Corpus;
    /// let text = Corpus::NamesMini.load(None, &mut |_| {}, &|| false).unwrap();
    /// let (train, test) = Corpus::NamesMini.split(&text, 3407).unwrap();
    /// assert_eq!((train.len(), test.len()), (1803, 200));
    /// ```
    pub fn split(self, text: &str, seed: u32) -> Result<(Vec<String>, Vec<String>), DataError> {
        match self.kind() {
            TextKind::Lines => {
                let mut lines: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect();
                if lines.len() < 10 {
                    return Err(DataError::new(
                        self.to_string(),
                        format!(
                            "has {} lines; it needs at least 10 to hold some out",
                            lines.len()
                        ),
                    ));
                }
                let mut shuffled: Vec<String> = torch_randperm(lines.len(), seed)
                    .into_iter()
                    .map(|i| std::mem::take(&mut lines[i]))
                    .collect();
                let held_out = (shuffled.len() / 10).min(MAX_TEST_NAMES);
                let test = shuffled.split_off(shuffled.len() - held_out);
                Ok((shuffled, test))
            }
            TextKind::Stream => {
                let chars: Vec<char> = text.chars().collect();
                if chars.len() < 100 {
                    return Err(DataError::new(
                        self.to_string(),
                        format!("has {} characters; it needs at least 100", chars.len()),
                    ));
                }
                let cut = chars.len() * 9 / 10;
                Ok((
                    vec![chars[..cut].iter().collect()],
                    vec![chars[cut..].iter().collect()],
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_pytorchs() {
        // tools/torch_randperm_reference.py: torch.randperm after torch.manual_seed
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/torch_randperm.json")).unwrap();
        let numbers = |v: &serde_json::Value| -> Vec<usize> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as usize)
                .collect()
        };
        for case in fixture["whole"].as_array().unwrap() {
            let (n, seed) = (case["n"].as_u64().unwrap(), case["seed"].as_u64().unwrap());
            let ours = torch_randperm(n as usize, seed as u32);
            assert_eq!(ours, numbers(&case["permutation"]), "n {n}, seed {seed}");
        }
        // makemore.py's 1,000 held-out names are the last 1,000 of names.txt's permutation
        let names = &fixture["makemore_names"];
        let ours = torch_randperm(32_033, MAKEMORE_SEED);
        assert_eq!(ours[32_033 - 1000..], numbers(&names["last_1000"]));
        assert!(torch_randperm(0, 1).is_empty());
    }

    #[test]
    fn the_slices_are_the_files_the_tool_made() {
        // The SHA-256 sums printed by `sha256sum` on tools/make_text_mini.py's output.
        let sums = [
            (
                NAMES_MINI,
                "1b209833dd6500168757061391956d7665f8effa28f6f8154ca084345f3f908d",
            ),
            (
                SHAKESPEARE_MINI,
                "6ecb14ae69476c437037abfd1a16b348e2ff0dc994c04a08a5f9970a4492034f",
            ),
        ];
        for (text, sum) in sums {
            assert_eq!(super::super::fetch::sha256_hex(text.as_bytes()), sum);
        }
        assert_eq!(NAMES_MINI.lines().count(), 2003);
        assert_eq!(SHAKESPEARE_MINI.chars().count(), 65536);
    }

    #[test]
    fn a_stream_splits_at_nine_tenths_and_names_hold_out_a_tenth() {
        let text = Corpus::ShakespeareMini
            .load(None, &mut |_| {}, &|| false)
            .unwrap();
        let (train, test) = Corpus::ShakespeareMini.split(&text, 0).unwrap();
        assert_eq!(train[0].chars().count(), 58982);
        assert_eq!(train[0].clone() + &test[0], text);
        let names = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n";
        let (train, test) = Corpus::Names.split(names, 1).unwrap();
        assert_eq!((train.len(), test.len()), (11, 1));
        let (again, _) = Corpus::Names.split(names, 1).unwrap();
        assert_eq!(train, again);
        let mut all: Vec<String> = train.into_iter().chain(test).collect();
        all.sort();
        assert_eq!(all.concat(), "abcdefghijkl");
        assert!(Corpus::Names.split("a\n\n b \n", 1).is_err());
        assert!(Corpus::Shakespeare.split("", 1).is_err());
    }
}
