// The draw-a-digit page: loads nn_wasm.wasm (nn-core inside, see nn-wasm/src/exports.rs for
// the functions) and the model file from the server that served this page, then classifies
// the canvas on every stroke. Nothing is fetched from anywhere else.
"use strict";

const pad = document.getElementById("pad");
const seen = document.getElementById("seen");
const bars = document.getElementById("bars");
const predicted = document.getElementById("predicted");
const statusLine = document.getElementById("status");
const ink = pad.getContext("2d", { willReadFrequently: true });
const seenCtx = seen.getContext("2d");

// What the page shows, for scripts and the browser test.
window.nnState = { ready: false, error: null, predicted: null, probabilities: [], pixels: [], updates: 0 };

let wasm = null;
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

async function start() {
  clearPad();
  try {
    const module = await WebAssembly.instantiate(await fetchBytes("nn_wasm.wasm"), {});
    wasm = module.instance;
    const e = wasm.exports;
    const model = await fetchBytes("model.nnm");
    const ptr = e.model_buffer(model.length);
    if (ptr === 0) throw new Error("model.nnm: " + model.length + " bytes do not fit in memory");
    new Uint8Array(e.memory.buffer, ptr, model.length).set(model);
    if (e.load_model(model.length) !== 0) throw new Error("model.nnm: " + message());
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
    window.nnState.ready = true;
    say(window.nnState.model, false);
  } catch (err) {
    window.nnState.error = String(err.message || err);
    say(window.nnState.error, true);
  }
}
start();
