//! `serve`: the draw-a-digit page and a prediction endpoint, on one small HTTP server
//! (`tiny_http`).
//!
//! - `GET /` (the page), `/app.js`, `/nn_wasm.wasm`: `nn-wasm/www/`, built into this binary
//!   (the `.wasm` is committed; `scripts/build-wasm.sh` rebuilds it), so the page needs nothing
//!   from anywhere else; inference runs in the browser on nn-core compiled to wasm;
//! - `GET /model.nnm`: the model file's bytes as read at start, which the page loads through
//!   nn-core's validating decoder;
//! - `POST /predict`: a PNG (JPEG, PNM) body, or JSON `{"width": W, "height": H, "pixels":
//!   [W × H grey levels 0–255, row-major]}`, through the same preprocessing as `predict` and
//!   the page, classified by the host: `{"class", "name" (when the model has class names),
//!   "probabilities", "pixels" (the 28×28 the model saw)}`.
//!
//! A bad model stops `serve` at start with the CLI's one-line error. A bad request gets a 4xx
//! with `{"error": "..."}` and the server goes on; a handler that panicked anyway would answer
//! 500 and the server would go on too.

use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use serde::{Deserialize, Serialize};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::model::{HostModel, read_bytes};
use crate::outputs::stdout::print_line;
use nn_data::preprocess;
use nn_data::read::show;

/// The page, its script and the wasm module, as committed in `nn-wasm/www/`.
const INDEX_HTML: &[u8] = include_bytes!("../../../nn-wasm/www/index.html");
const APP_JS: &[u8] = include_bytes!("../../../nn-wasm/www/app.js");
const NN_WASM: &[u8] = include_bytes!("../../../nn-wasm/www/nn_wasm.wasm");

/// The largest `POST /predict` body (bytes): a PNG of a phone photo fits, a flood does not.
pub const MAX_BODY: usize = 16 << 20;
/// Requests handled at once.
const WORKERS: usize = 4;

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
}

/// What every request handler shares.
struct App {
    model: HostModel,
    file: Vec<u8>,
}

/// `POST /predict`'s JSON body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PixelsJson {
    width: usize,
    height: usize,
    pixels: Vec<f32>,
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

/// A failed request: its status and message.
struct Refusal(u16, String);

/// Loads the model (any error ends `serve` before it listens), then serves until killed.
pub fn run(args: &ServeArgs) -> Result<()> {
    // One read: the page gets the very bytes the host validated and classifies with.
    let file = read_bytes(&args.model)?;
    let model = HostModel::from_bytes(&file, &args.model)?;
    let server = Server::http((args.host, args.port))
        .map_err(|e| anyhow!("serve: cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr = server
        .server_addr()
        .to_ip()
        .context("serve: the server has no IP address")?;
    let [_, hidden, _] = model.shape();
    print_line(&format!(
        "serving http://{addr}/ with model {} (784-{hidden}-10, {:?}); POST /predict takes a PNG or JSON pixels; Ctrl-C stops",
        show(&args.model),
        model.element()
    ))?;
    let (server, app) = (Arc::new(server), Arc::new(App { model, file }));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, app) = (Arc::clone(&server), Arc::clone(&app));
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    respond(&app, request);
                }
            })
        })
        .collect();
    for worker in workers {
        // A worker ends only when the server does; one that panicked takes nothing else down.
        let _ = worker.join();
    }
    Ok(())
}

/// Answers one request; nothing a client sends ends the server.
fn respond(app: &App, mut request: Request) {
    let answer =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| route(app, &mut request)))
            .unwrap_or_else(|_| Err(Refusal(500, "internal error".into())));
    let response = match answer {
        Ok((content_type, body)) => Response::from_data(body).with_header(header(content_type)),
        Err(Refusal(status, message)) => {
            let body = serde_json::json!({ "error": message }).to_string();
            Response::from_string(body)
                .with_status_code(status)
                .with_header(header("application/json"))
        }
    };
    let response = response.with_header(header_pair("Cache-Control", "no-store"));
    // The client may have gone away; there is nobody left to tell.
    let _ = request.respond(response);
}

fn header(content_type: &str) -> Header {
    header_pair("Content-Type", content_type)
}

fn header_pair(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

/// The content type and body for a request, or why not.
fn route(app: &App, request: &mut Request) -> Result<(&'static str, Vec<u8>), Refusal> {
    let path = request.url().split('?').next().unwrap_or("");
    let file = match path {
        "/" | "/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML)),
        "/app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "/nn_wasm.wasm" => Some(("application/wasm", NN_WASM)),
        "/model.nnm" => Some(("application/octet-stream", app.file.as_slice())),
        _ => None,
    };
    match (request.method(), file, path) {
        (Method::Get | Method::Head, Some((content_type, bytes)), _) => {
            Ok((content_type, bytes.to_vec()))
        }
        (Method::Post, None, "/predict") => {
            let body = read_body(request)?;
            let json = predict(app, &body).map_err(|e| Refusal(400, e))?;
            Ok(("application/json", json.into_bytes()))
        }
        (_, Some(_), _) | (_, None, "/predict") => Err(Refusal(
            405,
            format!("{} {path}: method not allowed", request.method()),
        )),
        _ => Err(Refusal(404, format!("{path}: not found"))),
    }
}

/// The body, at most [`MAX_BODY`] bytes. A longer one is drained (up to a limit, so the
/// client reads the 413 rather than a reset connection) and refused.
fn read_body(request: &mut Request) -> Result<Vec<u8>, Refusal> {
    let mut body = Vec::new();
    let reader = request.as_reader();
    reader
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| Refusal(400, format!("reading the body: {e}")))?;
    if body.len() > MAX_BODY {
        let _ = std::io::copy(&mut reader.take(4 * MAX_BODY as u64), &mut std::io::sink());
        return Err(Refusal(413, format!("the body is over {MAX_BODY} bytes")));
    }
    Ok(body)
}

/// `POST /predict`: an image file, or JSON pixels (a body starting with `{`), classified.
fn predict(app: &App, body: &[u8]) -> Result<String, String> {
    let pixels = if body.trim_ascii_start().starts_with(b"{") {
        let json: PixelsJson = serde_json::from_slice(body).map_err(|e| {
            format!("JSON body: {e} (expected {{\"width\": W, \"height\": H, \"pixels\": [W x H grey levels 0-255]}})")
        })?;
        if json.width.checked_mul(json.height) != Some(json.pixels.len()) {
            return Err(format!(
                "JSON body: {} pixels for width {} and height {}",
                json.pixels.len(),
                json.width,
                json.height
            ));
        }
        preprocess::from_grey(json.pixels, json.width, json.height)
    } else {
        preprocess::from_bytes(body)
    }
    .map_err(|e| e.to_string())?;
    let (class, probabilities) = app
        .model
        .predict_pixels(&pixels)
        .map_err(|e| format!("the model refused the image: {e}"))?;
    let answer = PredictionJson {
        class,
        name: app.model.class_names().get(class).map(String::as_str),
        probabilities: &probabilities,
        pixels: &pixels,
    };
    serde_json::to_string(&answer).map_err(|e| e.to_string())
}
