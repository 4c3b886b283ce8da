// The draw-a-digit page: loads nn_wasm.wasm (nn-core inside, see nn-wasm/src/exports.rs for
// the functions) and the model file from the server that served this page, then classifies
// the canvas on every stroke. Teach mode keeps drawings as labelled examples in the module,
// and Learn fine-tunes the model on them in a Web Worker (learn.js), with the replay examples
// `serve` offers (replay.bin). Nothing is fetched from anywhere else, and nothing is sent: the
// page's only requests are the GETs of fetchBytes and the worker's script.
"use strict";

const pad = document.getElementById("pad");
const seen = document.getElementById("seen");
const bars = document.getElementById("bars");
const predicted = document.getElementById("predicted");
const statusLine = document.getElementById("status");
const ink = pad.getContext("2d", { willReadFrequently: true });
const seenCtx = seen.getContext("2d");

// What the page shows, for scripts and the browser test.
window.nnState = {
  ready: false, error: null, predicted: null, probabilities: [], pixels: [], updates: 0,
  teach: { kept: 0, replay: 0, learning: false, learned: 0, heldOut: 0, before: 0, after: 0, steps: 0, ms: 0,
           error: null },
};

let wasm = null;
// The compiled module (the worker instantiates its own copy), the served model file's bytes,
// the replay records and the tuned model file (null until Learn).
let wasmModule = null;
let served = null;
let replay = new Uint8Array(0);
let tuned = null;
const RECORD = 785;
// The classes the page shows, one bar each: the model's class names, or one per output (its
// index) in a file without names. A model trained on fewer classes than outputs names fewer.
let names = [];
let outputs = 0;

function say(text, isError) {
  statusLine.textContent = text;
  statusLine.className = isError ? "error" : "";
}

function message() {
  const e = wasm.exports;
  return new TextDecoder().decode(new Uint8Array(e.memory.buffer, e.message_ptr(), e.message_len()));
}

function clearPad() {
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
  showResult(null);
}

function buildBars() {
  bars.textContent = "";
  for (let k = 0; k < names.length; k++) {
    const label = document.createElement("div");
    label.textContent = names[k];
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.appendChild(document.createElement("div"));
    const value = document.createElement("div");
    value.style.textAlign = "right";
    bars.append(label, bar, value);
  }
}

// Shows a classification (or, for null, an empty canvas).
function showResult(cls) {
  const e = wasm && wasm.exports;
  const probs = cls === null ? new Array(outputs).fill(0)
    : Array.from(new Float32Array(e.memory.buffer, e.probabilities(), outputs));
  const pixels = cls === null ? new Uint8Array(784)
    : new Uint8Array(e.memory.buffer, e.pixels(), 784).slice();
  const img = seenCtx.createImageData(28, 28);
  pixels.forEach((v, i) => img.data.set([v, v, v, 255], 4 * i));
  seenCtx.putImageData(img, 0, 0);
  for (let k = 0; k < names.length && bars.children.length === 3 * names.length; k++) {
    const bar = bars.children[3 * k + 1];
    bar.className = k === cls ? "bar top" : "bar";
    bar.firstChild.style.width = (100 * probs[k]).toFixed(1) + "%";
    bars.children[3 * k + 2].textContent = (100 * probs[k]).toFixed(1) + " %";
  }
  predicted.textContent = cls === null ? "–" : cls < names.length ? names[cls] : "output " + cls;
  Object.assign(window.nnState, { predicted: cls, probabilities: probs, pixels: Array.from(pixels) });
  window.nnState.updates++;
}

function classify() {
  if (!wasm || !window.nnState.ready) return;
  const e = wasm.exports;
  const rgba = ink.getImageData(0, 0, pad.width, pad.height).data;
  new Uint8Array(e.memory.buffer, e.canvas_buffer(), rgba.length).set(rgba);
  const cls = e.classify(pad.width, pad.height);
  if (cls < 0) {
    showResult(null);
    say("draw a digit (" + message() + ")", false);
    return;
  }
  showResult(cls);
  say(window.nnState.model, false);
}

