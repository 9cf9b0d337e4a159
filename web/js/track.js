// #/track/{id} — one track: its metadata, effective tags (remove with ×, add with the form;
// PUT /tracks/{id}/tags answers the changed Track, which is re-rendered), the model's predicted
// tags, the user's corrections, the audio and spectrogram (fetched with the key into object
// URLs) and the most similar tracks. Clicking a tag chip shows, under the spectrogram, the
// Grad-CAM explanation of that tag (GET /tracks/{id}/explain: the picture and its regions).

import { api } from "./api.js";
import { downloadPlaylist, playlistButton } from "./playlist.js";
import {
  bar, busy, formatDuration, formatPercent, h, loading, note, replace, showError, statusBadge, tagChip,
  timeElement, trackName,
} from "./dom.js";

const SIMILAR_K = 10;
const PREDICTED_SHOWN = 12;

export async function render(ctx) {
  const { root, params, signal } = ctx;
  const id = params.id;
  replace(root, loading("Loading track…"));
  const track = await api.get(`tracks/${id}`, { signal });

  const heading = h("h1", { tabindex: "-1", id: "track-title" });
  const byline = h("p", { class: "byline", id: "track-byline" });
  const meta = h("dl", { class: "meta", id: "track-meta" });
  const effective = h("div", { class: "chips", id: "effective-tags", dataset: { testid: "effective-tags" } });
  const predicted = h("ol", { class: "prob-list", id: "predicted-tags", dataset: { testid: "predicted-tags" } });
  const corrections = h("div", { id: "corrections" });

  const vocabulary = h("datalist", { id: "tag-suggestions" });
  const addInput = h("input", {
    id: "add-tag-input", name: "label", list: "tag-suggestions", autocomplete: "off", maxlength: "64",
    placeholder: "Add a tag", "aria-label": "Tag to add", required: true,
  });
  const addButton = h("button", { type: "submit", id: "add-tag-button" }, "Add tag");
  const addForm = h("form", { class: "inline-form", id: "add-tag-form" }, addInput, addButton);

  const similarList = h("ol", { class: "similar", id: "similar-list", dataset: { testid: "similar-list" } });
  const sameAlbum = h("input", { type: "checkbox", id: "similar-exclude-album" });
  const sameArtist = h("input", { type: "checkbox", id: "similar-exclude-artist" });

  const audio = h("audio", { controls: true, preload: "metadata", id: "track-audio", dataset: { testid: "track-audio" } });
  const audioStatus = h("p", { class: "muted small", id: "audio-status", role: "status" }, "Loading audio…");
  const spectrogram = h("img", { id: "track-spectrogram", alt: "", class: "spectrogram", hidden: true });
  const spectrogramStatus = h("p", { class: "muted small", id: "spectrogram-status" }, "Loading spectrogram…");
  const explanationImage = h("img", { id: "track-explanation-image", alt: "", class: "spectrogram", hidden: true,
    dataset: { testid: "explanation-image" } });
  const explanationCaption = h("figcaption", { class: "muted small", id: "track-explanation-caption", role: "status" });
  const explanation = h("figure", { class: "explanation", id: "track-explanation", hidden: true },
    explanationImage, explanationCaption);

  replace(root,
    h("p", { class: "crumbs" }, h("a", { href: "#/tracks" }, "← Library")),
    h("article", { class: "track-page", id: "track-page", dataset: { trackId: id } },
      h("header", { class: "page-head" }, heading, byline),
      meta,
      h("section", { class: "card media", "aria-label": "Listen" }, audio, audioStatus, spectrogram, spectrogramStatus, explanation),
      h("div", { class: "columns" },
        h("div", {},
          h("section", { class: "card", "aria-labelledby": "tags-heading" },
            h("h2", { id: "tags-heading" }, "Tags"),
            effective, addForm, vocabulary,
            h("p", { class: "muted small" }, "Tags predicted at 50% or more, plus the ones you add, minus the ones you remove.")),
          h("section", { class: "card", "aria-labelledby": "predicted-heading" },
            h("h2", { id: "predicted-heading" }, "Predicted by the model"), predicted),
          h("section", { class: "card", "aria-labelledby": "corrections-heading" },
            h("h2", { id: "corrections-heading" }, "Your corrections"), corrections)),
        h("section", { class: "card", "aria-labelledby": "similar-heading" },
          h("h2", { id: "similar-heading" }, "Similar tracks"),
          h("div", { class: "checks" },
            h("label", {}, sameAlbum, " Not from this album"),
            h("label", {}, sameArtist, " Not by this artist")),
          similarList,
          playlistButton(() => downloadPlaylist("GET", `tracks/${id}/similar`, {
            query: { k: SIMILAR_K, exclude_same_album: sameAlbum.checked || "", exclude_same_artist: sameArtist.checked || "" },
            filename: `similar-${id}.m3u8`, signal: ctx.signal,
          }), { title: "Download these tracks as an M3U8 playlist" })))));

  function show(t) {
    heading.textContent = trackName(t);
    replace(byline, [t.artist, t.album].filter(Boolean).join(" — ") || h("span", { class: "muted" }, "Unknown artist"));
    const rows = [
      ["Path", h("code", { class: "path" }, t.path)],
      ["Format", t.format || "–"],
      ["Duration", formatDuration(t.duration_seconds)],
      ["Genre (file)", t.genre || "–"],
      ["Year", t.year ?? "–"],
      ["Status", statusBadge(t.status)],
      ["Model", t.model_version ? h("code", {}, t.model_version) : "–"],
    ];
    if (t.last_error) rows.push(["Last error", h("span", { class: "error-text" }, t.last_error)]);
    replace(meta, rows.map(([k, v]) => h("div", { class: k === "Path" ? "meta-wide" : null }, h("dt", {}, k), h("dd", {}, v))));

    const probability = Object.fromEntries((t.predicted || []).map((p) => [p.label, p.probability]));
    const effectiveSet = new Set(t.effective_tags || []);
    replace(effective, t.effective_tags?.length
      ? t.effective_tags.map((label) => tagChip(label, {
        probability: probability[label], onRemove: removeTag, onSelect: explain, testid: "effective-tag",
        extraClass: label in probability && probability[label] >= 0.5 ? "" : "chip-added",
      }))
      : h("span", { class: "muted" }, "No tags yet."));

    const removed = new Set(latestCorrections(t).filter((c) => c.action === "removed").map((c) => c.label));
    const predictedRow = (p) => h("li", {
      class: `prob-row${effectiveSet.has(p.label) ? " is-effective" : ""}${removed.has(p.label) ? " is-removed" : ""}`,
      dataset: { testid: "predicted-tag", label: p.label },
    },
    h("span", { class: "prob-label" }, p.label, removed.has(p.label) && h("span", { class: "muted small" }, " (removed)")),
    bar(p.probability, `${p.label} ${formatPercent(p.probability, 1)}`),
    h("span", { class: "prob-value" }, formatPercent(p.probability, 1)));
    // A large vocabulary (50 genres) would push everything else down: the likeliest first,
    // the rest one click away.
    const all = t.predicted || [];
    const wasOpen = predicted.querySelector("#predicted-more")?.open || false;
    replace(predicted, all.length
      ? [all.slice(0, PREDICTED_SHOWN).map(predictedRow),
        all.length > PREDICTED_SHOWN && h("li", {}, h("details", { id: "predicted-more", open: wasOpen },
          h("summary", {}, `${all.length - PREDICTED_SHOWN} more labels`),
          h("ol", { class: "prob-list" }, all.slice(PREDICTED_SHOWN).map(predictedRow))))]
      : h("li", { class: "muted" }, "Not tagged yet."));

    replace(corrections, t.corrections?.length
      ? h("ul", { class: "corrections" }, t.corrections.map((c) => h("li", {},
        h("span", { class: `badge badge-${c.action}` }, c.action), " ", h("strong", {}, c.label), " ",
        h("span", { class: "muted small" }, timeElement(c.created_at)))))
      : h("p", { class: "muted" }, "None. Remove a wrong tag or add a missing one; retraining learns from these."));
  }

  async function change(body, button) {
    try {
      const updated = await busy(button, () => api.put(`tracks/${id}/tags`, body, { signal }));
      show(updated);
      return true;
    } catch (err) {
      showError(err);
      return false;
    }
  }

  async function removeTag(label) {
    const button = effective.querySelector(`button[data-label="${CSS.escape(label)}"]`);
    const index = [...effective.querySelectorAll(".chip-remove")].indexOf(button);
    if (await change({ remove: [label] }, button || addButton)) {
      // Keep the keyboard where it was: on the next chip's ×, else on the input.
      const buttons = effective.querySelectorAll(".chip-remove");
      (buttons[Math.min(index, buttons.length - 1)] || addInput).focus();
    }
  }

  // The explanation of the tag last clicked; a newer click wins over an answer still on its way.
  let explaining = null;
  const explanationURLs = [];
  ctx.onLeave(() => explanationURLs.forEach((u) => URL.revokeObjectURL(u)));
  async function explain(label) {
    explaining = label;
    for (const b of effective.querySelectorAll(".chip-select")) b.setAttribute("aria-pressed", String(b.dataset.label === label));
    explanation.hidden = false;
    explanation.dataset.state = "loading";
    explanationImage.hidden = true;
    explanationCaption.textContent = `Explaining “${label}”…`;
    try {
      const [url, report] = await Promise.all([
        api.objectURL(`tracks/${id}/explain`, { query: { tag: label, format: "png" }, signal }),
        api.get(`tracks/${id}/explain`, { query: { tag: label }, signal }),
      ]);
      explanationURLs.push(url);
      if (explaining !== label) return;
      explanationImage.src = url;
      explanationImage.alt = `Where the model heard “${label}” in ${trackName(track)}: the heat over the log-mel spectrogram`;
      explanationImage.hidden = false;
      explanationCaption.textContent = describeExplanation(report);
      explanation.dataset.state = "ready";
    } catch (err) {
      if (err.name === "AbortError" || explaining !== label) return;
      explanationCaption.textContent = `No explanation for “${label}”: ${err.message}`;
      explanation.dataset.state = "error";
    }
  }

  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const label = addInput.value.trim();
    if (!label) return addInput.focus();
    if (await change({ add: [label] }, addButton)) addInput.value = "";
    addInput.focus();
  });

  show(track);
  loadVocabulary(vocabulary, signal);
  loadMedia(ctx, track, { audio, audioStatus, spectrogram, spectrogramStatus });
  const loadSimilar = () => similar(ctx, id, similarList, {
    exclude_same_album: sameAlbum.checked || null, exclude_same_artist: sameArtist.checked || null,
  });
  sameAlbum.addEventListener("change", loadSimilar);
  sameArtist.addEventListener("change", loadSimilar);
  loadSimilar();
}

