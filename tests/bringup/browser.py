"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by selenium (viewer tests).

Why selenium and not playwright: playwright drives only the browser build it downloads itself
(``playwright install``), a download outside the package registries; selenium drives the Debian browser
through Debian's chromedriver (explicit paths: selenium's driver manager never runs). WebGL in headless
mode runs on SwiftShader (software), so no GPU is needed.
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def find_browser() -> tuple[str, str] | None:
    """(browser, driver) paths, or None."""
    browser = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    driver = shutil.which(DRIVER)
    return (browser, driver) if browser and driver else None


def require_browser() -> tuple[str, str]:
    """The browser and driver, or skip with what to install."""
    found = find_browser()
    if found is None:
        pytest.skip(
            "headless browser test: Debian packages 'chromium' and 'chromium-driver' are not installed "
            "(scripts/setup.sh installs them when run as root; else: "
            "apt-get install chromium chromium-driver)"
        )
    return found


def open_browser(width: int = 960, height: int = 720):
    """A headless Chromium (selenium WebDriver) with software WebGL."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = require_browser()
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in containers / CI
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--ignore-gpu-blocklist",
        "--no-first-run",
        "--disable-extensions",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=Service(executable_path=driver))


def screenshot(drv) -> np.ndarray:
    """The page as an (H, W, 3) uint8 array."""
    import io

    import imageio.v3 as iio

    return np.asarray(iio.imread(io.BytesIO(drv.get_screenshot_as_png())))[..., :3]


def wait_for(pred, timeout: float, step: float = 0.25) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False
