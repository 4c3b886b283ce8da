//! The draw-a-digit page in a real browser: `host-trainer serve` with the committed f32 and
//! int8 models, headless Chromium driven through WebDriver (`chromedriver`, Debian's
//! `chromium-driver`, spoken to as plain HTTP JSON), strokes drawn with the pointer along the
//! ink of ten MNIST test digits (their skeletons, traced pixel by pixel), and for each one the
//! page's class, probabilities and 28×28 compared with what the host's `POST /predict` gives
//! for the canvas saved as PNG. No console error is allowed. It saves a screenshot of the page
//! (`target/serve-browser/draw-a-digit.png`; the README shows a copy in `docs/img/`).
//!
//! End-to-end (it needs `scripts/setup.sh`'s chromium and chromium-driver, and fails without
//! them): `cargo test -p host-trainer --test serve_browser -- --ignored`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

mod common;
use common::{Running, serve};

/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The page's canvas side (nn-wasm's `CANVAS`), and the scale from MNIST's 28 to it.
const CANVAS: i64 = 280;
const SCALE: i64 = CANVAS / 28;

fn root() -> &'static Path {
    common::root()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A WebDriver session on a chromedriver of its own.
struct Browser {
    agent: ureq::Agent,
    session: String,
    _driver: Running,
}

