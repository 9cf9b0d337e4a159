"""The harness under ui_test.py: headless Chromium through chromedriver, waits that fail with
a sentence (and the error banner's text, if one shows), whole-page screenshots, the browser's
console, and the `ok`/`FAIL` line per check."""
import os
import time
import traceback

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


MAX_SHOT_HEIGHT = 6000  # px; a long library page is cut there


class CheckFailed(Exception):
    """A check's own failure, with a sentence saying what was expected and what was seen."""


class Browser:
    """Headless Chromium plus the waits, screenshots and pass/fail bookkeeping the checks use."""

    def __init__(self, opts):
        self.opts = opts
        self.passed = 0
        self.failed = 0
        self.state = {}  # what earlier checks found (track id, tags) for later ones
        self.logs = []  # the browser's console so far (get_log drains it)
        self.console_shown = False
        options = webdriver.ChromeOptions()
        options.binary_location = opts.chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1280,900", "--hide-scrollbars", "--lang=en-US"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=opts.chromedriver), options=options)
        self.driver.set_page_load_timeout(opts.timeout * 2)

    def wait(self, condition, what, timeout=None):
        try:
            # The app re-renders parts of a page from each answer, so an element found a moment
            # ago may be gone: that is "not yet", not a failure.
            return WebDriverWait(self.driver, timeout or self.opts.timeout, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d))
        except TimeoutException:
            banner = self.banner_text()
            raise CheckFailed(f"timed out after {timeout or self.opts.timeout}s waiting for {what}"
                              + (f" (error banner: {banner!r})" if banner else "")) from None

    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector, what=None, timeout=None):
        return self.wait(lambda d: (self.css(selector) or [None])[0], what or selector, timeout)

    def visible(self, selector, what=None, timeout=None):
        def found(_):
            els = [e for e in self.css(selector) if e.is_displayed()]
            return els[0] if els else None
        return self.wait(found, what or f"{selector} to be visible", timeout)

    def banner_text(self):
        try:
            banners = self.css("#error-banner")
            if banners and banners[0].is_displayed():
                return banners[0].text.replace("×", "").strip()
        except WebDriverException:
            pass
        return ""

    def console_errors(self):
        """Script errors logged by the page since the start (requests that failed are not counted:
        the test makes some fail on purpose)."""
        try:
            for entry in self.driver.get_log("browser"):  # get_log drains, so keep what it gave
                self.logs.append(entry)
        except WebDriverException:
            pass
        return [e["message"] for e in self.logs
                if e.get("level") == "SEVERE" and "Failed to load resource" not in e["message"]]

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def go(self, route):
        """Navigates inside the app (changing the hash keeps sessionStorage and the page)."""
        self.js("location.hash = arguments[0]", route)

    def screenshot(self, name):
        """A PNG of the whole page: the window grows to the page's height for the shot (charts
        redraw on resize, so it waits a moment) and shrinks back afterwards."""
        os.makedirs(self.opts.out, exist_ok=True)
        path = os.path.join(self.opts.out, f"{name}.png")
        size = self.driver.get_window_size()
        page, inner = self.js("return [document.documentElement.scrollHeight, window.innerHeight]")
        grow = min(page, MAX_SHOT_HEIGHT) - inner
        if grow > 0:
            self.driver.set_window_size(size["width"], size["height"] + grow)
            time.sleep(0.5)
        try:
            self.driver.save_screenshot(path)
        finally:
            if grow > 0:
                self.driver.set_window_size(size["width"], size["height"])
                time.sleep(0.2)
        return path

    def check(self, name, fn, screenshot=None, fatal=False):
        try:
            detail = fn()
            self.passed += 1
            print(f"ok    {name}" + (f" — {detail}" if detail else ""), flush=True)
            if screenshot:
                self.screenshot(screenshot)
            return True
        except Exception as err:  # a check's failure is reported and the run goes on
            self.failed += 1
            message = str(err) if isinstance(err, CheckFailed) else f"{type(err).__name__}: {err}"
            errors = self.console_errors()
            if errors and not self.console_shown:
                message += "\n      console: " + "\n      console: ".join(errors[:5])
                self.console_shown = True
            print(f"FAIL  {name}: {message}", flush=True)
            if not isinstance(err, (CheckFailed, AssertionError)) and self.opts.verbose:
                traceback.print_exc()
            try:
                print(f"      screenshot: {self.screenshot('FAIL-' + name.replace(' ', '-').replace('/', '-')[:60])}", flush=True)
            except Exception:
                pass
            if fatal:
                raise CheckFailed(f"cannot go on after: {name}")
            return False
