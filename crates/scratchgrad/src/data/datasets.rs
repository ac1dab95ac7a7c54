//! The data sets: MNIST, Fashion-MNIST, and the small `mnist-mini` shipped inside the binary.

use std::path::Path;

use super::idx::{parse_idx, Idx, MAX_IDX_BYTES};
use super::DataError;
use crate::array::{for_each_part, Array, Rng};
use crate::files::read_regular;
use crate::text::named_choices;

/// A data set scratchgrad knows how to get and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetName {
    /// LeCun, Cortes and Burges' handwritten digits: 60,000 training and 10,000 test images.
    Mnist,
    /// Zalando's Fashion-MNIST: the same format, ten kinds of clothing.
    FashionMnist,
    /// 5,000 training and 1,000 test images of MNIST (the first 500 and 100 of each digit),
    /// compiled into the binary: no download needed.
    MnistMini,
}

/// Training or test images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training set.
    Train,
    /// The test set.
    Test,
}

/// One of a data set's four files: its name and the SHA-256 of its raw (decompressed) bytes.
#[derive(Debug, Clone, Copy)]
pub struct FileSpec {
    /// The file's name, e.g. `train-images-idx3-ubyte`.
    pub name: &'static str,
    /// Lower-case hex SHA-256 of the raw file.
    pub sha256: &'static str,
}

