//! `serve`: the draw-a-digit page and a prediction endpoint, on one small HTTP server
//! (`http`: hyper, with the limits and timeouts that keep any client from stalling it).
//!
//! - `GET /` (the page), `/app.js`, `/learn.js` (the page's Web Worker), `/nn_wasm.wasm`: `nn-wasm/www/`, built into this binary
//!   (the `.wasm` is committed; `scripts/build-wasm.sh` rebuilds it), so the page needs nothing
//!   from anywhere else; inference runs in the browser on nn-core compiled to wasm;
//! - `GET /model.nnm`: the model file's bytes as read at start, which the page loads through
//!   nn-core's validating decoder;
//! - `GET /replay.bin`: the replay examples the page's **Learn** mixes into every batch against
//!   forgetting: `--replay N` MNIST training images (the first N/10 of each class, in file
//!   order), read at start from the trainer's cache ([`mnist::default_dir`], never fetched),
//!   as records of 785 bytes: the label, then the 28×28 pixels (nn-wasm's `RECORD`). Without
//!   the cache, or with `--replay 0`, it answers 404 with the reason and the page says replay
//!   is off;
//! - `POST /predict`: a PNG (JPEG, PNM) body, or JSON `{"width": W, "height": H, "pixels":
//!   [W × H grey levels 0–255, row-major]}`, through the same preprocessing as `predict` and
//!   the page, classified by the host: `{"class", "name" (when the model has class names),
//!   "probabilities", "pixels" (the 28×28 the model saw)}`. JSON pixels are held to the
//!   limits of images; either is refused before decoding when its size, read from the image's
//!   header or the JSON's `width` and `height`, is over them.
//!
//! A bad model stops `serve` at start with the CLI's one-line error. A bad request gets a 4xx
//! with `{"error": "..."}` and the server goes on; a handler that panicked anyway would answer
//! 500 and the server would go on too.

mod http;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::model::{Classifier, HostModel, read_bytes};
use crate::outputs::stdout::print_line;
use http::{Answer, DECODE_BUDGET, read_body, refuse_body};
use nn_data::dataset::Dataset;
use nn_data::mnist::{self, Fetch};
use nn_data::preprocess::{self, PreprocessError};
use nn_data::read::show;

/// The page, its script and the wasm module, as committed in `nn-wasm/www/`.
const INDEX_HTML: &[u8] = include_bytes!("../../../nn-wasm/www/index.html");
const APP_JS: &[u8] = include_bytes!("../../../nn-wasm/www/app.js");
const LEARN_JS: &[u8] = include_bytes!("../../../nn-wasm/www/learn.js");
const NN_WASM: &[u8] = include_bytes!("../../../nn-wasm/www/nn_wasm.wasm");

/// Options of `serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The model file (f32 or int8) the page and `POST /predict` run.
    #[arg(long)]
    pub model: PathBuf,
    /// TCP port (0: any free one; the address is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Address to listen on (0.0.0.0 to let other machines in).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// MNIST training images offered to the page's Learn as replay examples (a multiple of
    /// 10; 0: none), from the trainer's MNIST cache ($MNIST_MCU_DATA or
    /// ~/.cache/mnist-mcu/mnist), which `serve` never downloads.
    #[arg(long, default_value_t = 300)]
    pub replay: usize,
}

/// Bytes of one replay record: the label, then the 28×28 pixels.
const RECORD: usize = 1 + nn_core::IMAGE_PIXELS;

/// What every request handler shares.
struct App {
    /// The model, leaked: it lives as long as the server, and its [`Classifier`] borrows it
    /// once instead of viewing the file again on every request.
    model: &'static HostModel,
    classifier: Classifier<'static>,
    file: Bytes,
    /// `GET /replay.bin`'s records, or why there are none.
    replay: Result<Bytes, String>,
    /// [`DECODE_BUDGET`] in KiB permits: the working memory of the bodies being classified.
    decoding: Arc<Semaphore>,
}

/// `POST /predict`'s JSON body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PixelsJson {
    width: usize,
    height: usize,
    pixels: Vec<f32>,
}

/// What a JSON body claims, read without allocating for its pixels.
#[derive(Deserialize)]
struct PixelsClaim {
    width: usize,
    height: usize,
    #[allow(dead_code)]
    pixels: serde::de::IgnoredAny,
}

/// `POST /predict`'s answer.
#[derive(Serialize)]
struct PredictionJson<'a> {
    class: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    probabilities: &'a [f32],
    pixels: &'a [u8],
}

