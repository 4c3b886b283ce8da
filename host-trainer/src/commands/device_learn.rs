//! `host-trainer device-learn`: teaches the board other writers' digits, k of each class,
//! and checks that it learned exactly what the host learns from the same examples.
//!
//! 1. The examples: k of each class, picked by `--seed` (`nn_data::split::k_shot`), from
//!    optdigits (the default), a folder set or a `.npy` pair; the rest are held out. With
//!    `--replay N`, a pool of MNIST training digits, balanced by class, goes along.
//! 2. The board, before: the held-out digits (`--limit`) through the shipped model.
//! 3. The board learns (protocol 4): `Reset`, every example, `Learn` with the plan; the host
//!    runs `nn_core::train::head::fit_head` on the same features with the same plan.
//! 4. The head read back (`ReadHead`) must equal the host's byte for byte; otherwise one
//!    line says where they part and the command fails.
//! 5. The board, after: the held-out digits again, each answer checked against the host's
//!    learned head. The host also scores every held-out digit (and MNIST's test set when
//!    it is at hand) before and after: the host's run equals the board's, so its figures
//!    are the board's too.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use nn_core::network::Model;
use nn_core::protocol::{LearnOptimizer, LearnPlan, LearnRequest, TensorElement};
use nn_core::train::head::{self, Features, HeadBuffers, Input, Split};
use nn_core::train::{self, AdamConfig, Learn, NoExamples, Optimizer, Plan};
use nn_core::{CLASSES, IMAGE_PIXELS};
use nn_data::{self as data, Dataset, Fetch};

use super::device_eval::{Device, open_device};
use crate::devices::eval::{
    DEFAULT_MODEL, DeviceEvalReport, FileModel, HostModel, evaluate_with, project_file, run_ids,
};
use crate::devices::link::{LearnAnswer, Link, Reply};

/// How long the board may take to learn before the host gives up: the M0+ in rp2040js
/// emulates soft float at a few million instructions a second.
const LEARN_TIMEOUT: Duration = Duration::from_secs(900);

/// Arguments of `host-trainer device-learn`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceLearnArgs {
    /// Serial device of a real board (e.g. /dev/ttyACM0), at 115200 baud.
    #[arg(long, conflicts_with_all = ["qemu", "pico", "simulate"], required_unless_present_any = ["qemu", "pico", "simulate"])]
    pub port: Option<String>,
    /// No board: only the host's run of the board's code, which learns the same head, to
    /// measure accuracy quickly (tuning a plan).
    #[arg(long, conflicts_with_all = ["qemu", "pico"])]
    pub simulate: bool,
    /// Start the firmware in QEMU, from this ELF or by default from the release build in
    /// firmware/.
    #[arg(long, num_args = 0..=1, default_missing_value = crate::devices::eval::DEFAULT_ELF, conflicts_with = "pico")]
    pub qemu: Option<PathBuf>,
    /// Start the Pico firmware in rp2040js, from this ELF or by default from `cargo
    /// build-pico` in firmware/.
    #[arg(long, num_args = 0..=1, default_missing_value = crate::devices::rp2040js::DEFAULT_ELF)]
    pub pico: Option<PathBuf>,
    /// The host's copy of the int8 model the firmware runs.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// The digits to learn from: `optdigits` (the embedded copy, the default), an optdigits
    /// CSV file, or a directory of MNIST-form test data (IDX files or image folders).
    #[arg(long, conflicts_with = "npy")]
    pub data: Option<PathBuf>,
    /// The digits as two arrays: N × 784 uint8 pixels and N uint8 labels.
    #[arg(long, num_args = 2, value_names = ["X.npy", "Y.npy"])]
    pub npy: Option<Vec<PathBuf>>,
    /// Examples of each class to learn from; the rest are held out.
    #[arg(long, default_value_t = 10)]
    pub shots: usize,
    /// Seeds the choice of examples and the learner's shuffles.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Passes over the examples. The defaults of the plan are the ones that reach the
    /// issue's goal with the int8 `mcu` model (firmware/README.md, "Learning on the board").
    #[arg(long, default_value_t = 30)]
    pub epochs: u32,
    /// Examples per step.
    #[arg(long, default_value_t = 10)]
    pub batch: usize,
    /// MNIST training digits added to every step, against forgetting (0: none, and MNIST is
    /// not read).
    #[arg(long, default_value_t = 22)]
    pub replay: usize,
    /// MNIST training digits the board keeps for replay, balanced by class.
    #[arg(long, default_value_t = 1000)]
    pub replay_pool: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f32,
    /// Held-out digits the board classifies before and after (default: all of them).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Directory holding the MNIST IDX files, for replay and the forgetting check (default:
    /// the trainer's data directory; fetched when missing).
    #[arg(long)]
    pub mnist: Option<PathBuf>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
}

