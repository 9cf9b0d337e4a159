// Timbre's web UI: sign-in, the hash router and the page shell. Each page lives in
// js/<name>.js and exports `render(ctx)`; see `Route context` below.

import { api, session, loginWithKey, loginWithToken, setUnauthorizedHandler } from "./js/api.js";
import { h, hideError, replace, showError } from "./js/dom.js";
import { applyDefaults } from "./js/charts.js";
import * as tracksPage from "./js/tracks.js";
import * as trackPage from "./js/track.js";
import * as mapPage from "./js/map.js";
import * as predictPage from "./js/predict.js";
import * as livePage from "./js/live.js";
import * as duplicatesPage from "./js/duplicates.js";
import * as jobsPage from "./js/jobs.js";
import * as modelsPage from "./js/models.js";
import * as librariesPage from "./js/libraries.js";

const routes = [
  { pattern: /^\/tracks$/, name: "tracks", title: "Library", page: tracksPage },
  { pattern: /^\/track\/(\d+)$/, name: "tracks", title: "Track", page: trackPage, params: ["id"] },
  { pattern: /^\/map$/, name: "map", title: "Cluster map", page: mapPage },
  { pattern: /^\/predict$/, name: "predict", title: "Predict", page: predictPage },
  { pattern: /^\/live$/, name: "live", title: "Live", page: livePage },
  { pattern: /^\/duplicates$/, name: "duplicates", title: "Duplicates", page: duplicatesPage },
  { pattern: /^\/jobs$/, name: "jobs", title: "Jobs", page: jobsPage },
  { pattern: /^\/models$/, name: "models", title: "Models", page: modelsPage },
  { pattern: /^\/libraries$/, name: "libraries", title: "Libraries", page: librariesPage },
];

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
const loginView = document.getElementById("login-view");

// ---- Route context -------------------------------------------------------------------------
// A page gets { root, params, query, signal, onLeave, setQuery }. `signal` aborts the page's
// requests when the reader navigates away; `onLeave(fn)` registers cleanup (timers, charts,
// object URLs); `setQuery(obj)` rewrites the hash's query without re-rendering (filters).

let current = null; // { controller, leaveHooks }

function leaveCurrent() {
  if (!current) return;
  current.controller.abort();
  for (const hook of current.leaveHooks.reverse()) {
    try { hook(); } catch (err) { console.error(err); }
  }
  current = null;
}

/** "#/tracks?q=x" → { path: "/tracks", query: URLSearchParams("q=x") } */
function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, "");
  const cut = raw.indexOf("?");
  const path = cut < 0 ? raw : raw.slice(0, cut);
  return { path: path || "/", query: new URLSearchParams(cut < 0 ? "" : raw.slice(cut + 1)) };
}

function route({ focus = false } = {}) {
  if (!session.key()) return showLogin();
  const { path, query } = parseHash();
  const match = routes.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!match) {
    if (path === "/" || path === "") {
      history.replaceState(null, "", "#/tracks");
      return route({ focus });
    }
  }
  leaveCurrent();
  hideError();
  closeMobileNav();
  const controller = new AbortController();
  current = { controller, leaveHooks: [] };
  const mine = current;

  for (const link of document.querySelectorAll("#nav a")) {
    if (match && link.dataset.route === match.r.name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }

  main.replaceChildren();
  main.dataset.route = match ? match.r.name : "not-found";
  if (!match) {
    document.title = "Not found — Timbre";
    replace(main, h("h1", { tabindex: "-1" }, "Page not found"),
      h("p", {}, "There is no page at ", h("code", {}, location.hash), ". ",
        h("a", { href: "#/tracks" }, "Go to the library"), "."));
    if (focus) main.querySelector("h1").focus();
    return;
  }
  document.title = `${match.r.title} — Timbre`;
  const params = {};
  (match.r.params || []).forEach((name, i) => { params[name] = match.m[i + 1]; });
  const ctx = {
    root: main,
    params,
    query,
    signal: controller.signal,
    onLeave: (hook) => mine.leaveHooks.push(hook),
    setQuery(values) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(values)) if (v !== null && v !== undefined && v !== "") qs.set(k, v);
      const s = qs.toString();
      history.replaceState(null, "", `#${path}${s ? `?${s}` : ""}`);
    },
    isCurrent: () => current === mine,
  };
  Promise.resolve()
    .then(() => match.r.page.render(ctx))
    .catch((err) => {
      if (current !== mine || err.name === "AbortError") return;
      showError(err);
      // The page could not get its data: say so in place of a "Loading…" that never ends.
      replace(main, h("h1", { tabindex: "-1" }, match.r.title),
        h("p", { class: "note warning", dataset: { testid: "page-error" } }, `This page could not be loaded: ${err.message}`),
        h("p", {}, h("button", { type: "button", class: "button-secondary", onclick: () => route() }, "Try again"), " ",
          h("a", { href: "#/tracks" }, "Go to the library")));
    })
    .finally(() => {
      if (focus && current === mine) (main.querySelector("h1") || main).focus({ preventScroll: false });
    });
}