/// Loads the model (any error ends `serve` before it listens), then serves until killed.
pub fn run(args: &ServeArgs) -> Result<()> {
    // One read: the page gets the very bytes the host validated and classifies with.
    let file = read_bytes(&args.model)?;
    let model: &'static HostModel = Box::leak(Box::new(HostModel::from_bytes(&file, &args.model)?));
    let listener = std::net::TcpListener::bind((args.host, args.port))
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .with_context(|| format!("serve: cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener
        .local_addr()
        .context("serve: the server has no address")?;
    let replay = replay_records(args.replay);
    let replay_note = match &replay {
        Ok(records) => format!(
            "replay: {} MNIST training images for the page's Learn",
            records.len() / RECORD
        ),
        Err(why) => format!("replay off: {why}"),
    };
    // One line: a reader that takes only the address may close the pipe after it.
    print_line(&format!(
        "serving http://{addr}/ with model {} ({}, {:?}); POST /predict takes a PNG or JSON pixels; {replay_note}; Ctrl-C stops",
        show(&args.model),
        crate::model::chain(&model.model()),
        model.element()
    ))?;
    let app = Arc::new(App {
        model,
        classifier: model.classifier(),
        file: Bytes::from(file),
        replay: replay.map(Bytes::from),
        decoding: Arc::new(Semaphore::new((DECODE_BUDGET >> 10) as usize)),
    });
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(http::DECODE_THREADS)
        .build()
        .context("serve: cannot start the server's runtime")?
        .block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(listener).context("serve: cannot listen")?;
            http::serve(listener, app).await;
            Ok(())
        })
}

impl http::Routes for App {
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Answer {
        let path = request.uri().path().to_owned();
        let file = match path.as_str() {
            "/" | "/index.html" => {
                Some(("text/html; charset=utf-8", Bytes::from_static(INDEX_HTML)))
            }
            "/app.js" => Some(("text/javascript; charset=utf-8", Bytes::from_static(APP_JS))),
            "/learn.js" => Some((
                "text/javascript; charset=utf-8",
                Bytes::from_static(LEARN_JS),
            )),
            "/nn_wasm.wasm" => Some(("application/wasm", Bytes::from_static(NN_WASM))),
            "/model.nnm" => Some(("application/octet-stream", self.file.clone())),
            "/replay.bin" => Some(("application/octet-stream", Bytes::new())),
            _ => None,
        };
        let method = request.method().clone();
        let answer = match (&method, file, path.as_str()) {
            (&Method::GET | &Method::HEAD, Some(_), "/replay.bin") => match &self.replay {
                Ok(records) => Answer::ok("application/octet-stream", records.clone()),
                Err(why) => Answer::error(StatusCode::NOT_FOUND, &format!("replay is off: {why}")),
            },
            (&Method::GET | &Method::HEAD, Some((content_type, bytes)), _) => {
                Answer::ok(content_type, bytes)
            }
            (&Method::POST, None, "/predict") => {
                return match read_body(request).await {
                    Ok((body, _hold)) => self.predict(body).await,
                    Err(refused) => refused,
                };
            }
            (_, Some(_), _) | (_, None, "/predict") => Answer::error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{method} {path}: method not allowed"),
            ),
            _ => Answer::error(StatusCode::NOT_FOUND, &format!("{path}: not found")),
        };
        refuse_body(request.into_body(), answer)
    }
}

/// `GET /replay.bin`'s body: `n` MNIST training images from the trainer's cache, the first
/// `n / 10` of each class in file order, as [`RECORD`]s; or why there are none.
fn replay_records(n: usize) -> Result<Vec<u8>, String> {
    if n == 0 {
        return Err("--replay 0".into());
    }
    if !n.is_multiple_of(nn_core::CLASSES) {
        return Err(format!("--replay {n} is not a multiple of 10"));
    }
    let dir = mnist::default_dir();
    let data = mnist::load(&dir, Fetch::Never).map_err(|e| {
        format!("no MNIST in the trainer's cache ({e}); `host-trainer train` fetches it")
    })?;
    pick_replay(&data.train, n).ok_or_else(|| {
        format!(
            "{} holds fewer than {} training images of some class",
            show(&dir),
            n / nn_core::CLASSES
        )
    })
}