// Drawing: a round pen about as wide, relative to the canvas, as MNIST's strokes.
let drawing = false;
let queued = false;
let last = null;
function at(ev) {
  const r = pad.getBoundingClientRect();
  return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height];
}
function stroke(to) {
  ink.strokeStyle = "#000";
  ink.fillStyle = "#000";
  ink.lineWidth = 22;
  ink.lineCap = "round";
  ink.lineJoin = "round";
  if (last) {
    ink.beginPath();
    ink.moveTo(last[0], last[1]);
    ink.lineTo(to[0], to[1]);
    ink.stroke();
  } else {
    ink.beginPath();
    ink.arc(to[0], to[1], ink.lineWidth / 2, 0, 2 * Math.PI);
    ink.fill();
  }
  last = to;
}
function later() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => { queued = false; classify(); });
}
pad.addEventListener("pointerdown", (ev) => {
  drawing = true;
  last = null;
  pad.setPointerCapture(ev.pointerId);
  stroke(at(ev));
  later();
});
pad.addEventListener("pointermove", (ev) => {
  if (!drawing) return;
  stroke(at(ev));
  later();
});
function end() {
  if (!drawing) return;
  drawing = false;
  last = null;
  classify();
}
pad.addEventListener("pointerup", end);
pad.addEventListener("pointercancel", end);
document.getElementById("clear").addEventListener("click", () => { clearPad(); say(window.nnState.model, false); });

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ": HTTP " + response.status);
  return new Uint8Array(await response.arrayBuffer());
}

// ---------------------------------------------------------------- teach mode

const thumbs = document.getElementById("thumbs");
const learnButton = document.getElementById("learn");
const downloadButton = document.getElementById("download");
const servedButton = document.getElementById("served");
const teachLine = document.getElementById("teach-status");
const learnedLine = document.getElementById("learned");
const worker = new Worker("learn.js");

function teachSay(text, isError) {
  teachLine.textContent = text;
  teachLine.className = isError ? "error" : "";
  window.nnState.teach.error = isError ? text : null;
}

function teachable() {
  return window.nnState.ready && !wasm.exports.model_is_int8();
}

function updateButtons() {
  const t = window.nnState.teach;
  learnButton.disabled = t.learning || t.kept === 0 || !teachable();
  downloadButton.disabled = t.learning || tuned === null;
  servedButton.disabled = t.learning || tuned === null;
}

// The kept examples as thumbnails (the 28×28 the model saw), each with its label and a ×.
function showExamples() {
  const e = wasm.exports;
  const n = e.example_count();
  const records = new Uint8Array(e.memory.buffer, e.examples_ptr(), n * RECORD).slice();
  thumbs.textContent = "";
  for (let i = 0; i < n; i++) {
    const item = document.createElement("div");
    item.className = "thumb";
    const c = document.createElement("canvas");
    c.width = 28;
    c.height = 28;
    const img = c.getContext("2d").createImageData(28, 28);
    for (let p = 0; p < 784; p++) img.data.set([records[i * RECORD + 1 + p], records[i * RECORD + 1 + p],
      records[i * RECORD + 1 + p], 255], 4 * p);
    c.getContext("2d").putImageData(img, 0, 0);
    const label = document.createElement("span");
    label.textContent = String(records[i * RECORD]);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.title = "remove this example";
    remove.textContent = "×";
    remove.addEventListener("click", () => {
      if (e.remove_example(i) < 0) teachSay(message(), true);
      showExamples();
    });
    item.append(c, label, remove);
    thumbs.appendChild(item);
  }
  window.nnState.teach.kept = n;
  updateButtons();
}

function keep(label) {
  if (!window.nnState.ready) return;
  if (wasm.exports.keep_example(label) < 0) {
    teachSay(message(), true);
    return;
  }
  teachSay("kept as a " + label + "; draw the next one", false);
  clearPad();
  showExamples();
}

function buildKeepButtons() {
  const row = document.getElementById("keep");
  for (let k = 0; k < 10; k++) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = String(k);
    b.title = "keep this drawing as a " + k;
    b.addEventListener("click", () => keep(k));
    row.appendChild(b);
  }
}

// Loads a model file into this page's instance (the served one, or Learn's).
function loadModel(bytes) {
  const e = wasm.exports;
  const ptr = e.model_buffer(bytes.length);
  if (ptr === 0) throw new Error("model: " + bytes.length + " bytes do not fit in memory");
  new Uint8Array(e.memory.buffer, ptr, bytes.length).set(bytes);
  if (e.load_model(bytes.length) !== 0) throw new Error("model: " + message());
}

