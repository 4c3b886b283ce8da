// The page's Learn, off the main thread so that drawing and scrolling go on meanwhile: a
// fresh instance of the page's own wasm module (sent by the page, not fetched) loads the served
// model, takes the kept and the replay examples, learns (nn-wasm/src/teach.rs) and sends back
// the tuned model file and what it measured. Nothing is fetched from here.
"use strict";

onmessage = async (event) => {
  const { module, model, examples, count, replay, replayCount } = event.data;
  try {
    const e = (await WebAssembly.instantiate(module, {})).exports;
    const message = () => new TextDecoder().decode(new Uint8Array(e.memory.buffer, e.message_ptr(), e.message_len()));
    const ptr = e.model_buffer(model.length);
    if (ptr === 0) throw new Error("the model does not fit in memory");
    new Uint8Array(e.memory.buffer, ptr, model.length).set(model);
    if (e.load_model(model.length) !== 0) throw new Error(message());
    new Uint8Array(e.memory.buffer, e.examples_ptr(), examples.length).set(examples);
    if (e.set_examples(count) < 0) throw new Error(message());
    new Uint8Array(e.memory.buffer, e.replay_ptr(), replay.length).set(replay);
    if (e.set_replay(replayCount) < 0) throw new Error(message());
    const start = performance.now();
    if (e.learn() !== 0) throw new Error(message());
    const ms = performance.now() - start;
    const tuned = new Uint8Array(e.memory.buffer, e.tuned_ptr(), e.tuned_len()).slice();
    postMessage({
      tuned, ms, heldOut: e.learned_held_out(), before: e.learned_before(), after: e.learned_after(),
      steps: e.learned_steps(),
    }, [tuned.buffer]);
  } catch (err) {
    postMessage({ error: String(err.message || err) });
  }
};
