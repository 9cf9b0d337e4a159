// "Save as playlist": asks a list answer for its M3U8 form (`?format=m3u8`, docs/api.md) with the
// session's key (a plain link could not send it) and hands the bytes to the browser as a download.

import { request } from "./api.js";
import { busy, h, showError } from "./dom.js";

/** Downloads `method path` with `format=m3u8` as `filename`. */
export async function downloadPlaylist(method, path, { query = {}, body, filename = "playlist.m3u8", signal } = {}) {
  const response = await request(method, path, { query: { ...query, format: "m3u8" }, body, raw: true, signal });
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/**
 * A "Save as playlist" button that runs `save` (a downloadPlaylist call) and shows its error;
 * its `data-state` says how the last save went ("saving", "saved", "error").
 */
export function playlistButton(save, { label = "Save as playlist", testid = "save-playlist", title } = {}) {
  // Quieter than the view's own actions, and never stretched across a grid cell (the map legend).
  const button = h("button", { type: "button", class: "button-secondary small", style: { justifySelf: "start" }, dataset: { testid }, title },
    label);
  button.addEventListener("click", async () => {
    button.dataset.state = "saving";
    try {
      await busy(button, save);
      button.dataset.state = "saved";
    } catch (err) {
      button.dataset.state = "error";
      if (err.name !== "AbortError") showError(err);
    }
  });
  return button;
}