function learn() {
  const e = wasm.exports;
  const count = e.example_count();
  const examples = new Uint8Array(e.memory.buffer, e.examples_ptr(), count * RECORD).slice();
  const replayCount = Math.min(replay.length / RECORD, e.max_replay());
  window.nnState.teach.learning = true;
  updateButtons();
  teachSay("learning from " + count + " examples…", false);
  worker.postMessage({
    module: wasmModule, model: served, examples, count, replay: replay.subarray(0, replayCount * RECORD),
    replayCount,
  });
}

worker.onmessage = (event) => {
  const r = event.data;
  const t = window.nnState.teach;
  t.learning = false;
  if (r.error) {
    teachSay("Learn failed: " + r.error, true);
    updateButtons();
    return;
  }
  try {
    loadModel(r.tuned);
  } catch (err) {
    teachSay("the tuned model: " + String(err.message || err), true);
    loadModel(served);
    updateButtons();
    return;
  }
  tuned = r.tuned;
  Object.assign(t, { heldOut: r.heldOut, before: r.before, after: r.after, steps: r.steps, ms: r.ms });
  t.learned++;
  const measured = r.heldOut === 0
    ? "keep two or more of a digit to measure before and after"
    : "on " + r.heldOut + " held-out examples: " + r.before + " right before, " + r.after + " after";
  learnedLine.textContent = "Learned in " + (r.ms / 1000).toFixed(1) + " s: " + r.steps + " steps on your " +
    window.nnState.teach.kept + " examples, after a first run for the measure; " + measured + ".";
  teachSay("now running the tuned model: draw again", false);
  updateButtons();
  classify();
};

learnButton.addEventListener("click", learn);
downloadButton.addEventListener("click", () => {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([tuned], { type: "application/octet-stream" }));
  a.download = "tuned.nnm";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});
servedButton.addEventListener("click", () => {
  loadModel(served);
  tuned = null;
  learnedLine.textContent = "";
  teachSay("back to the served model", false);
  updateButtons();
  classify();
});

// The replay examples, or why there are none (serve answers 404 with the reason).
async function fetchReplay() {
  const response = await fetch("replay.bin");
  if (!response.ok) {
    let why = "HTTP " + response.status;
    try { why = (await response.json()).error || why; } catch (_) { /* not JSON: the status says it */ }
    return [new Uint8Array(0), why];
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length % RECORD !== 0) return [new Uint8Array(0), "replay.bin is not whole 785-byte records"];
  return [bytes, null];
}

async function start() {
  clearPad();
  try {
    wasmModule = await WebAssembly.compile(await fetchBytes("nn_wasm.wasm"));
    wasm = await WebAssembly.instantiate(wasmModule, {});
    const e = wasm.exports;
    const model = await fetchBytes("model.nnm");
    served = model;
    loadModel(model);
    const decoder = new TextDecoder();
    outputs = e.model_outputs();
    names = [];
    for (let k = 0; k < outputs && e.class_name_len(k) > 0; k++) {
      names.push(decoder.decode(new Uint8Array(e.memory.buffer, e.class_name_ptr(k), e.class_name_len(k))));
    }
    if (names.length === 0) names = Array.from({ length: outputs }, (_, k) => String(k));
    buildBars();
    showResult(null);
    window.nnState.names = names;
    window.nnState.model = "model: 784-" + e.model_hidden() + "-" + outputs + ", " + (e.model_is_int8() ? "int8" : "f32") +
      " (" + model.length + " bytes), running in WebAssembly";
    const [records, why] = await fetchReplay();
    replay = records;
    window.nnState.teach.replay = records.length / RECORD;
    document.getElementById("replay").textContent = why === null
      ? "Each step also replays MNIST images (" + records.length / RECORD + " from the server) against forgetting."
      : "Replay is off (" + why + "): Learn uses your examples alone, and may forget MNIST.";
    window.nnState.ready = true;
    buildKeepButtons();
    showExamples();
    if (e.model_is_int8()) teachSay("teaching needs an f32 model (this one is int8): serve the f32 model", false);
    say(window.nnState.model, false);
  } catch (err) {
    window.nnState.error = String(err.message || err);
    say(window.nnState.error, true);
  }
}
start();