// ---- Sign-in -------------------------------------------------------------------------------

/** The one-time token from `timbre serve`'s URL (`#token=…`), if any. */
function tokenFromFragment() {
  const m = /(?:^#|[#&?])token=([^&]*)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

function showLogin(message) {
  leaveCurrent();
  topbar.hidden = true;
  main.hidden = true;
  main.replaceChildren();
  loginView.hidden = false;
  const messageEl = document.getElementById("login-message");
  messageEl.hidden = !message;
  messageEl.textContent = message || "";
  document.title = "Sign in — Timbre";
  document.getElementById("login-key").focus();
}

function showApp(user) {
  loginView.hidden = true;
  topbar.hidden = false;
  main.hidden = false;
  document.getElementById("user-name").textContent = user ? `${user.name}${user.role === "admin" ? " (admin)" : ""}` : "";
  document.body.dataset.role = user?.role || "";
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("login-key");
  const key = input.value.trim();
  if (!key) return showLogin("Paste an API key first.");
  const button = document.getElementById("login-submit");
  button.disabled = true;
  try {
    const user = await loginWithKey(key);
    input.value = "";
    showApp(user);
    route({ focus: true });
  } catch (err) {
    showLogin(err.status === 401 ? "That key was not accepted. Check it, or make a new one with `timbre user key NAME`." : err.message);
  } finally {
    button.disabled = false;
  }
});

document.getElementById("logout").addEventListener("click", () => {
  session.clear();
  history.replaceState(null, "", "#/tracks");
  showLogin("You are signed out.");
});

setUnauthorizedHandler(() => {
  session.clear();
  showLogin("Your session has ended (the server no longer accepts the key). Sign in again.");
});

// ---- Shell ---------------------------------------------------------------------------------

function closeMobileNav() {
  document.getElementById("nav").classList.remove("open");
  document.getElementById("nav-toggle").setAttribute("aria-expanded", "false");
}

document.getElementById("nav-toggle").addEventListener("click", (event) => {
  const nav = document.getElementById("nav");
  const open = nav.classList.toggle("open");
  event.currentTarget.setAttribute("aria-expanded", String(open));
});

document.getElementById("error-dismiss").addEventListener("click", hideError);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !document.getElementById("error-banner").hidden) hideError();
});
document.getElementById("skip-link").addEventListener("click", () => main.focus());
window.addEventListener("hashchange", () => {
  if (tokenFromFragment()) return start();
  route({ focus: true });
});

async function start() {
  applyDefaults();
  const token = tokenFromFragment();
  if (token) {
    // Out of the address bar (and the history) before anything else happens.
    history.replaceState(null, "", `${location.pathname}${location.search}#/tracks`);
    try {
      const user = await loginWithToken(token);
      showApp(user);
      return route();
    } catch (err) {
      // A used link opened again in a tab that is signed in already: carry on with that key.
      if (err.status === 401 && session.key()) return resume();
      session.clear();
      return showLogin(err.status === 401
        ? "This sign-in link has been used already (it works once). Paste an API key, or restart `timbre serve` for a new link."
        : err.message);
    }
  }
  if (!session.key()) return showLogin();
  return resume();
}

/** Signs in with the key already in sessionStorage (a reload keeps the session). */
async function resume() {
  try {
    const user = await api.get("me");
    session.save(session.key(), user);
    showApp(user);
    route();
  } catch (err) {
    if (err.status !== 401) showLogin(err.message);
  }
}

start();