const MNIST_FILES: [FileSpec; 4] = [
    FileSpec {
        name: "train-images-idx3-ubyte",
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    FileSpec {
        name: "train-labels-idx1-ubyte",
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    FileSpec {
        name: "t10k-images-idx3-ubyte",
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    FileSpec {
        name: "t10k-labels-idx1-ubyte",
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

const FASHION_FILES: [FileSpec; 4] = [
    FileSpec {
        name: "train-images-idx3-ubyte",
        sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    },
    FileSpec {
        name: "train-labels-idx1-ubyte",
        sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
    FileSpec {
        name: "t10k-images-idx3-ubyte",
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
    FileSpec {
        name: "t10k-labels-idx1-ubyte",
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
];

/// `mnist-mini`, gzip-compressed IDX made by `tools/make_mnist_mini.py`.
const MINI: [&[u8]; 4] = [
    include_bytes!("../../assets/mnist-mini/train-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist-mini/train-labels-idx1-ubyte.gz"),
    include_bytes!("../../assets/mnist-mini/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist-mini/t10k-labels-idx1-ubyte.gz"),
];

const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
const CLOTHES: [&str; 10] = [
    "T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot",
];

impl DatasetName {
    /// The four files (training images, training labels, test images, test labels).
    pub fn files(self) -> [FileSpec; 4] {
        match self {
            DatasetName::Mnist | DatasetName::MnistMini => MNIST_FILES,
            DatasetName::FashionMnist => FASHION_FILES,
        }
    }

    /// The image and label files of one split.
    pub fn split_files(self, split: Split) -> [FileSpec; 2] {
        let [train_images, train_labels, test_images, test_labels] = self.files();
        match split {
            Split::Train => [train_images, train_labels],
            Split::Test => [test_images, test_labels],
        }
    }

    /// What each of the ten labels means.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            DatasetName::FashionMnist => CLOTHES,
            _ => DIGITS,
        }
    }

    /// Each image's height and width.
    pub fn image_size(self) -> (usize, usize) {
        (28, 28)
    }

    /// Whether the files must be fetched (everything but `mnist-mini`).
    pub fn needs_files(self) -> bool {
        self != DatasetName::MnistMini
    }

    /// The folder, inside the data directory, that holds this data set's files.
    pub fn folder(self) -> &'static str {
        match self {
            DatasetName::FashionMnist => "fashion-mnist",
            _ => "mnist",
        }
    }
}

named_choices!(DatasetName, "data set", [Mnist => "mnist", FashionMnist => "fashion-mnist", MnistMini => "mnist-mini"]);

/// Images and labels, kept as the bytes they were stored as.
#[derive(Clone)]
pub struct Dataset {
    /// `count * rows * cols` pixels, 0 (background) to 255 (ink).
    pub images: Vec<u8>,
    /// One label per image, below 10.
    pub labels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
}

/// Reads one file of a data set from `dir`: the raw file if present, else its `.gz`. Only a
/// regular file of at most [`MAX_IDX_BYTES`] is read.
fn read_file(dir: &Path, name: &str, rank: usize) -> Result<Idx, DataError> {
    for candidate in [dir.join(name), dir.join(format!("{name}.gz"))] {
        let shown = candidate.display().to_string();
        match read_regular(&candidate, MAX_IDX_BYTES) {
            Ok(bytes) => return parse_idx(&bytes, rank, &shown),
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(DataError::new(shown, e.to_string())),
        }
    }
    Err(DataError::new(
        dir.join(name).display().to_string(),
        "is missing (nor is there a .gz): run `scratchgrad data fetch` to get it",
    ))
}

impl Dataset {
    /// Pairs parsed image and label files, checking that they fit each other.
    pub fn from_idx(images: Idx, labels: Idx, name: &str) -> Result<Self, DataError> {
        if images.dims.len() != 3 || labels.dims.len() != 1 {
            return Err(DataError::new(
                name,
                "needs a 3-D image file and a 1-D label file",
            ));
        }
        if images.dims[0] != labels.dims[0] {
            return Err(DataError::new(
                name,
                format!(
                    "has {} images but {} labels",
                    images.dims[0], labels.dims[0]
                ),
            ));
        }
        if let Some(i) = labels.data.iter().position(|&l| l >= 10) {
            return Err(DataError::new(
                name,
                format!(
                    "has label {} at position {i}; labels must be 0 to 9",
                    labels.data[i]
                ),
            ));
        }
        Ok(Dataset {
            images: images.data,
            labels: labels.data,
            rows: images.dims[1],
            cols: images.dims[2],
        })
    }

    /// Loads a split of a data set from `dir` (ignored for `mnist-mini`, which is built in).
    pub fn load(name: DatasetName, split: Split, dir: &Path) -> Result<Self, DataError> {
        let (images, labels) = match split {
            Split::Train => (0, 1),
            Split::Test => (2, 3),
        };
        let label = format!(
            "{name} {}",
            if split == Split::Train {
                "training set"
            } else {
                "test set"
            }
        );
        if name == DatasetName::MnistMini {
            let files = name.files();
            let images = parse_idx(MINI[images], 3, &format!("built-in {}", files[images].name))?;
            let labels = parse_idx(MINI[labels], 1, &format!("built-in {}", files[labels].name))?;
            return Dataset::from_idx(images, labels, &label);
        }
        let files = name.files();
        let images = read_file(dir, files[images].name, 3)?;
        let labels = read_file(dir, files[labels].name, 1)?;
        Dataset::from_idx(images, labels, &label)
    }

    /// The images at `indices`, in that order, as a data set of their own.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * self.pixels());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// Holds out `fraction` of the images for validation, chosen by a shuffle seeded from
    /// `seed`: (the rest for training, the held-out images). Both keep the original order.
    pub fn split(&self, fraction: f64, seed: u64) -> (Dataset, Dataset) {
        let held = Dataset::held_out(self.len(), fraction);
        let mut order: Vec<usize> = (0..self.len()).collect();
        Rng::seed(seed ^ VALIDATION_STREAM).shuffle(&mut order);
        let (mut validation, mut training) = (order[..held].to_vec(), order[held..].to_vec());
        validation.sort_unstable();
        training.sort_unstable();
        (self.subset(&training), self.subset(&validation))
    }

    /// How many of `len` images [`Dataset::split`] holds out for `fraction`.
    pub fn held_out(len: usize, fraction: f64) -> usize {
        ((len as f64 * fraction).round() as usize).min(len)
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// Image `i` as bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * self.pixels()..(i + 1) * self.pixels()]
    }

    /// Reads one byte per cache line of each image at `indices`. The images sit at random
    /// places in tens of megabytes, so each line is a miss; touching them all first lets the
    /// misses overlap (these loads do not wait on each other) instead of one image's at a time.
    fn touch(&self, indices: &[usize]) {
        let touched = indices
            .iter()
            .flat_map(|&i| self.image(i).iter().step_by(CACHE_LINE))
            .fold(0u8, |sum, &p| sum.wrapping_add(p));
        std::hint::black_box(touched);
    }

    /// The images at `indices` as a `[n, pixels]` array of values in [0, 1], and their
    /// labels: the only place bytes become floats.
    pub fn batch(&self, indices: &[usize]) -> (Array<f32>, Vec<usize>) {
        let pixels = self.pixels();
        let len = indices.len() * pixels;
        let mut x: Vec<f32> = Vec::with_capacity(len);
        if len > 0 {
            // Rows are independent: a batch of `PARALLEL_MIN` values or more (21 MNIST
            // images) is split across threads, a few images converted here.
            let rows = &mut x.spare_capacity_mut()[..len];
            for_each_part(rows, pixels, PARALLEL_MIN, |start, part| {
                let indices = &indices[start / pixels..][..part.len() / pixels];
                self.touch(indices);
                for (row, &i) in part.chunks_exact_mut(pixels).zip(indices) {
                    for (value, &p) in row.iter_mut().zip(self.image(i)) {
                        value.write(p as f32 * (1.0 / 255.0));
                    }
                }
            });
        }
        // SAFETY: the parts cover all `len` values, and every row was written in full.
        unsafe { x.set_len(len) };
        let labels = indices.iter().map(|&i| self.labels[i] as usize).collect();
        (Array::from_vec(x, &[indices.len(), pixels]), labels)
    }
}

/// Bytes per cache line on the CPUs we run on (x86-64, most ARM cores).
const CACHE_LINE: usize = 64;

/// Batches of fewer values than this are converted on the calling thread. A training batch of
/// 64 MNIST images (50,176 values) is split: it takes about 17 us on one thread, most of it
/// waiting for images that lie at random in 47 MB, and a step of the MLP on two threads about
/// 280 us (docs/BENCHMARKS.md).
const PARALLEL_MIN: usize = 1 << 14;

/// Mixed into the seed of the validation split, so it is not the shuffle of any epoch.
const VALIDATION_STREAM: u64 = 0x5EED_0F5A_11D0_u64;

/// The order in which epoch `epoch` visits `n` examples: a Fisher-Yates shuffle by a
/// generator seeded from `(seed, epoch)`, so any epoch can be replayed (for `--resume`)
/// without replaying the ones before it.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::seed(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.shuffle(&mut order);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist_mini_is_stratified() {
        let train =
            Dataset::load(DatasetName::MnistMini, Split::Train, Path::new("unused")).unwrap();
        let test = Dataset::load(DatasetName::MnistMini, Split::Test, Path::new("unused")).unwrap();
        assert_eq!(
            (train.len(), test.len(), train.rows, train.cols),
            (5000, 1000, 28, 28)
        );
        for digit in 0..10u8 {
            assert_eq!(train.labels.iter().filter(|&&l| l == digit).count(), 500);
            assert_eq!(test.labels.iter().filter(|&&l| l == digit).count(), 100);
        }
        let (x, y) = train.batch(&[0, 1]);
        assert_eq!(x.shape(), &[2, 784]);
        assert!(x.data().iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(y, vec![train.labels[0] as usize, train.labels[1] as usize]);
    }

    #[test]
    fn every_batch_row_is_its_image_over_255_small_or_split_across_threads() {
        let train =
            Dataset::load(DatasetName::MnistMini, Split::Train, Path::new("unused")).unwrap();
        // 3 images convert on the calling thread; 1,000 (more than `PARALLEL_MIN` values)
        // are split across the helpers when there are several cores.
        for count in [3, 1000] {
            let indices: Vec<usize> = (0..count).map(|k| (k * 7919) % train.len()).collect();
            let (x, _) = train.batch(&indices);
            for (row, &i) in x.data().chunks_exact(784).zip(&indices) {
                let want: Vec<f32> = train.image(i).iter().map(|&p| p as f32 / 255.0).collect();
                let close = row.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-7);
                assert!(close, "row of image {i} in a batch of {count}");
            }
        }
        assert_eq!(train.batch(&[]).0.shape(), &[0, 784]);
    }

    #[test]
    fn epochs_shuffle_differently_but_reproducibly() {
        assert_eq!(epoch_order(100, 0, 3), epoch_order(100, 0, 3));
        assert_ne!(epoch_order(100, 0, 3), epoch_order(100, 0, 4));
        assert_ne!(epoch_order(100, 0, 3), epoch_order(100, 1, 3));
    }

    #[test]
    fn validation_splits_are_seeded_and_disjoint() {
        let train =
            Dataset::load(DatasetName::MnistMini, Split::Train, Path::new("unused")).unwrap();
        let (rest, held) = train.split(0.1, 7);
        assert_eq!((rest.len(), held.len()), (4500, 500));
        let (rest_again, held_again) = train.split(0.1, 7);
        assert!(held.images == held_again.images && rest.labels == rest_again.labels);
        assert!(train.split(0.1, 8).1.images != held.images);
        // Every image lands on exactly one side: the pixel sums add up.
        let sum = |d: &Dataset| d.images.iter().map(|&p| p as u64).sum::<u64>();
        assert_eq!(sum(&rest) + sum(&held), sum(&train));
    }

    #[test]
    fn labels_out_of_range_are_refused() {
        let images = Idx {
            dims: vec![1, 1, 1],
            data: vec![0],
        };
        let labels = Idx {
            dims: vec![1],
            data: vec![10],
        };
        let err = Dataset::from_idx(images, labels, "x").err().unwrap();
        assert_eq!(
            err.to_string(),
            "x: has label 10 at position 0; labels must be 0 to 9"
        );
    }
}
