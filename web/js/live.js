// #/live — live predictions over the WebSocket GET /api/v1/stream (protocol in docs/api.md):
// a local file decoded in the browser (Web Audio decodeAudioData), down-mixed to mono and sent
// as f32le PCM in 1 s pieces at four times real time, or the microphone where the browser
// allows it. Shows each ~3 s chunk's tags as they come and the running track estimate.

import { session } from "./api.js";
import { bar, formatPercent, h, replace, showError, tagChip } from "./dom.js";

const PIECE_SECONDS = 1;
const SPEED = 4;
const RECENT = 8;

function streamURL() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1/stream`;
}

export async function render(ctx) {
  const { root } = ctx;
  const input = h("input", { type: "file", id: "live-file", accept: "audio/*,.flac,.ogg,.opus,.mp3,.wav", class: "visually-hidden-file" });
  const fileButton = h("label", { class: "button", for: "live-file", dataset: { testid: "live-file" } }, input, "Stream a file…");
  const micButton = h("button", { type: "button", class: "button-secondary", id: "live-mic" }, "Use the microphone");
  const stopButton = h("button", { type: "button", class: "button-secondary", id: "live-stop", disabled: true }, "Stop");
  const status = h("p", { id: "live-status", class: "muted", role: "status" }, "Choose a file or the microphone.");
  const trackTags = h("div", { class: "chips", id: "live-track", dataset: { testid: "live-track" } });
  const current = h("div", { id: "live-chunk" });
  const recent = h("ol", { class: "plain-list", id: "live-recent" });
  if (!navigator.mediaDevices?.getUserMedia) micButton.disabled = true;

  replace(root,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Live"),
      h("p", { class: "muted" }, "Tags for every ~3 s of audio as it streams, and the estimate for the whole so far.")),
    h("p", {}, fileButton, " ", micButton, " ", stopButton),
    status,
    h("section", { class: "card" }, h("h2", {}, "Track so far"), trackTags),
    h("section", { class: "card" }, h("h2", {}, "Latest chunk"), current, h("h3", {}, "Recent chunks"), recent));

  let stop = () => {};
  let cleanup = () => {};
  ctx.onLeave(() => { stop(); cleanup(); });

  function open(sampleRate, onReady) {
    const ws = new WebSocket(streamURL(), ["timbre", session.key()]);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ sample_rate: Math.round(sampleRate), channels: 1, format: "f32le" }));
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "ready") onReady(ws, message);
      else if (message.type === "chunk") showChunk(message);
      else if (message.type === "track") showTrack(message);
      else if (message.type === "error") showError(new Error(`stream: ${message.message}`));
    };
    ws.onclose = (event) => {
      finished();
      status.textContent = event.code === 1000 ? "Done." : `The stream closed (${event.code}${event.reason ? `: ${event.reason}` : ""}).`;
    };
    ws.onerror = () => { status.textContent = "The stream could not be opened (is the server's stream limit reached?)."; };
    return ws;
  }

  function top(predictions, n) { return predictions.slice(0, n); }

  function showChunk(message) {
    const time = `${message.start_seconds.toFixed(1)}–${message.end_seconds.toFixed(1)} s`;
    replace(current, h("p", { class: "muted small" }, time),
      h("ul", { class: "plain-list" }, top(message.predictions, 5).map((p) =>
        h("li", {}, h("span", { class: "label" }, p.label), " ", bar(p.probability), " ", formatPercent(p.probability, 1)))));
    recent.prepend(h("li", { dataset: { testid: "live-chunk" } }, h("span", { class: "muted small" }, time), " ",
      top(message.predictions, 3).map((p) => tagChip(p.label, { probability: p.probability }))));
    while (recent.children.length > RECENT) recent.lastChild.remove();
  }

  function showTrack(message) {
    const shown = message.tags.length ? message.predictions.filter((p) => message.tags.includes(p.label)) : top(message.predictions, 3);
    replace(trackTags, shown.map((p) => tagChip(p.label, { probability: p.probability })),
      h("span", { class: "muted small" }, ` ${message.chunks} chunk(s), ${message.seconds.toFixed(1)} s${message.final ? " (final)" : ""}`));
  }

  function busy(on) {
    input.disabled = on;
    micButton.disabled = on || !navigator.mediaDevices?.getUserMedia;
    stopButton.disabled = !on;
  }
  function finished() { busy(false); stop = () => {}; cleanup(); cleanup = () => {}; }
  stopButton.onclick = () => stop();

  input.onchange = async () => {
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    busy(true);
    status.textContent = `Decoding ${file.name}…`;
    let audio;
    try {
      const context = new AudioContext();
      audio = await context.decodeAudioData(await file.arrayBuffer());
      context.close();
    } catch (error) {
      busy(false);
      status.textContent = "";
      showError(new Error(`the browser could not decode ${file.name}: ${error.message || error}`));
      return;
    }
    const mono = new Float32Array(audio.length);
    for (let c = 0; c < audio.numberOfChannels; c++) {
      const data = audio.getChannelData(c);
      for (let i = 0; i < data.length; i++) mono[i] += data[i] / audio.numberOfChannels;
    }
    replace(recent);
    let timer = null;
    const ws = open(audio.sampleRate, (socket) => {
      status.textContent = `Streaming ${file.name} (${audio.duration.toFixed(0)} s)…`;
      const piece = Math.round(audio.sampleRate * PIECE_SECONDS);
      let at = 0;
      timer = setInterval(() => {
        if (socket.readyState !== WebSocket.OPEN) { clearInterval(timer); return; }
        if (at >= mono.length) {
          clearInterval(timer);
          socket.send(JSON.stringify({ type: "end" }));
          status.textContent = "Finishing…";
          return;
        }
        socket.send(mono.slice(at, at + piece).buffer);
        at += piece;
      }, (PIECE_SECONDS * 1000) / SPEED);
    });
    stop = () => { if (timer) clearInterval(timer); if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "end" })); };
  };

  micButton.onclick = async () => {
    let media;
    try {
      media = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      showError(new Error(`no microphone: ${error.message || error}`));
      return;
    }
    busy(true);
    replace(recent);
    const context = new AudioContext();
    const source = context.createMediaStreamSource(media);
    // ScriptProcessorNode: deprecated but everywhere, and enough for 4096-sample pieces.
    const tap = context.createScriptProcessor(4096, 1, 1);
    const release = () => { tap.disconnect(); source.disconnect(); media.getTracks().forEach((t) => t.stop()); context.close(); };
    cleanup = release;
    const ws = open(context.sampleRate, (socket) => {
      status.textContent = "Listening…";
      tap.onaudioprocess = (event) => {
        if (socket.readyState === WebSocket.OPEN) socket.send(new Float32Array(event.inputBuffer.getChannelData(0)).buffer);
      };
      source.connect(tap);
      tap.connect(context.destination);
    });
    stop = () => { tap.onaudioprocess = null; if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "end" })); };
  };
}