/// The first `n / 10` images of each class of `set`, in its order, as [`RECORD`]s; `None`
/// when a class has fewer.
fn pick_replay(set: &Dataset, n: usize) -> Option<Vec<u8>> {
    let per_class = n / nn_core::CLASSES;
    let mut taken = [0usize; nn_core::CLASSES];
    let mut out = Vec::with_capacity(n * RECORD);
    for i in 0..set.len() {
        let label = set.label(i);
        let Some(count) = taken.get_mut(usize::from(label)) else {
            continue;
        };
        if *count < per_class {
            *count += 1;
            out.push(label);
            out.extend_from_slice(set.image(i));
        }
    }
    (out.len() == n * RECORD).then_some(out)
}

impl App {
    /// `POST /predict` on a body read whole: sized, given room in [`DECODE_BUDGET`], then
    /// decoded and classified on a decoding thread.
    async fn predict(self: Arc<Self>, body: Vec<u8>) -> Answer {
        let work = tokio::task::spawn_blocking(move || {
            let need = footprint(&body)?;
            if need > DECODE_BUDGET {
                return Err(Answer::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "the image needs {} MiB to preprocess; this server works on at most {} MiB at once",
                        need >> 20,
                        DECODE_BUDGET >> 20
                    ),
                ));
            }
            // The most this request holds, reserved before anything is decoded; requests
            // that would pass the budget together wait their turn, first come first served.
            let kib = u32::try_from(need.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
            let _room = tokio::runtime::Handle::current()
                .block_on(Arc::clone(&self.decoding).acquire_many_owned(kib))
                .map_err(|_| Answer::error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
            classify(self.model, &self.classifier, &body)
        });
        match work.await {
            Ok(Ok(json)) => Answer::ok("application/json", Bytes::from(json)),
            Ok(Err(refused)) => refused,
            Err(_) => Answer::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        }
    }
}

/// The most bytes [`classify`] holds at once for `body`, from what it claims (an image's
/// header, the JSON's `width` and `height`), each claim checked against the limits and
/// the bytes sent.
fn footprint(body: &[u8]) -> Result<u64, Answer> {
    if !is_json(body) {
        return preprocess::bytes_footprint(body).map_err(refusal);
    }
    let claim: PixelsClaim = serde_json::from_slice(body).map_err(json_error)?;
    preprocess::check_size(claim.width, claim.height, "<pixels>").map_err(refusal)?;
    let pixels = claim.width * claim.height;
    // Each grey level takes a digit and a comma at least.
    if pixels > body.len().div_ceil(2) {
        return Err(Answer::error(
            StatusCode::BAD_REQUEST,
            &format!(
                "JSON body: {} x {} pixels cannot fit in {} bytes",
                claim.width,
                claim.height,
                body.len()
            ),
        ));
    }
    // The parsed levels' vector may hold twice their room, and three times while it grows.
    Ok(8 * pixels as u64 + preprocess::grey_footprint(claim.width, claim.height))
}

fn is_json(body: &[u8]) -> bool {
    body.trim_ascii_start().starts_with(b"{")
}

fn json_error(e: serde_json::Error) -> Answer {
    Answer::error(
        StatusCode::BAD_REQUEST,
        &format!(
            "JSON body: {e} (expected {{\"width\": W, \"height\": H, \"pixels\": [W x H grey levels 0-255]}})"
        ),
    )
}

/// 413 for a picture over the limits, 400 for anything else wrong with it.
fn refusal(e: PreprocessError) -> Answer {
    let status = match e {
        PreprocessError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    Answer::error(status, &e.to_string())
}

/// An image file, or JSON pixels (a body starting with `{`), classified.
fn classify(model: &HostModel, classifier: &Classifier<'_>, body: &[u8]) -> Result<String, Answer> {
    let pixels = if is_json(body) {
        let json: PixelsJson = serde_json::from_slice(body).map_err(json_error)?;
        if json.width.checked_mul(json.height) != Some(json.pixels.len()) {
            return Err(Answer::error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "JSON body: {} pixels for width {} and height {}",
                    json.pixels.len(),
                    json.width,
                    json.height
                ),
            ));
        }
        preprocess::from_grey(json.pixels, json.width, json.height)
    } else {
        preprocess::from_bytes(body)
    }
    .map_err(refusal)?;
    let (class, probabilities) = classifier.predict_pixels(&pixels).map_err(|e| {
        Answer::error(
            StatusCode::BAD_REQUEST,
            &format!("the model refused the image: {e}"),
        )
    })?;
    let answer = PredictionJson {
        class,
        name: model.class_names().get(class).map(String::as_str),
        probabilities: &probabilities,
        pixels: &pixels,
    };
    serde_json::to_string(&answer)
        .map_err(|e| Answer::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}
