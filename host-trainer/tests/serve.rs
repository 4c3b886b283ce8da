//! `host-trainer serve` over HTTP, without a browser (that is `serve_browser.rs`): the page,
//! its wasm and the model file served as committed; `POST /predict` with a PNG and with JSON
//! pixels agreeing with `predict`; bad bodies answered with a 4xx and a message while the
//! server goes on; a bad model refused at start with one line.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::{host_trainer, serve, serve_env};

fn root() -> &'static Path {
    common::root()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status, content type and body of a GET.
fn get(url: &str) -> (u16, String, Vec<u8>) {
    let mut r = agent().get(url).call().unwrap();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        r.status().as_u16(),
        kind,
        r.body_mut().read_to_vec().unwrap(),
    )
}

/// Status and JSON answer of a POST.
fn post(url: &str, body: &[u8]) -> (u16, Value) {
    let mut r = agent().post(url).send(body).unwrap();
    let text = r.body_mut().read_to_string().unwrap();
    (
        r.status().as_u16(),
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[test]
fn the_page_its_wasm_and_the_model_are_served_as_committed() {
    let model = root().join("firmware/models/mcu-int8.nnm");
    let (_server, url) = serve(&model);
    for (path, file, kind) in [
        ("", "nn-wasm/www/index.html", "text/html"),
        ("app.js", "nn-wasm/www/app.js", "text/javascript"),
        ("learn.js", "nn-wasm/www/learn.js", "text/javascript"),
        (
            "nn_wasm.wasm",
            "nn-wasm/www/nn_wasm.wasm",
            "application/wasm",
        ),
        (
            "model.nnm",
            "firmware/models/mcu-int8.nnm",
            "application/octet-stream",
        ),
    ] {
        let (status, content_type, body) = get(&format!("{url}{path}"));
        assert_eq!(status, 200, "/{path}");
        assert!(content_type.starts_with(kind), "/{path}: {content_type}");
        assert_eq!(body, std::fs::read(root().join(file)).unwrap(), "/{path}");
    }
    let (status, _, body) = get(&format!("{url}elsewhere"));
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("not found"));
}

#[test]
fn replay_is_off_without_mnist_in_the_cache() {
    let empty = tempfile::tempdir().unwrap();
    let model = root().join("firmware/models/mcu.nnm");
    let (_server, url) = serve_env(&model, &[("MNIST_MCU_DATA", empty.path())]);
    let (status, content_type, body) = get(&format!("{url}replay.bin"));
    assert_eq!(status, 404);
    assert!(content_type.starts_with("application/json"));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.starts_with("replay is off: no MNIST in the trainer's cache"),
        "{error}"
    );
    // The page itself is served all the same.
    assert_eq!(get(&url).0, 200);
}

#[test]
fn predict_answers_as_the_cli_and_refuses_bad_bodies_without_stopping() {
    let model = root().join("firmware/models/mcu.nnm");
    let (_server, url) = serve(&model);
    let predict = format!("{url}predict");
    let fixture = root().join("nn-data/tests/fixtures/mnist-test-0-label-7-dark-on-light.png");

    let cli = host_trainer(&[
        "predict",
        "--json",
        "--model",
        model.to_str().unwrap(),
        fixture.to_str().unwrap(),
    ]);
    cli.assert_ok();
    let cli: Value = serde_json::from_str(cli.stdout.trim()).unwrap();
    let (status, png) = post(&predict, &std::fs::read(&fixture).unwrap());
    assert_eq!(status, 200, "{png}");
    assert_eq!(png["class"], 7);
    assert_eq!(png["class"], cli["class"]);
    assert_eq!(png["probabilities"], cli["probabilities"]);
    assert_eq!(png["pixels"].as_array().unwrap().len(), 784);

    // The 28x28 it saw, sent back as JSON grey levels (white ink on black, MNIST's way):
    // an MNIST-shaped digit comes back as itself, so the class is the same.
    let seen: Vec<u64> = png["pixels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let json = serde_json::json!({"width": 28, "height": 28, "pixels": seen}).to_string();
    let (status, again) = post(&predict, json.as_bytes());
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["class"], 7);

    for (body, words) in [
        (&b"not an image"[..], "cannot decode"),
        (b"", "cannot decode"),
        (
            b"{\"width\": 2, \"height\": 2, \"pixels\": [0, 255]}",
            "2 pixels for width 2",
        ),
        (b"{\"width\": 2", "JSON body"),
        (
            b"{\"width\": 1, \"height\": 1, \"pixels\": [0], \"x\": 1}",
            "unknown field",
        ),
        (
            b"{\"width\": 3, \"height\": 1, \"pixels\": [255, 255, 255]}",
            "no digit found",
        ),
        (b"\x89PNG\r\n\x1a\n", "cannot decode"),
    ] {
        let (status, answer) = post(&predict, body);
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
    }
    let (status, answer) = post(&predict, &vec![b'{'; 17 << 20]);
    assert_eq!(status, 413, "{answer}");
    let mut r = agent().put(&predict).send("x").unwrap();
    assert_eq!(r.status(), 405, "{:?}", r.body_mut().read_to_string());
    // Still serving after all that.
    assert_eq!(post(&predict, &std::fs::read(&fixture).unwrap()).0, 200);
}

#[test]
fn a_bad_model_stops_serve_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.nnm");
    let mut bytes = std::fs::read(root().join("firmware/models/mcu.nnm")).unwrap();
    bytes[100] ^= 0x40;
    std::fs::write(&bad, bytes).unwrap();
    for (model, words) in [
        (bad, "checksum"),
        (dir.path().join("absent.nnm"), "absent.nnm"),
    ] {
        let run = host_trainer(&["serve", "--port", "0", "--model", model.to_str().unwrap()]);
        assert_eq!(run.code, Some(1), "{run:?}");
        let line = run.stderr.trim();
        assert!(
            line.starts_with("error: model ") && !line.contains('\n'),
            "{line}"
        );
        assert!(line.to_lowercase().contains(words), "{line}");
    }
}