/// What the host's run of the board's code measured: the board's figures too.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostFigures {
    /// Examples learned from.
    pub examples: usize,
    /// Replay examples kept beside them.
    pub replay_pool: usize,
    /// The head's bytes.
    pub head_bytes: usize,
    /// Held-out digits (every digit not learned from).
    pub held_out: usize,
    /// Accuracy on them with the shipped model.
    pub host_before: f64,
    /// With the learned head.
    pub host_after: f64,
    /// MNIST test accuracy with the shipped model, when MNIST was at hand (`--replay`).
    pub mnist_before: Option<f64>,
    /// With the learned head.
    pub mnist_after: Option<f64>,
}

/// What one `device-learn` run measured (the JSON written by `--metrics`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceLearnReport {
    /// Where the board was.
    pub device: String,
    /// Optimizer steps.
    pub steps: u32,
    /// What learning took on the board: instructions (QEMU) or cycles, in all and per step.
    pub count: u64,
    /// `count / steps`.
    pub count_per_step: u64,
    /// The board's stack high-water mark after learning, bytes.
    pub stack_used: u32,
    /// The board on the first `limit` held-out digits, before learning.
    pub board_before: DeviceEvalReport,
    /// After learning.
    pub board_after: DeviceEvalReport,
    /// Seconds the board took to learn, round trip included.
    pub learn_seconds: f64,
    /// The host's figures, the board's as well.
    #[serde(flatten)]
    pub host: HostFigures,
}

