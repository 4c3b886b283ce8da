//! The checkpoint: everything a run needs to continue exactly where it stopped.
//!
//! ```text
//! "NNMCKPT1"                      8 bytes, magic and version
//! header length                   u32 little-endian
//! header                          JSON: config, completed epoch, RNG state, Adam step
//! parameters | Adam m | Adam v    3 × P f32 little-endian, the flat layout of `network::Flat`
//! SHA-256                         32 bytes, of everything above
//! ```
//!
//! Written atomically after every epoch, so a crash or `kill -9` leaves the previous one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use nn_train::adam::Adam;
use nn_train::network::Flat;
use nn_train::rng::Rng;
use nn_train::{TrainConfig, Trainer};

const MAGIC: &[u8; 8] = b"NNMCKPT1";
const DIGEST: usize = 32;
/// The longest JSON header read: a few hundred bytes in practice.
const MAX_HEADER: usize = 64 << 10;
/// The largest checkpoint read: the header, and parameters plus both Adam moments of the
/// largest network the trainer builds (`MAX_PARAMETERS`, those of 784-`MAX_HIDDEN`-10).
pub const MAX_BYTES: u64 =
    (MAGIC.len() + 4 + MAX_HEADER + 12 * super::MAX_PARAMETERS + DIGEST) as u64;

/// Why a checkpoint could not be written or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not a regular file, or is larger than any checkpoint.
    #[error("checkpoint {}: {source}", nn_data::read::show(path))]
    Unreadable {
        /// The checkpoint file.
        path: PathBuf,
        /// What went wrong.
        source: nn_data::read::ReadError,
    },
    /// The bytes are not a whole, intact checkpoint.
    #[error(
        "checkpoint {}: corrupt ({why}); delete it or train without --resume",
        nn_data::read::show(path)
    )]
    Corrupt {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The checkpoint was made by a run with other settings.
    #[error(
        "checkpoint {path}: made with {field} = {saved}, this run has {field} = {requested}; \
         use the same settings or another --out"
    )]
    Mismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The setting that differs.
        field: &'static str,
        /// Its value in the checkpoint.
        saved: String,
        /// Its value in this run.
        requested: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Header {
    config: TrainConfig,
    epoch: usize,
    rng_state: u64,
    adam_step: u64,
    parameters: usize,
}

/// The checkpoint's bytes for `trainer` as it stands.
pub fn encode(trainer: &Trainer) -> Vec<u8> {
    let header = Header {
        config: trainer.config.clone(),
        epoch: trainer.epoch,
        rng_state: trainer.rng.state,
        adam_step: trainer.adam.t,
        parameters: trainer.net.params.data.len(),
    };
    let json = serde_json::to_vec(&header).expect("the header is plain data");
    let p = header.parameters;
    let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + json.len() + 12 * p + DIGEST);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(json.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&json);
    for buf in [&trainer.net.params, &trainer.adam.m, &trainer.adam.v] {
        bytes.extend(buf.data.iter().flat_map(|v| v.to_le_bytes()));
    }
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(digest.as_slice());
    bytes
}