/** One sentence from GET /tracks/{id}/explain: the tag, then its hottest regions. */
function describeExplanation(report) {
  const seconds = (s) => (report.duration_seconds < 60 ? `${s.toFixed(1)} s` : formatDuration(s));
  const hz = (f) => (f >= 1000 ? `${(f / 1000).toFixed(1)} kHz` : `${Math.round(f)} Hz`);
  const regions = (report.regions || []).slice(0, 3).map((r) =>
    `${seconds(r.start_seconds)}–${seconds(r.end_seconds)} at ${hz(r.low_hz)}–${hz(r.high_hz)} (${formatPercent(r.share, 0)})`);
  const head = `“${report.tag}” (${formatPercent(report.probability, 1)}), Grad-CAM over ${report.chunks.length} analysed chunks`;
  return regions.length ? `${head}: ${regions.join("; ")}.` : `${head}: no region raised this tag.`;
}

/** The latest correction of each label (that is the one that counts). */
function latestCorrections(track) {
  const last = new Map();
  for (const c of track.corrections || []) last.set(c.label, c);
  return [...last.values()];
}

async function loadVocabulary(datalist, signal) {
  try {
    const { tags } = await api.get("tags", { signal });
    replace(datalist, tags.map((t) => h("option", { value: t.label })));
  } catch { /* suggestions only; the input still works */ }
}