/// Runs `device-learn`.
pub fn run(args: &DeviceLearnArgs) -> anyhow::Result<()> {
    ensure!(args.batch > 0, "--batch must be at least 1");
    ensure!(args.limit != Some(0), "--limit must be at least 1");
    let model_path = project_file(&args.model, DEFAULT_MODEL, "--model FILE")?;
    let file = FileModel::load(&model_path)?;
    let shipped = HostModel::load(&model_path)?;
    let model = file.model()?;
    let Model::I8(int8) = &model else {
        bail!(
            "{}: device-learn needs an int8 model (the board learns over its int8 hidden layer)",
            nn_data::read::show(&model_path)
        );
    };
    let split = Split::new(int8).with_context(|| {
        format!(
            "{} has no head the board can learn (two layers or more, the last without activation)",
            nn_data::read::show(&model_path)
        )
    })?;
    ensure!(
        split.inputs() == IMAGE_PIXELS && split.outputs() == CLASSES,
        "device-learn teaches digits: the model must be 784 → … → 10"
    );
    if let Some(path) = &args.metrics {
        crate::files::atomic::check_distinct(("--model", &model_path), ("--metrics", path))?;
        crate::files::atomic::check_writable(path, "--metrics")?;
    }

    let digits = load_digits(args)?;
    let chosen =
        nn_data::split::k_shot(&digits.labels, args.shots, args.seed).context("--shots")?;
    let replay = if args.replay > 0 {
        let dir = args.mnist.clone().unwrap_or_else(data::default_dir);
        let mnist = data::load(&dir, Fetch::Allowed)?;
        let per_class = args.replay_pool.div_ceil(CLASSES);
        let pool = nn_data::split::k_shot(&mnist.train.labels, per_class, args.seed)
            .context("--replay-pool")?;
        Some((mnist.train.select(&pool.shots), mnist.test))
    } else {
        None
    };
    let shots = digits.select(&chosen.shots);
    let held_out = digits.select(&chosen.held_out);

    // The host's run: the plan the board gets, on the features the board computes.
    let plan = Plan {
        epochs: args.epochs,
        batch: args.batch,
        replay: args.replay,
        seed: args.seed,
    };
    let adam = AdamConfig {
        lr: args.lr,
        ..AdamConfig::default()
    };
    let host_head = learn_on_host(&split, &shots, replay.as_ref().map(|r| &r.0), plan, adam)?;

    let host_before = accuracy(&held_out, |image| shipped.predict_pixels(image))?;
    let host_after = accuracy(&held_out, |image| head_predict(&split, &host_head, image))?;
    let (mnist_before, mnist_after) = match &replay {
        Some((_, test)) => (
            Some(accuracy(test, |image| shipped.predict_pixels(image))?),
            Some(accuracy(test, |image| {
                head_predict(&split, &host_head, image)
            })?),
        ),
        None => (None, None),
    };
    let host = HostFigures {
        examples: shots.len(),
        replay_pool: replay.as_ref().map_or(0, |r| r.0.len()),
        head_bytes: 4 * host_head.len(),
        held_out: held_out.len(),
        host_before,
        host_after,
        mnist_before,
        mnist_after,
    };
    if args.simulate {
        print_host(&host)?;
        return write_metrics(args, &host);
    }

    let (device, _) = open_device(args.port.as_deref(), &args.qemu, &args.pico)?;
    let wire_plan = LearnPlan {
        epochs: plan.epochs,
        batch: u32::try_from(plan.batch).context("--batch")?,
        replay: u32::try_from(plan.replay).context("--replay")?,
        seed: plan.seed,
        optimizer: LearnOptimizer::Adam {
            lr: adam.lr,
            beta1: adam.beta1,
            beta2: adam.beta2,
            epsilon: adam.epsilon,
        },
    };
    let session = Session {
        split: &split,
        shipped: &shipped,
        shots: &shots,
        replay: replay.as_ref().map(|r| &r.0),
        held_out: &held_out,
        limit: args.limit,
        plan: wire_plan,
        host_head: &host_head,
    };
    let (name, board) = match device {
        Device::Port(serial, port) => (port, session.run(&mut Link::new(serial))),
        Device::Qemu(_qemu, stream) => ("qemu".to_owned(), session.run(&mut Link::new(stream))),
        Device::Pico(mut pico, pipe) => (
            "rp2040js".to_owned(),
            session
                .run(&mut Link::new(pipe))
                .map_err(|e| anyhow::anyhow!("{e:#}\n{}", pico.describe())),
        ),
    };
    let board = board?;
    let report = DeviceLearnReport {
        device: name,
        steps: board.steps,
        count: board.count,
        count_per_step: board.count / u64::from(board.steps.max(1)),
        stack_used: board.stack_used,
        board_before: board.before,
        board_after: board.after,
        learn_seconds: board.seconds,
        host,
    };
    print_report(&report)?;
    write_metrics(args, &report)
}

fn write_metrics(args: &DeviceLearnArgs, report: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(path) = &args.metrics {
        let mut json = serde_json::to_vec_pretty(report)?;
        json.push(b'\n');
        crate::files::atomic::write(path, &json)
            .with_context(|| format!("--metrics {}", nn_data::read::show(path)))?;
    }
    Ok(())
}

