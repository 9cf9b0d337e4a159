#!/usr/bin/python3
"""Drives Timbre's web UI in headless Chromium against a running `timbre serve`.

    ui_test.py --url 'http://127.0.0.1:8000/#token=ONE_TIME_TOKEN' --audio song.wav --out shots/

The library behind the server must have a few tagged tracks (a demo library). Each check prints
one `ok`/`FAIL` line; a PNG of every page goes into --out (and one per failure); the last line is
`N passed, N failed`, and the exit status is 1 when anything failed (2 for bad arguments).

The test changes the catalog, as a user would: the first tagged track gets the tag
`browser-test-tag` added and one predicted tag removed (both visible as corrections).

Needs Debian's python3-selenium (4.8), chromium and chromium-driver (scripts/test-browser
installs them).
"""
import argparse
import json
import os
import sys
import time
from urllib.parse import parse_qs, urlparse

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from harness import Browser, CheckFailed

ADDED_TAG = "browser-test-tag"
KEY_STORAGE = "timbre.key"  # where web/js/api.js keeps the session's key
CHART_SETTLE = 1.3  # seconds: Chart.js's default animation is 1 s


class UITest(Browser):
    """The checks, in the order a user would meet the pages."""

    def login_with_token_url(self):
        if "#token=" not in self.opts.url and "token=" not in urlparse(self.opts.url).fragment:
            raise CheckFailed("--url has no #token=… fragment (use the URL `timbre serve` prints)")
        self.driver.get(self.opts.url)
        self.visible("#topbar, #login-view", "the signed-in app (or the login form)")
        if self.one("#login-view").is_displayed():
            raise CheckFailed("the token was not accepted; the login form says: "
                              f"{self.one('#login-message').text!r} (each token works once: start a fresh server)")
        self.one('[data-testid="track-row"], #tracks-empty:not([hidden])', "the library page")
        key = self.js("return sessionStorage.getItem(arguments[0])", KEY_STORAGE)
        if not key:
            raise CheckFailed(f"sessionStorage[{KEY_STORAGE!r}] is empty after login")
        url = self.driver.current_url
        if "token=" in url or key in url:
            raise CheckFailed(f"the token or key is still in the URL: {url}")
        local = self.js("return JSON.stringify(Object.assign({}, localStorage))")
        if key in local:
            raise CheckFailed("the key was written to localStorage")
        cookies = self.driver.get_cookies()
        if any(key in (c.get("value") or "") for c in cookies):
            raise CheckFailed("the key was written to a cookie")
        self.state["key"] = key
        return f"key in sessionStorage, URL is {url}"

    def browse_library(self):
        rows = self.wait(lambda d: self.css('[data-testid="track-row"]'), "track rows")
        names = [r.find_element(By.CSS_SELECTOR, '[data-testid="track-link"]').text for r in rows[:3]]
        tagged = [r for r in rows if r.find_elements(By.CSS_SELECTOR, '[data-testid="top-tag"]')]
        if not tagged:
            raise CheckFailed("no track in the first page has tags: is the demo library tagged yet?")
        first = tagged[0]
        self.state["track_id"] = first.get_attribute("data-track-id")
        self.state["track_tag"] = first.find_element(By.CSS_SELECTOR, '[data-testid="top-tag"]').get_attribute("data-label")
        detail = f"{len(rows)} rows, e.g. {names}"
        more = [b for b in self.css("#tracks-more") if b.is_displayed()]
        if more:
            more[0].click()
            self.wait(lambda d: len(self.css('[data-testid="track-row"]')) > len(rows), "“Load more” to add rows")
            detail += f"; Load more → {len(self.css('[data-testid=track-row]'))} rows"
        return detail

    def search_library(self):
        box = self.one("#track-search")
        box.clear()
        box.send_keys("zzzz-no-such-track-zzzz", Keys.ENTER)
        self.visible("#tracks-empty", "the no-match message")
        box.clear()
        box.send_keys(Keys.ENTER)
        self.wait(lambda d: self.css('[data-testid="track-row"]'), "the rows to come back")
        return "no-match search shows the empty state, clearing restores the list"

    def filter_by_tag(self):
        tag, track_id = self.state["track_tag"], self.state["track_id"]
        self.wait(lambda d: self.one("#tag-filter").get_attribute("data-loaded") == "true", "the tag list (GET /tags)")
        select = Select(self.one("#tag-filter"))
        values = [o.get_attribute("value") for o in select.options]
        if tag not in values:
            raise CheckFailed(f"tag {tag!r} (on track {track_id}) is not in the tag filter: {values}")
        select.select_by_value(tag)
        self.wait(lambda d: json.loads(self.one("#tracks-table").get_attribute("data-query") or "{}").get("tag") == tag
                  and self.one("#tracks-table").get_attribute("data-state") == "ready", f"the list filtered by {tag}")
        ids = [r.get_attribute("data-track-id") for r in self.css('[data-testid="track-row"]')]
        if track_id not in ids:
            raise CheckFailed(f"track {track_id}, tagged {tag}, is missing from the {tag} filter: {ids[:20]}")
        fragment = urlparse(self.driver.current_url).fragment  # "/tracks?tag=…"
        if parse_qs(fragment.partition("?")[2]).get("tag") != [tag]:
            raise CheckFailed(f"the filter is not in the URL: {self.driver.current_url}")
        return f"tag={tag}: {len(ids)} tracks, including track {track_id}"

    def open_track(self):
        track_id = self.state["track_id"]
        link = self.one(f'[data-testid="track-row"][data-track-id="{track_id}"] [data-testid="track-link"]')
        link.click()
        self.one(f'#track-page[data-track-id="{track_id}"]', f"the page of track {track_id}")
        title = self.visible("#track-title").text
        self.wait(lambda d: self.css('[data-testid="predicted-tag"]'), "predicted tags")
        effective = self.effective_tags()
        if not effective:
            raise CheckFailed("the track has no effective tags")
        self.wait(lambda d: self.js("const a = document.getElementById('track-audio');"
                                    "return a && a.src.startsWith('blob:')")
                  or (self.one("#audio-status").text.startswith("Audio unavailable")), "the audio player")
        audio = self.js("return document.getElementById('track-audio').src")
        if not audio.startswith("blob:"):
            raise CheckFailed(f"the audio did not load: {self.one('#audio-status').text}")
        self.wait(lambda d: self.js("const i = document.getElementById('track-spectrogram');"
                                    "return i && i.complete && i.naturalWidth > 0"), "the spectrogram image")
        return f"{title!r}: tags {effective}, audio {audio[:30]}…"

    def explain_tag(self):
        """Clicking a predicted tag's chip shows its Grad-CAM picture and regions under the spectrogram."""
        predicted = set(self.labels('[data-testid="predicted-tag"].is-effective'))
        candidates = [t for t in self.effective_tags() if t in predicted]
        if not candidates:
            raise CheckFailed(f"no predicted tag among the effective ones {self.effective_tags()}")
        label = candidates[0]
        self.one(f'#effective-tags button[data-testid="explain-tag"][data-label="{label}"]', f"the chip of {label}").click()
        self.wait(lambda d: self.one("#track-explanation").get_attribute("data-state") in ("ready", "error"),
                  f"the explanation of {label}")
        caption = self.one("#track-explanation-caption").text
        if self.one("#track-explanation").get_attribute("data-state") != "ready":
            raise CheckFailed(f"the explanation failed: {caption!r}")
        self.wait(lambda d: self.js("const i = document.getElementById('track-explanation-image');"
                                    "return i && !i.hidden && i.complete && i.naturalWidth > 0"), "the explanation image")
        if label not in caption:
            raise CheckFailed(f"the caption does not name {label}: {caption!r}")
        return caption

    def labels(self, selector):
        """The data-label of every match, read in one script (chips are re-rendered in place)."""
        return self.js("return [...document.querySelectorAll(arguments[0])].map(e => e.dataset.label)", selector)

    def effective_tags(self):
        return self.labels('#effective-tags [data-testid="effective-tag"]')

    def add_tag(self):
        box = self.one("#add-tag-input")
        box.clear()
        box.send_keys(ADDED_TAG, Keys.ENTER)  # the form submits with Enter
        self.wait(lambda d: ADDED_TAG in self.effective_tags(), f"the chip {ADDED_TAG}")
        return f"effective tags now {self.effective_tags()}"

    def tag_persists(self):
        track_id = self.state["track_id"]
        self.driver.refresh()
        self.one(f'#track-page[data-track-id="{track_id}"]', "the track page after reload")
        self.wait(lambda d: self.effective_tags(), "effective tags after reload")
        if ADDED_TAG not in self.effective_tags():
            raise CheckFailed(f"{ADDED_TAG} is gone after a reload: {self.effective_tags()}")
        if not self.js("return sessionStorage.getItem(arguments[0])", KEY_STORAGE):
            raise CheckFailed("the key left sessionStorage on reload")
        return "still there after reload, still signed in"

    def remove_predicted_tag(self):
        predicted = set(self.labels('[data-testid="predicted-tag"].is-effective'))
        candidates = [t for t in self.effective_tags() if t in predicted and t != ADDED_TAG]
        if not candidates:
            raise CheckFailed(f"no predicted tag among the effective ones {self.effective_tags()}")
        label = candidates[0]
        button = self.one(f'#effective-tags button[data-testid="remove-tag"][data-label="{label}"]')
        aria = button.get_attribute("aria-label") or ""
        if label not in aria:
            raise CheckFailed(f"the × of {label} has aria-label {aria!r}")
        button.click()
        self.wait(lambda d: label not in self.effective_tags(), f"{label} to leave the effective tags")
        self.one(f'[data-testid="predicted-tag"][data-label="{label}"].is-removed', f"{label} marked removed in the predictions")
        self.state["removed"] = label
        return f"removed {label}; effective tags now {self.effective_tags()}"

    def similar_tracks(self):
        self.wait(lambda d: self.one("#similar-list").get_attribute("data-state") in ("ready", "error"), "similar tracks")
        items = self.css('[data-testid="similar-item"]')
        if not items:
            raise CheckFailed(f"no similar tracks: {self.one('#similar-list').text!r}")
        scores = []
        for item in items:
            text = item.find_element(By.CSS_SELECTOR, '[data-testid="similar-score"]').text
            score = float(text)
            if not -1.0001 <= score <= 1.0001:
                raise CheckFailed(f"score {score} is not a cosine")
            href = item.find_element(By.CSS_SELECTOR, "a").get_attribute("href")
            if "#/track/" not in href:
                raise CheckFailed(f"similar item links to {href}")
            scores.append(score)
        if scores != sorted(scores, reverse=True):
            raise CheckFailed(f"scores are not best first: {scores}")
        if self.state["track_id"] in [i.get_attribute("data-track-id") for i in items]:
            raise CheckFailed("the track is listed as similar to itself")
        save = self.one('[data-testid="save-playlist"]', "the Save as playlist button")
        save.click()
        self.wait(lambda d: save.get_attribute("data-state") in ("saved", "error"), "the playlist download")
        if save.get_attribute("data-state") != "saved":
            raise CheckFailed("Save as playlist failed (GET …/similar?format=m3u8)")
        return f"{len(items)} tracks, scores {scores[0]:.3f} … {scores[-1]:.3f}; saved as a playlist"

    def cluster_map(self):
        self.one("#nav-map").click()
        self.one('#cluster-chart[data-rendered="true"], [data-testid="chart-missing"]', "the scatter chart")
        if self.css('[data-testid="chart-missing"]'):
            raise CheckFailed("Chart.js did not load: the server must serve /vendor/chart.js/chart.min.js "
                              "from /usr/share/javascript/chart.js/ (Debian's libjs-chart.js)")
        canvas = self.one('#cluster-chart[data-rendered="true"]', "the scatter chart")
        points = int(canvas.get_attribute("data-points") or 0)
        size = self.js("const c = arguments[0]; return [c.width, c.height]", canvas)
        if points < 1 or min(size) < 50:
            raise CheckFailed(f"the chart has {points} points on a {size} canvas")
        items = self.wait(lambda d: self.css('[data-testid="cluster-legend-item"]'), "the cluster legend")
        first = items[0].text.replace("\n", " ")
        saves = self.css('[data-testid="cluster-playlist"]')
        if len(saves) != len(items):
            raise CheckFailed(f"{len(saves)} Save as playlist buttons for {len(items)} clusters")
        saves[0].click()
        self.wait(lambda d: saves[0].get_attribute("data-state") in ("saved", "error"), "the cluster's playlist download")
        if saves[0].get_attribute("data-state") != "saved":
            raise CheckFailed("Save as playlist failed (GET /clusters/{id}?format=m3u8&cluster=…)")
        Select(self.one("#cluster-k")).select_by_value("3")
        self.wait(lambda d: len(self.css('[data-testid="cluster-legend-item"]')) == 3, "3 clusters after choosing k=3")
        self.wait(lambda d: self.css('#cluster-chart[data-rendered="true"]'), "the chart redrawn")
        time.sleep(CHART_SETTLE)  # Chart.js animates for about a second; shoot the final frame
        return f"{points} points, {len(items)} clusters (auto), e.g. {first[:80]!r}; k=3 redraws 3"

    def predict_upload(self):
        self.one("#nav-predict").click()
        upload = self.one("#predict-file")
        upload.send_keys(os.path.abspath(self.opts.audio))
        self.one('#predict-chart[data-rendered="true"], #predict-result [data-testid="chart-missing"]',
                 "the probability bar chart", timeout=self.opts.timeout * 4)
        if self.css('#predict-result [data-testid="chart-missing"]'):
            raise CheckFailed("Chart.js did not load (the list of probabilities is there, the chart is not)")
        rows = self.css('[data-testid="predict-bar-row"]')
        if not rows:
            raise CheckFailed("no bars in the result")
        bars = self.one("#predict-chart").get_attribute("data-bars")
        genres = self.labels('[data-testid="predicted-genre"]')
        time.sleep(CHART_SETTLE)
        return f"{bars} bars; predicted {genres or 'none above the threshold'}"

    def live_stream(self):
        self.go("#/live")
        self.one("#live-file").send_keys(os.path.abspath(self.opts.audio))
        self.wait(lambda d: self.one("#live-status").text.strip() == "Done.", "the stream to finish with close 1000",
                  timeout=self.opts.timeout * 6)
        chunks = self.css('[data-testid="live-chunk"]')
        if not chunks:
            raise CheckFailed("no chunk predictions were shown")
        track = self.one('[data-testid="live-track"]').text.replace("\n", " ")
        if "(final)" not in track:
            raise CheckFailed(f"no final track estimate: {track!r}")
        return f"{len(chunks)} chunk rows; track {track[:80]!r}"

    def duplicates_page(self):
        self.one("#nav-duplicates").click()
        self.one('#duplicates-groups[data-state="ready"]', "the duplicates answer")
        summary = self.one("#duplicates-summary").text
        # The demo library's tracks are all different pieces: no group at the default threshold.
        if not summary.startswith("No duplicates among") or self.css('[data-testid="duplicate-group"]'):
            raise CheckFailed(f"a false duplicate in the demo library: {summary!r}")
        threshold = self.one("#duplicates-threshold")
        threshold.clear()
        threshold.send_keys("0.9")
        self.one("#duplicates-find").click()
        self.wait(lambda d: "threshold=0.9" in self.driver.current_url, "the threshold in the URL")
        self.one('#duplicates-groups[data-state="ready"]', "the duplicates answer at 0.9")
        return f"{summary!r}; at 0.9: {self.one('#duplicates-summary').text!r}"

    def other_pages(self):
        seen = []
        for route, ready, shot in (("#/jobs", '#jobs-table[data-state="ready"], #jobs-empty:not([hidden])', "jobs"),
                                   ("#/models", '[data-testid="model-row"], #models-table[hidden]', "models"),
                                   ("#/libraries", '#libraries-table[data-state="ready"]', "libraries")):
            self.go(route)
            self.one(ready, f"the {shot} page")
            time.sleep(CHART_SETTLE if shot == "models" else 0.3)
            self.screenshot(shot)
            seen.append(shot)
        return ", ".join(seen)

    def error_banner(self):
        self.go("#/track/999999999")
        banner = self.visible("#error-banner", "the error banner for a track that does not exist")
        text = banner.find_element(By.CSS_SELECTOR, ".banner-message").text
        if not text.strip():
            raise CheckFailed("the banner is empty")
        self.screenshot("error-banner")
        self.one("#error-dismiss").click()
        self.wait(lambda d: not self.one("#error-banner").is_displayed(), "the banner to close")
        return f"GET /tracks/999999999 → banner {text!r}, dismissed with its ×"

    def phone_layout(self):
        self.driver.set_window_size(375, 812)
        try:
            self.go("#/tracks")
            self.wait(lambda d: self.css('[data-testid="track-row"]'), "track rows at 375 px")
            time.sleep(0.2)
            widths = self.js("return [document.documentElement.scrollWidth, window.innerWidth]")
            self.screenshot("tracks-375px")
            if widths[0] > widths[1] + 1:
                raise CheckFailed(f"the page is {widths[0]} px wide in a {widths[1]} px window (sideways scrolling)")
            self.go(f"#/track/{self.state['track_id']}")
            self.one("#track-page")
            self.wait(lambda d: self.css('[data-testid="similar-item"]'), "similar tracks at 375 px")
            widths2 = self.js("return [document.documentElement.scrollWidth, window.innerWidth]")
            self.screenshot("track-375px")
            if widths2[0] > widths2[1] + 1:
                raise CheckFailed(f"the track page is {widths2[0]} px wide in a {widths2[1]} px window")
            self.visible("#nav-toggle", "the menu button at 375 px").click()
            self.visible("#nav-libraries", "the folded navigation").click()
            self.one('#libraries-table[data-state="ready"]', "the libraries page from the phone menu")
            if self.css("#nav-libraries")[0].is_displayed():
                raise CheckFailed("the phone menu stays open after navigating")
            return f"no sideways scrolling ({widths[1]} px window), the menu folds and opens"
        finally:
            self.driver.set_window_size(1280, 900)

    def logout_and_key_login(self):
        self.go("#/tracks")
        self.visible("#logout").click()
        self.visible("#login-form", "the login form after logout")
        if self.js("return sessionStorage.getItem(arguments[0])", KEY_STORAGE):
            raise CheckFailed("the key is still in sessionStorage after logout")
        self.screenshot("login")
        box = self.one("#login-key")
        box.send_keys(self.state["key"], Keys.ENTER)
        self.visible("#topbar", "the app after pasting the key")
        self.wait(lambda d: self.css('[data-testid="track-row"]'), "the library after key login")
        return "logout clears the key; a pasted key signs in again"

    def bad_key_returns_to_login(self):
        self.js("sessionStorage.setItem(arguments[0], 'tmb_not-a-real-key')", KEY_STORAGE)
        self.driver.refresh()
        self.visible("#login-form", "the login form for a rejected key")
        if self.js("return sessionStorage.getItem(arguments[0])", KEY_STORAGE):
            raise CheckFailed("a rejected key stays in sessionStorage")
        message = self.one("#login-message").text
        # Sign in again so the browser is left usable for whoever looks next.
        self.one("#login-key").send_keys(self.state["key"], Keys.ENTER)
        self.visible("#topbar")
        return f"401 → login form ({message!r})"

    def token_is_one_time(self):
        self.js("sessionStorage.clear()")
        self.driver.get(self.opts.url)
        self.visible("#login-form", "the login form for a used token")
        url = self.driver.current_url
        if "token=" in url:
            raise CheckFailed(f"the used token is still in the URL: {url}")
        return f"second use answers with the login form ({self.one('#login-message').text!r})"

    def console_clean(self):
        errors = self.console_errors()
        if errors:
            raise CheckFailed("JavaScript errors: " + " | ".join(errors[:5]))
        return f"{len(self.logs)} log lines, no script errors"

    def run(self):
        steps = [
            ("login with the token URL", self.login_with_token_url, "tracks", True),
            ("browse the library", self.browse_library, None, True),
            ("search the library", self.search_library, None, False),
            ("filter by a tag", self.filter_by_tag, "tracks-filtered", False),
            ("open a track", self.open_track, "track", True),
            ("explain a tag by clicking its chip", self.explain_tag, "track-explained", False),
            (f"add the tag {ADDED_TAG}", self.add_tag, None, False),
            ("the added tag persists after reload", self.tag_persists, None, False),
            ("remove a predicted tag", self.remove_predicted_tag, "track-corrected", False),
            ("similar tracks with scores", self.similar_tracks, None, False),
            ("cluster map", self.cluster_map, "map", False),
            ("predict an uploaded file", self.predict_upload, "predict", False),
            ("stream a file on the Live page", self.live_stream, "live", False),
            ("the duplicates page", self.duplicates_page, "duplicates", False),
            ("jobs, models and libraries pages", self.other_pages, None, False),
            ("an API error shows a dismissible banner", self.error_banner, None, False),
            ("375 px wide layout", self.phone_layout, None, False),
            ("logout, then sign in with a pasted key", self.logout_and_key_login, None, False),
            ("a rejected key returns to the login form", self.bad_key_returns_to_login, None, False),
            ("the login token works once", self.token_is_one_time, None, False),
            ("no JavaScript errors", self.console_clean, None, False),
        ]
        done = 0
        try:
            for name, fn, shot, fatal in steps:
                done += 1
                self.check(name, fn, screenshot=shot, fatal=fatal)
        except CheckFailed as stop:
            print(f"stopped: {stop}; {len(steps) - done} checks not run", flush=True)
        finally:
            self.driver.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the login URL `timbre serve` printed (with #token=…)")
    parser.add_argument("--audio", required=True, help="an audio file to upload on the predict page")
    parser.add_argument("--out", required=True, help="a folder for the screenshots")
    parser.add_argument("--timeout", type=float, default=15, help="seconds to wait for each thing (default 15)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of unexpected errors")
    opts = parser.parse_args()
    if not os.path.isfile(opts.audio):
        print(f"error: --audio {opts.audio}: no such file", file=sys.stderr)
        print("0 passed, 1 failed")
        return 2
    for binary in (opts.chromium, opts.chromedriver):
        if not os.access(binary, os.X_OK):
            print(f"error: {binary} is missing (apt-get install chromium chromium-driver)", file=sys.stderr)
            print("0 passed, 1 failed")
            return 2
    try:
        test = UITest(opts)
    except WebDriverException as err:
        print(f"error: cannot start headless Chromium: {err.msg}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    test.run()
    print(f"screenshots in {os.path.abspath(opts.out)}")
    print(f"{test.passed} passed, {test.failed} failed")
    return 1 if test.failed else 0


if __name__ == "__main__":
    sys.exit(main())