// The audio and the spectrogram are secondary: a failure is shown where they would be, not in
// the banner (a track whose file has gone still has its tags).
function loadMedia(ctx, track, els) {
  const urls = [];
  ctx.onLeave(() => urls.forEach((u) => URL.revokeObjectURL(u)));
  const { signal } = ctx;
  api.objectURL(`tracks/${track.id}/audio`, { signal }).then((url) => {
    urls.push(url);
    els.audio.src = url;
    els.audioStatus.textContent = "";
    els.audioStatus.hidden = true;
  }).catch((err) => {
    if (err.name === "AbortError") return;
    els.audio.hidden = true;
    els.audioStatus.textContent = `Audio unavailable: ${err.message}`;
  });
  api.objectURL(`tracks/${track.id}/spectrogram.png`, { signal }).then((url) => {
    urls.push(url);
    els.spectrogram.src = url;
    els.spectrogram.alt = `Log-mel spectrogram of ${trackName(track)}`;
    els.spectrogram.hidden = false;
    els.spectrogramStatus.hidden = true;
  }).catch((err) => {
    if (err.name === "AbortError") return;
    els.spectrogramStatus.textContent = `Spectrogram unavailable: ${err.message}`;
  });
}

async function similar(ctx, id, list, options) {
  replace(list, h("li", { class: "muted" }, "Finding similar tracks…"));
  list.dataset.state = "loading";
  try {
    const answer = await api.get(`tracks/${id}/similar`, { query: { k: SIMILAR_K, ...options }, signal: ctx.signal });
    replace(list, answer.results.length
      ? answer.results.map(({ track, score }) => h("li", { dataset: { testid: "similar-item", trackId: track.id } },
        h("a", { href: `#/track/${track.id}`, dataset: { testid: "similar-link" } },
          h("span", { class: "similar-title" }, trackName(track)),
          h("span", { class: "muted small" }, [track.artist, track.album].filter(Boolean).join(" — "))),
        h("span", { class: "similar-score" },
          bar(score, `cosine ${score.toFixed(3)}`),
          h("span", { class: "score", dataset: { testid: "similar-score" }, title: "cosine similarity" }, score.toFixed(3)))))
      : h("li", { class: "muted" }, "No other tracks to compare with yet."));
    list.dataset.state = "ready";
  } catch (err) {
    if (err.name === "AbortError") return;
    replace(list, h("li", {}, note(`No similar tracks: ${err.message}`, "warning")));
    list.dataset.state = "error";
  }
}