fn print_report(r: &DeviceLearnReport) -> anyhow::Result<()> {
    let unit = if r.device == "qemu" {
        "instructions"
    } else {
        "cycles"
    };
    let lines = [
        format!(
            "device-learn: {} examples (+{} replay) on {}: {} steps, head of {} bytes identical to the host's",
            r.host.examples, r.host.replay_pool, r.device, r.steps, r.host.head_bytes
        ),
        format!(
            "learning: {} {unit} in all, {} per step, stack {} bytes, {:.1} s",
            r.count, r.count_per_step, r.stack_used, r.learn_seconds
        ),
        format!(
            "board, {} held-out digits: accuracy {:.4} before, {:.4} after ({} of {} answers as the host's head)",
            r.board_after.images,
            r.board_before.accuracy,
            r.board_after.accuracy,
            r.board_after.agree_with_host,
            r.board_after.images
        ),
    ];
    for line in lines {
        crate::outputs::stdout::print_line(&line)?;
    }
    print_host(&r.host)
}

fn print_host(h: &HostFigures) -> anyhow::Result<()> {
    crate::outputs::stdout::print_line(&format!(
        "host (the board's code), all {} held-out digits: accuracy {:.4} before, {:.4} after",
        h.held_out, h.host_before, h.host_after
    ))?;
    if let (Some(before), Some(after)) = (h.mnist_before, h.mnist_after) {
        crate::outputs::stdout::print_line(&format!(
            "MNIST test: accuracy {before:.4} before, {after:.4} after"
        ))?;
    }
    Ok(())
}

/// The digits `--data` or `--npy` names.
fn load_digits(args: &DeviceLearnArgs) -> anyhow::Result<Dataset> {
    if let Some(paths) = &args.npy {
        let [x, y] = &paths[..] else {
            bail!("--npy takes two files: X.npy Y.npy");
        };
        return Ok(nn_data::npy::load_labelled(x, y)?);
    }
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(nn_data::optdigits::NAME));
    if nn_data::optdigits::is_named(&data) {
        return Ok(nn_data::optdigits::load_named(&data)?);
    }
    Ok(data::load_test_labelled(&data, Fetch::Never, data::folder::Skip::Nothing, &[])?.sets)
}

/// Every digit's int8 features, as the board stores them.
fn features(split: &Split<'_>, set: &Dataset) -> anyhow::Result<Vec<i8>> {
    let n = split.features_len();
    let mut scratch = vec![0.0f32; split.scratch_len()];
    let mut q = vec![0i8; set.len() * n];
    for (i, row) in q.chunks_exact_mut(n).enumerate() {
        split.features(Input::Pixels(set.image(i)), &mut scratch, row)?;
    }
    Ok(q)
}

/// The host's learned head: `fit_head` on the features the board computes.
fn learn_on_host(
    split: &Split<'_>,
    shots: &Dataset,
    replay: Option<&Dataset>,
    plan: Plan,
    adam: AdamConfig,
) -> anyhow::Result<Vec<f32>> {
    let sizes = [split.features_len(), split.outputs()];
    let per_step = plan.step_examples();
    let quant = split.feature_quant();
    let q = features(split, shots)?;
    let data = Features {
        q: &q,
        labels: &shots.labels,
        inputs: sizes[0],
        quant,
    };
    let replay_q = match replay {
        Some(set) => features(split, set)?,
        None => Vec::new(),
    };
    let replay_labels = replay.map_or(&[][..], |r| &r.labels[..]);
    let mut params = vec![0.0f32; train::parameters(&sizes)];
    let mut state = vec![0.0f32; train::state_len(&sizes, Learn::All)];
    let mut work = vec![0.0f32; train::work_len(&sizes, per_step)];
    let mut x = vec![0.0f32; per_step * sizes[0]];
    let mut labels = vec![0u8; per_step];
    let mut order = vec![0u32; shots.len()];
    let mut replay_order = vec![0u32; replay_labels.len()];
    let buffers = HeadBuffers {
        params: &mut params,
        state: &mut state,
        work: &mut work,
        x: &mut x,
        labels: &mut labels,
        order: &mut order,
        replay_order: &mut replay_order,
    };
    let optimizer = Optimizer::Adam(adam);
    if replay.is_some() {
        let replay_set = Features {
            q: &replay_q,
            labels: replay_labels,
            inputs: sizes[0],
            quant,
        };
        head::fit_head(split, optimizer, plan, &data, &replay_set, buffers)
    } else {
        head::fit_head(split, optimizer, plan, &data, &NoExamples, buffers)
    }
    .map_err(|e| anyhow::anyhow!("learning on the host: {e}"))?;
    Ok(params)
}