/// Writes `trainer`'s checkpoint to `path` atomically.
pub fn save(path: &Path, trainer: &Trainer) -> Result<(), CheckpointError> {
    crate::files::atomic::write(path, &encode(trainer)).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the checkpoint at `path` and rebuilds its trainer, refusing one whose settings
/// differ from `expected` in anything but the number of epochs.
pub fn load(path: &Path, expected: &TrainConfig) -> Result<Trainer, CheckpointError> {
    let bytes =
        nn_data::read::read_capped(path, MAX_BYTES, "a checkpoint").map_err(|e| match e {
            nn_data::read::ReadError::Io(source) => CheckpointError::Io {
                path: path.to_path_buf(),
                source,
            },
            source => CheckpointError::Unreadable {
                path: path.to_path_buf(),
                source,
            },
        })?;
    decode(&bytes, expected).map_err(|e| match e {
        Problem::Corrupt(why) => CheckpointError::Corrupt {
            path: path.to_path_buf(),
            why,
        },
        Problem::Mismatch(field, saved, requested) => CheckpointError::Mismatch {
            path: path.to_path_buf(),
            field,
            saved,
            requested,
        },
    })
}

enum Problem {
    Corrupt(String),
    Mismatch(&'static str, String, String),
}

fn decode(bytes: &[u8], expected: &TrainConfig) -> Result<Trainer, Problem> {
    let corrupt = |why: &str| Problem::Corrupt(why.to_string());
    if bytes.len() < MAGIC.len() + 4 + DIGEST || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt("not a checkpoint: bad magic or too short"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - DIGEST);
    if Sha256::digest(body).as_slice() != digest {
        return Err(corrupt("checksum mismatch (truncated or damaged)"));
    }
    let len_bytes: [u8; 4] = body[8..12]
        .try_into()
        .map_err(|_| corrupt("short header"))?;
    let json_len = u32::from_le_bytes(len_bytes) as usize;
    let json = body
        .get(12..12 + json_len)
        .ok_or_else(|| corrupt("header runs past the end"))?;
    let header: Header =
        serde_json::from_slice(json).map_err(|e| Problem::Corrupt(format!("header: {e}")))?;
    check_config(&header.config, expected)?;
    let sizes = expected.sizes();
    let p = nn_train::flat::parameters(&sizes)
        .ok_or_else(|| corrupt("the network's parameter count overflows"))?;
    let floats = &body[12 + json_len..];
    if header.parameters != p || floats.len() != 12 * p {
        return Err(corrupt("parameter count does not match the network"));
    }
    let read = |k: usize| Flat {
        sizes: sizes.clone(),
        data: floats[k * 4 * p..(k + 1) * 4 * p]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    };
    let (params, m, v) = (read(0), read(1), read(2));
    // A checksum only says the bytes are as written; a NaN written by a bug or a forger
    // would otherwise surface as "training diverged" and blame the learning rate.
    for (name, buf) in [("parameter", &params), ("Adam m", &m), ("Adam v", &v)] {
        if let Some(i) = buf.data.iter().position(|x| !x.is_finite()) {
            return Err(Problem::Corrupt(format!("{name} {i} is NaN or infinite")));
        }
    }
    let adam = Adam {
        config: expected.adam,
        m,
        v,
        t: header.adam_step,
    };
    Ok(Trainer::assemble(
        header.config,
        params,
        Some(adam),
        Rng::from_state(header.rng_state),
        header.epoch,
    ))
}

fn check_config(saved: &TrainConfig, wanted: &TrainConfig) -> Result<(), Problem> {
    let fields: [(&'static str, String, String); 8] = [
        ("preset", saved.preset.clone(), wanted.preset.clone()),
        (
            "hidden",
            super::hidden_list(&saved.hidden),
            super::hidden_list(&wanted.hidden),
        ),
        (
            "activation",
            format!("{:?}", saved.activation),
            format!("{:?}", wanted.activation),
        ),
        (
            "scaling",
            format!("{:?}", saved.scaling),
            format!("{:?}", wanted.scaling),
        ),
        (
            "batch-size",
            saved.batch_size.to_string(),
            wanted.batch_size.to_string(),
        ),
        (
            "adam",
            format!("{:?}", saved.adam),
            format!("{:?}", wanted.adam),
        ),
        (
            "lr-decay",
            saved.lr_decay.to_string(),
            wanted.lr_decay.to_string(),
        ),
        ("seed", saved.seed.to_string(), wanted.seed.to_string()),
    ];
    for (field, s, w) in fields {
        if s != w {
            return Err(Problem::Mismatch(field, s, w));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_train::presets::Preset;

    fn tiny() -> TrainConfig {
        let mut c = Preset::Mcu.config(5);
        c.hidden = vec![3];
        c
    }

    #[test]
    fn round_trips_every_field() {
        let mut t = Trainer::new(tiny()).unwrap();
        t.epoch = 2;
        t.adam.t = 17;
        t.adam.m.data[4] = 0.25;
        t.adam.v.data[5] = 0.5;
        t.rng.next_u64();
        let back = decode(&encode(&t), &tiny()).ok().unwrap();
        assert_eq!(back.net, t.net);
        assert_eq!(back.adam, t.adam);
        assert_eq!(back.rng, t.rng);
        assert_eq!(back.epoch, 2);
    }

    #[test]
    fn refuses_flipped_bits_and_other_settings() {
        let t = Trainer::new(tiny()).unwrap();
        let mut bytes = encode(&t);
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        assert!(matches!(decode(&bytes, &tiny()), Err(Problem::Corrupt(_))));
        let mut other = tiny();
        other.seed = 6;
        match decode(&encode(&t), &other) {
            Err(Problem::Mismatch(field, saved, wanted)) => {
                assert_eq!((field, saved.as_str(), wanted.as_str()), ("seed", "5", "6"));
            }
            _ => panic!("a different seed must be refused"),
        }
        let mut deeper = tiny();
        deeper.hidden = vec![3, 2];
        match decode(&encode(&t), &deeper) {
            Err(Problem::Mismatch(field, saved, wanted)) => {
                assert_eq!(
                    (field, saved.as_str(), wanted.as_str()),
                    ("hidden", "3", "3,2")
                );
            }
            _ => panic!("a different depth must be refused"),
        }
        let deep = Trainer::new(deeper.clone()).unwrap();
        let back = decode(&encode(&deep), &deeper).ok().unwrap();
        assert_eq!(back.net, deep.net);
        let mut more_epochs = tiny();
        more_epochs.epochs = 9;
        assert!(decode(&encode(&t), &more_epochs).is_ok());
    }

    #[test]
    fn a_nan_under_a_valid_checksum_is_corrupt_not_divergence() {
        let mut t = Trainer::new(tiny()).unwrap();
        t.net.params.data[3] = f32::NAN;
        match decode(&encode(&t), &tiny()) {
            Err(Problem::Corrupt(why)) => assert_eq!(why, "parameter 3 is NaN or infinite"),
            _ => panic!("a NaN parameter must make the checkpoint corrupt"),
        }
        let mut t = Trainer::new(tiny()).unwrap();
        t.adam.v.data[1] = f32::INFINITY;
        assert!(matches!(
            decode(&encode(&t), &tiny()),
            Err(Problem::Corrupt(_))
        ));
    }
}