impl Browser {
    fn start() -> Self {
        let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `{driver}` ({e}): the browser test needs Chromium and its \
                     WebDriver (Debian's chromium and chromium-driver; scripts/setup.sh installs them)"
                )
            });
        let driver = Running(child);
        let agent = agent();
        let base = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=960,680", "--hide-scrollbars"]
        });
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        if Path::new(&binary).exists() {
            options["binary"] = json!(binary);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let value = send(&agent, "POST", &format!("{base}/session"), Some(caps));
        let id = value["sessionId"].as_str().expect("a session id");
        Self {
            session: format!("{base}/session/{id}"),
            agent,
            _driver: driver,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        send(
            &self.agent,
            method,
            &format!("{}{path}", self.session),
            body,
        )
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn element(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found[ELEMENT].as_str().expect("an element").to_owned()
    }

    /// The browser's console lines at level SEVERE since the last call.
    /// Opens the page at `url` and waits until it has loaded `model`.
    fn open(&self, url: &str, model: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
        let start = Instant::now();
        loop {
            let state = self.script("return window.nnState;");
            assert!(
                state["error"].is_null(),
                "{model}: the page says {}",
                state["error"]
            );
            if state["ready"] == true {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{model}: the page never got ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The labels of the page's probability bars, in order.
    fn bar_labels(&self) -> Vec<Value> {
        let labels = self.script(
            "const b = Array.from(document.getElementById('bars').children); \
             return b.length === 3 * document.querySelectorAll('#bars > .bar').length \
             ? b.filter((_, i) => i % 3 === 0).map((d) => d.textContent) : null;",
        );
        labels
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("bars laid out wrong: {labels}"))
    }

    fn console_errors(&self) -> Vec<String> {
        let log = self.call("POST", "/se/log", Some(json!({"type": "browser"})));
        log.as_array()
            .expect("a log")
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(&self.session)
            .call()
            .map(|mut r| r.body_mut().read_to_string());
    }
}

/// One WebDriver command; its `value`, or a panic with WebDriver's message.
fn send(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Value {
    let response = match method {
        "GET" => agent.get(url).call(),
        "DELETE" => agent.delete(url).call(),
        _ => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.unwrap_or(json!({})).to_string()),
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status();
    let text = response.body_mut().read_to_string().unwrap();
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"));
    assert!(status.is_success(), "{method} {url}: {status}: {text}");
    value["value"].clone()
}

/// The first committed MNIST test digit of each class 0–9 (`firmware/data/`).
fn ten_digits() -> Vec<(u8, [u8; 784])> {
    let dir = root().join("firmware/data");
    let images = std::fs::read(dir.join("t10k-100-images.bin")).unwrap();
    let labels = std::fs::read(dir.join("t10k-100-labels.bin")).unwrap();
    (0..10)
        .map(|d| {
            let i = labels.iter().position(|&l| l == d).unwrap();
            (d, images[i * 784..(i + 1) * 784].try_into().unwrap())
        })
        .collect()
}

/// The ink's skeleton (pixels above half ink, thinned by Zhang and Suen's algorithm).
fn skeleton(digit: &[u8; 784]) -> [bool; 784] {
    let mut ink: [bool; 784] = std::array::from_fn(|i| digit[i] > 127);
    let at = |ink: &[bool; 784], x: i64, y: i64| {
        (0..28).contains(&x) && (0..28).contains(&y) && ink[(y * 28 + x) as usize]
    };
    loop {
        let mut changed = false;
        for pass in 0..2 {
            let mut remove = vec![];
            for i in 0..784 {
                let (x, y) = ((i % 28) as i64, (i / 28) as i64);
                if !ink[i] {
                    continue;
                }
                // P2..P9 clockwise from north.
                let p: [bool; 8] = [
                    at(&ink, x, y - 1),
                    at(&ink, x + 1, y - 1),
                    at(&ink, x + 1, y),
                    at(&ink, x + 1, y + 1),
                    at(&ink, x, y + 1),
                    at(&ink, x - 1, y + 1),
                    at(&ink, x - 1, y),
                    at(&ink, x - 1, y - 1),
                ];
                let b = p.iter().filter(|&&v| v).count();
                let a = (0..8).filter(|&k| !p[k] && p[(k + 1) % 8]).count();
                let (c, d) = if pass == 0 {
                    (p[0] && p[2] && p[4], p[2] && p[4] && p[6])
                } else {
                    (p[0] && p[2] && p[6], p[0] && p[4] && p[6])
                };
                if (2..=6).contains(&b) && a == 1 && !c && !d {
                    remove.push(i);
                }
            }
            changed |= !remove.is_empty();
            for i in remove {
                ink[i] = false;
            }
        }
        if !changed {
            return ink;
        }
    }
}

/// Pen strokes (canvas pixels) that walk the skeleton: one stroke per connected part,
/// starting at an end point, going depth first and retracing its way back along the ink.
fn strokes(digit: &[u8; 784]) -> Vec<Vec<(i64, i64)>> {
    let skel = skeleton(digit);
    let neighbours = |i: usize| {
        let (x, y) = ((i % 28) as i64, (i / 28) as i64);
        (-1..=1)
            .flat_map(move |dy| (-1..=1).map(move |dx| (x + dx, y + dy)))
            .filter(move |&(nx, ny)| (nx, ny) != (x, y))
            .filter(|&(nx, ny)| (0..28).contains(&nx) && (0..28).contains(&ny))
            .map(|(nx, ny)| (ny * 28 + nx) as usize)
            .filter(|&j| skel[j])
            .collect::<Vec<_>>()
    };
    let mut seen = [false; 784];
    let mut starts: Vec<usize> = (0..784).filter(|&i| skel[i]).collect();
    // End points first, so a stroke starts where a pen would.
    starts.sort_by_key(|&i| neighbours(i).len() != 1);
    let mut out = vec![];
    for start in starts {
        if seen[start] {
            continue;
        }
        let mut stroke = vec![];
        let mut stack = vec![(start, 0usize)];
        seen[start] = true;
        stroke.push(start);
        while let Some(&(i, next)) = stack.last() {
            let around = neighbours(i);
            match around[next..].iter().position(|&j| !seen[j]) {
                Some(k) => {
                    let j = around[next + k];
                    if let Some(top) = stack.last_mut() {
                        top.1 = next + k + 1;
                    }
                    seen[j] = true;
                    stroke.push(j);
                    stack.push((j, 0));
                }
                None => {
                    stack.pop();
                    if let Some(&(back, _)) = stack.last() {
                        stroke.push(back);
                    }
                }
            }
        }
        // Every other pixel, keeping the ends and the tips the walk turns back at: the pen's
        // straight moves between them stay on the ink, in half the WebDriver actions.
        let last = stroke.len() - 1;
        let kept = (0..=last)
            .filter(|&k| k % 2 == 0 || k == last || (k > 0 && stroke[k - 1] == stroke[k + 1]))
            .map(|k| stroke[k]);
        out.push(
            kept.map(|i| {
                let (x, y) = ((i % 28) as i64, (i / 28) as i64);
                (x * SCALE + SCALE / 2, y * SCALE + SCALE / 2)
            })
            .collect(),
        );
    }
    out
}

/// Draws `strokes` on the element with the pointer, as a person would with a mouse.
fn draw(browser: &Browser, canvas: &str, strokes: &[Vec<(i64, i64)>]) {
    let origin = json!({ ELEMENT: canvas });
    let mut actions = vec![];
    let to = |(x, y): (i64, i64)| {
        // Offsets from the element's centre.
        json!({"type": "pointerMove", "duration": 0, "origin": origin,
               "x": x - CANVAS / 2, "y": y - CANVAS / 2})
    };
    for stroke in strokes {
        actions.push(to(stroke[0]));
        actions.push(json!({"type": "pointerDown", "button": 0}));
        for &p in &stroke[1..] {
            actions.push(to(p));
        }
        actions.push(json!({"type": "pointerUp", "button": 0}));
    }
    let body = json!({"actions": [{"type": "pointer", "id": "pen",
        "parameters": {"pointerType": "mouse"}, "actions": actions}]});
    browser.call("POST", "/actions", Some(body));
    browser.call("DELETE", "/actions", None);
}

/// What the host's `POST /predict` says about a PNG.
fn host_predict(url: &str, png: &[u8]) -> Value {
    let mut response = agent()
        .post(format!("{url}predict"))
        .header("Content-Type", "image/png")
        .send(png)
        .unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    assert_eq!(response.status(), 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn out_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("serve-browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
#[ignore = "e2e: drives headless Chromium (scripts/setup.sh installs chromium and chromium-driver)"]
fn the_page_classifies_drawn_digits_as_the_host_does() {
    let browser = Browser::start();
    for model in ["mcu.nnm", "mcu-int8.nnm"] {
        let (_server, url) = serve(&root().join("firmware/models").join(model));
        browser.open(&url, model);
        let canvas = browser.element("#pad");
        let clear = browser.element("#clear");
        let mut right = 0;
        for (label, digit) in ten_digits() {
            browser.call("POST", &format!("/element/{clear}/click"), None);
            draw(&browser, &canvas, &strokes(&digit));
            let page = browser.script(
                "return [nnState.predicted, nnState.probabilities, nnState.pixels, \
                 document.getElementById('pad').toDataURL('image/png')];",
            );
            let png = base64::engine::general_purpose::STANDARD
                .decode(
                    page[3]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("data:image/png;base64,"),
                )
                .unwrap();
            let host = host_predict(&url, &png);
            let what = format!("{model}, MNIST digit {label}");
            assert!(
                page[0].is_u64(),
                "{what}: the page shows no class: {page:?}"
            );
            assert_eq!(page[0], host["class"], "{what}: page and host disagree");
            assert_eq!(page[2], host["pixels"], "{what}: different 28x28s");
            let (p, q) = (
                page[1].as_array().unwrap(),
                host["probabilities"].as_array().unwrap(),
            );
            for (a, b) in p.iter().zip(q) {
                let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                // The same kernels, summed in SIMD128 lanes in the browser and in this
                // machine's (wider) lanes on the host.
                assert!((a - b).abs() < 1e-4, "{what}: probabilities {p:?} vs {q:?}");
            }
            right += usize::from(page[0] == label);
            if model == "mcu.nnm" && label == 3 {
                browser.script("window.scrollTo(0, 0);");
                let shot = browser.call("GET", "/screenshot", None);
                let png = base64::engine::general_purpose::STANDARD
                    .decode(shot.as_str().unwrap())
                    .unwrap();
                std::fs::write(out_dir().join("draw-a-digit.png"), png).unwrap();
            }
        }
        eprintln!("{model}: {right} of 10 drawn digits classified as their MNIST label");
        assert!(
            right >= 7,
            "{model}: only {right} of 10 drawn digits right: are the strokes MNIST-like?"
        );
        let errors: Vec<Value> = browser
            .script("return window.pageErrors;")
            .as_array()
            .unwrap()
            .clone();
        assert!(errors.is_empty(), "{model}: page errors {errors:?}");
        let console = browser.console_errors();
        assert!(console.is_empty(), "{model}: console errors {console:?}");
    }
}

#[test]
#[ignore = "e2e: drives headless Chromium (scripts/setup.sh installs chromium and chromium-driver)"]
fn the_page_draws_one_bar_per_class_with_the_models_names() {
    // The committed model's weights written again with three class names, as a model trained
    // with `train --data` on three class folders is: ten outputs, three named.
    let bytes = std::fs::read(root().join("firmware/models/mcu.nnm")).unwrap();
    let file = nn_core::format::ModelFile::parse(&bytes).unwrap();
    let mut params = vec![0.0; file.parameter_count()];
    file.copy_parameters(&mut params).unwrap();
    let [i, h, o] = file.shape();
    let (w1, rest) = params.split_at(h * i);
    let (b1, rest) = rest.split_at(h);
    let (w2, b2) = rest.split_at(o * h);
    let names = ["circle", "cross", "tick"];
    let mut named = vec![0u8; nn_core::format::encoded_len_named(file.header(), &names).unwrap()];
    nn_core::format::encode_named(file.header(), &names, [w1, b1, w2, b2], &mut named).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let three = dir.path().join("three.nnm");
    std::fs::write(&three, &named).unwrap();

    let browser = Browser::start();
    let (_server, url) = serve(&root().join("firmware/models/mcu.nnm"));
    browser.open(&url, "mcu.nnm");
    let digits: Vec<Value> = (0..10).map(|k| json!(k.to_string())).collect();
    assert_eq!(browser.bar_labels(), digits);

    let (_server, url) = serve(&three);
    browser.open(&url, "three.nnm");
    assert_eq!(browser.bar_labels(), names.map(|n| json!(n)));
    // A drawing leaves them as they are, and the class shown is one of them or an output
    // named as such.
    let canvas = browser.element("#pad");
    let (_, digit) = ten_digits().remove(0);
    draw(&browser, &canvas, &strokes(&digit));
    assert_eq!(browser.bar_labels(), names.map(|n| json!(n)));
    let shown = browser.script("return document.getElementById('predicted').textContent;");
    let shown = shown.as_str().unwrap();
    assert!(
        names.contains(&shown) || shown.starts_with("output "),
        "the page shows {shown:?}"
    );
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors {console:?}");
}

/// Pen strokes on the canvas, in canvas pixels.
type Strokes = Vec<Vec<(i64, i64)>>;

/// A digit in a style MNIST does not have: boxy, seven-segment-like strokes through the
/// corners and the middle of a box (x right, y down, 0–1), as a person with a square hand
/// might write them.
fn boxy(digit: u8) -> Vec<Vec<(f64, f64)>> {
    let (tl, tr, ml, mr, bl, br) = (
        (0.0, 0.0),
        (1.0, 0.0),
        (0.0, 0.5),
        (1.0, 0.5),
        (0.0, 1.0),
        (1.0, 1.0),
    );
    match digit {
        0 => vec![vec![tl, tr, br, bl, tl]],
        1 => vec![
            vec![(0.2, 0.25), (0.6, 0.0), (0.6, 1.0)],
            vec![(0.2, 1.0), (1.0, 1.0)],
        ],
        2 => vec![vec![tl, tr, mr, ml, bl, br]],
        3 => vec![vec![tl, tr, br, bl], vec![ml, mr]],
        4 => vec![vec![tl, ml, mr], vec![tr, br]],
        5 => vec![vec![tr, tl, ml, mr, br, bl]],
        6 => vec![vec![tr, tl, bl, br, mr, ml]],
        7 => vec![vec![(0.0, 0.2), tl, tr, br]],
        8 => vec![vec![tl, tr, br, bl, tl], vec![ml, mr]],
        _ => vec![vec![mr, ml, tl, tr, br, bl]],
    }
}

/// One hand-drawn sample of [`boxy`]'s `digit` on the page's canvas: a box of random size,
/// slanted to the right, placed near the middle, each corner moved a little; the strokes cut
/// into pen moves a few pixels apart.
fn boxy_strokes(digit: u8, rng: &mut common::XorShift) -> Strokes {
    let mut between = |lo: f64, hi: f64| lo + (hi - lo) * rng.unit();
    let (w, h) = (between(80.0, 120.0), between(150.0, 190.0));
    let slant = between(0.15, 0.35);
    let (cx, cy) = (between(125.0, 155.0), between(125.0, 155.0));
    let jitter: Vec<(f64, f64)> = (0..12)
        .map(|_| (between(-6.0, 6.0), between(-6.0, 6.0)))
        .collect();
    boxy(digit)
        .into_iter()
        .map(|stroke| {
            let corners: Vec<(f64, f64)> = stroke
                .iter()
                .enumerate()
                .map(|(k, &(x, y))| {
                    let (jx, jy) = jitter[k % jitter.len()];
                    (
                        cx + (x - 0.5) * w + (0.5 - y) * h * slant + jx,
                        cy + (y - 0.5) * h + jy,
                    )
                })
                .collect();
            let mut points = vec![corners[0]];
            for pair in corners.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                let steps = ((b.0 - a.0).hypot(b.1 - a.1) / 12.0).ceil().max(1.0) as usize;
                for s in 1..=steps {
                    let t = s as f64 / steps as f64;
                    points.push((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t));
                }
            }
            points
                .into_iter()
                .map(|(x, y)| {
                    (
                        (x.round() as i64).clamp(2, CANVAS - 3),
                        (y.round() as i64).clamp(2, CANVAS - 3),
                    )
                })
                .collect()
        })
        .collect()
}

/// Clears the pad, draws `strokes` and returns the class the page shows.
fn read_drawing(browser: &Browser, strokes: &[Vec<(i64, i64)>]) -> Value {
    let clear = browser.element("#clear");
    browser.call("POST", &format!("/element/{clear}/click"), None);
    draw(browser, &browser.element("#pad"), strokes);
    browser.script("return nnState.predicted;")
}

#[test]
#[ignore = "e2e: drives headless Chromium (scripts/setup.sh installs chromium and chromium-driver), needs MNIST"]
fn the_page_learns_a_new_handwriting() {
    // Replay examples come from the trainer's MNIST cache.
    nn_data::ensure(&nn_data::default_dir()).expect("MNIST");
    let browser = Browser::start();
    browser.call(
        "POST",
        "/window/rect",
        Some(json!({"width": 960, "height": 1040})),
    );
    let (_server, url) = serve(&root().join("firmware/models/mcu.nnm"));
    browser.open(&url, "mcu.nnm");
    let teach = browser.script("return nnState.teach;");
    assert_eq!(teach["replay"], 300, "replay examples: {teach}");

    // Three kept and two held-out drawings of each digit, the kept ones in rounds of 0–9.
    let mut rng = common::XorShift(0x19_2026);
    let kept: Vec<(u8, Strokes)> = (0..30)
        .map(|k| ((k % 10) as u8, boxy_strokes((k % 10) as u8, &mut rng)))
        .collect();
    let held: Vec<(u8, Strokes)> = (0..20)
        .map(|k| ((k % 10) as u8, boxy_strokes((k % 10) as u8, &mut rng)))
        .collect();
    let right = |browser: &Browser| {
        held.iter()
            .filter(|(label, strokes)| read_drawing(browser, strokes) == json!(label))
            .count()
    };
    let before = right(&browser);

    let keep = |label: u8| {
        let button = browser.element(&format!("#keep button:nth-child({})", label + 1));
        browser.call("POST", &format!("/element/{button}/click"), None);
    };
    for (label, strokes) in &kept {
        read_drawing(&browser, strokes);
        keep(*label);
    }
    // One more, kept under the wrong digit, then removed with its ×.
    read_drawing(&browser, &kept[0].1);
    keep(7);
    assert_eq!(browser.script("return nnState.teach.kept;"), 31);
    let last = browser.element("#thumbs .thumb:last-child .remove");
    browser.call("POST", &format!("/element/{last}/click"), None);
    let shown = browser.script(
        "return Array.from(document.querySelectorAll('#thumbs .thumb span')).map((s) => s.textContent);",
    );
    let labels: Vec<Value> = kept.iter().map(|(l, _)| json!(l.to_string())).collect();
    assert_eq!(shown, json!(labels), "the thumbnails' labels");

    let learn = browser.element("#learn");
    browser.call("POST", &format!("/element/{learn}/click"), None);
    let start = Instant::now();
    let teach = loop {
        let teach = browser.script("return nnState.teach;");
        assert!(teach["error"].is_null(), "Learn: {teach}");
        if teach["learned"] == 1 {
            break teach;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "Learn never finished"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let after = right(&browser);
    eprintln!(
        "boxy digits: {before} of 20 held-out drawings right before Learn, {after} after; the page's \
         own held-out kept examples: {} of {} before, {} after; {} steps in {:.0} ms",
        teach["before"],
        teach["heldOut"],
        teach["after"],
        teach["steps"],
        teach["ms"].as_f64().unwrap()
    );
    assert_eq!(teach["heldOut"], 10, "the second of every three of a digit");
    assert!(
        teach["after"].as_u64() > teach["before"].as_u64(),
        "the page's held-out measure: {teach}"
    );
    assert!(
        after > before,
        "the page read {after} of 20 held-out drawings right after Learn, {before} before"
    );

    // Teach mode for the README: a fresh drawing read by the tuned model.
    read_drawing(&browser, &held[4].1);
    browser.script("window.scrollTo(0, 0);");
    let shot = browser.call("GET", "/screenshot", None);
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot.as_str().unwrap())
        .unwrap();
    std::fs::write(out_dir().join("teach.png"), png).unwrap();

    // What Download saves is a model file `eval` and `quantize` accept.
    let tuned = browser.script("return Array.from(tuned);");
    let tuned: Vec<u8> = tuned
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tuned.nnm");
    std::fs::write(&path, &tuned).unwrap();
    for args in [
        vec!["eval", "--model", path.to_str().unwrap()],
        vec![
            "quantize",
            "--model",
            path.to_str().unwrap(),
            "--out",
            dir.path().join("tuned-int8.nnm").to_str().unwrap(),
        ],
    ] {
        let run = common::host_trainer(&args);
        run.assert_ok();
        eprintln!("{}: {}", args[0], run.stdout.trim());
    }

    // The page asked the server for nothing but its files, the model and the replay examples.
    let asked = browser.script(
        "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname);",
    );
    for path in asked.as_array().unwrap() {
        assert!(
            [
                "/app.js",
                "/learn.js",
                "/nn_wasm.wasm",
                "/model.nnm",
                "/replay.bin"
            ]
            .contains(&path.as_str().unwrap()),
            "the page asked for {path}"
        );
    }
    let errors = browser.script("return window.pageErrors;");
    assert_eq!(errors, json!([]), "page errors");
    let console = browser.console_errors();
    assert!(console.is_empty(), "console errors {console:?}");
}