/// A digit through the int8 body and a learned head, as the board serves it.
fn head_predict(
    split: &Split<'_>,
    params: &[f32],
    image: &[u8; IMAGE_PIXELS],
) -> Result<(usize, [f32; CLASSES]), nn_core::Error> {
    let mut scratch = vec![0.0f32; split.scratch_len()];
    let mut q = vec![0i8; split.features_len()];
    split.features(Input::Pixels(image), &mut scratch, &mut q)?;
    let mut f = vec![0.0f32; q.len()];
    let mut p = [0.0f32; CLASSES];
    let class = head::predict(params, &q, split.feature_quant(), &mut f, &mut p)?;
    Ok((class, p))
}

/// The fraction of `set` whose class `predict` gets right.
fn accuracy(
    set: &Dataset,
    predict: impl Fn(&[u8; IMAGE_PIXELS]) -> Result<(usize, [f32; CLASSES]), nn_core::Error>,
) -> anyhow::Result<f64> {
    let mut correct = 0usize;
    for i in 0..set.len() {
        correct += usize::from(predict(set.image(i))?.0 == usize::from(set.label(i)));
    }
    Ok(correct as f64 / set.len().max(1) as f64)
}

/// Everything one conversation with the board needs.
struct Session<'a> {
    split: &'a Split<'a>,
    shipped: &'a HostModel,
    shots: &'a Dataset,
    replay: Option<&'a Dataset>,
    held_out: &'a Dataset,
    limit: Option<usize>,
    plan: LearnPlan,
    host_head: &'a [f32],
}

/// What the board reported.
struct BoardRun {
    before: DeviceEvalReport,
    after: DeviceEvalReport,
    steps: u32,
    count: u64,
    stack_used: u32,
    seconds: f64,
}

impl Session<'_> {
    fn run<T: std::io::Read + std::io::Write>(
        &self,
        link: &mut Link<T>,
    ) -> anyhow::Result<BoardRun> {
        let examples = self.shots.len() + self.replay.map_or(0, Dataset::len);
        let first = run_ids(examples + 64)?;
        let mut ids = first..;
        let mut next_id = || ids.next().unwrap_or(first);
        link.sync(next_id())?;
        // The shipped model serves after a reset.
        match self.ask(link, &LearnRequest::Reset { id: next_id() })? {
            LearnAnswer::Stored {
                capacity,
                replay_capacity,
                ..
            } => {
                ensure!(
                    self.shots.len() <= capacity as usize,
                    "{} examples, but the board keeps at most {capacity} (lower --shots)",
                    self.shots.len()
                );
                let pool = self.replay.map_or(0, Dataset::len);
                ensure!(
                    pool <= replay_capacity as usize,
                    "{pool} replay examples, but the board keeps at most {replay_capacity} \
                     (lower --replay-pool)"
                );
            }
            other => bail!("the board answered a reset with {other:?}"),
        }
        let count = self
            .limit
            .unwrap_or(self.held_out.len())
            .min(self.held_out.len());
        let images: Vec<&[u8; IMAGE_PIXELS]> = (0..count).map(|i| self.held_out.image(i)).collect();
        let labels = &self.held_out.labels[..count];
        let before = evaluate_with(
            link,
            |image| self.shipped.predict_pixels(image),
            &images,
            labels,
            8,
        )?;

        let sets = [(self.shots, false)]
            .into_iter()
            .chain(self.replay.map(|r| (r, true)));
        for (set, replay) in sets {
            for i in 0..set.len() {
                let request = LearnRequest::Example {
                    id: next_id(),
                    label: set.label(i),
                    replay,
                    element: TensorElement::U8,
                    data: set.image(i),
                };
                match self.ask(link, &request)? {
                    LearnAnswer::Stored { .. } => {}
                    other => bail!("the board answered an example with {other:?}"),
                }
            }
        }
        let start = Instant::now();
        let learned = self.ask_within(
            link,
            &LearnRequest::Learn {
                id: next_id(),
                plan: self.plan,
            },
            LEARN_TIMEOUT,
        )?;
        let seconds = start.elapsed().as_secs_f64();
        let LearnAnswer::Learned {
            steps,
            count,
            stack_used,
            ..
        } = learned
        else {
            bail!("the board answered the learning request with {learned:?}");
        };

        let head = self.read_head(link, &mut next_id)?;
        let host: Vec<u8> = self
            .host_head
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        if let Some(at) = (0..host.len().max(head.len())).find(|&i| host.get(i) != head.get(i)) {
            bail!(
                "the board's learned head differs from the host's at byte {at} of {} (parameter {}: \
                 board {:?}, host {:?})",
                host.len(),
                at / 4,
                head.get(at / 4 * 4..at / 4 * 4 + 4),
                host.get(at / 4 * 4..at / 4 * 4 + 4)
            );
        }
        let after = evaluate_with(
            link,
            |image| head_predict(self.split, self.host_head, image),
            &images,
            labels,
            8,
        )?;
        Ok(BoardRun {
            before,
            after,
            steps,
            count,
            stack_used,
            seconds,
        })
    }

    /// The head's bytes, chunk by chunk.
    fn read_head<T: std::io::Read + std::io::Write>(
        &self,
        link: &mut Link<T>,
        next_id: &mut impl FnMut() -> u32,
    ) -> anyhow::Result<Vec<u8>> {
        let mut head = Vec::new();
        loop {
            let offset = u32::try_from(head.len()).context("a head over 4 GB")?;
            match self.ask(
                link,
                &LearnRequest::ReadHead {
                    id: next_id(),
                    offset,
                },
            )? {
                LearnAnswer::Head {
                    offset: got,
                    total,
                    data,
                } => {
                    ensure!(
                        got == offset && !data.is_empty(),
                        "the board sent {} head bytes from {got} when asked from {offset}",
                        data.len()
                    );
                    head.extend_from_slice(&data);
                    if head.len() >= total as usize {
                        return Ok(head);
                    }
                }
                other => bail!("the board answered a head read with {other:?}"),
            }
        }
    }

    fn ask<T: std::io::Read + std::io::Write>(
        &self,
        link: &mut Link<T>,
        request: &LearnRequest<'_>,
    ) -> anyhow::Result<LearnAnswer> {
        self.ask_within(link, request, crate::devices::link::REPLY_TIMEOUT)
    }

    /// Sends `request` and reads its answer; an error reply becomes the error.
    fn ask_within<T: std::io::Read + std::io::Write>(
        &self,
        link: &mut Link<T>,
        request: &LearnRequest<'_>,
        timeout: Duration,
    ) -> anyhow::Result<LearnAnswer> {
        link.send_learn(request)?;
        match link.read_reply_within(timeout)? {
            Reply::Learn { id, reply } if id == request.id() => Ok(reply),
            Reply::Digit(nn_core::protocol::Response {
                body: nn_core::protocol::ResponseBody::Error(e),
                ..
            }) => bail!(
                "the board refused a learning request: {e} (is its firmware built from this \
                 version, protocol {}, with an int8 digit model?)",
                nn_core::protocol::VERSION
            ),
            other => bail!("unexpected reply to a learning request: {other:?}"),
        }
    }
}
