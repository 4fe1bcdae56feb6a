"""The XRD app in real Voila and headless Chromium, offline: one page load."""

import re

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "09_operando_xrd.ipynb"

# Records, from now on, when the busy indicator becomes visible and when a plot changes: a
# new figure changes the plot's DOM, an update in place changes a Bokeh document.
_WATCH_BUSY = """() => {
  const events = window.__battlabBusy = [];
  const t0 = performance.now();
  const busy = document.querySelector('.battlab-busy');
  new MutationObserver(() => {
    if (busy.offsetParent !== null) events.push({what: 'busy shown', t: performance.now() - t0});
  }).observe(busy, {attributes: true, attributeFilter: ['style']});
  const changed = () => events.push({what: 'plot changed', t: performance.now() - t0});
  const plots = new MutationObserver(changed);
  document.querySelectorAll('.battlab-plot').forEach((el) => plots.observe(el, {childList: true, subtree: true}));
  (window.Bokeh ? window.Bokeh.documents : []).forEach((doc) => doc.on_change(changed));
}"""


def test_pattern_slider_updates_the_pattern_offline(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "80 patterns")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 4
    # The map, the pattern with its fit, the tracking curves and the PCA scores/loadings drew data, not only axes.
    for k in range(4):
        assert colored_pixels(plots.nth(k).screenshot()) > 1500, f"plot {k} shows no data"
    assert "Scherrer size (nm)" in page.locator(".battlab-table").inner_text()

    pattern = plots.nth(1)
    before = pattern.screenshot()
    slider = page.locator(".widget-slider").filter(has=page.locator("label", has_text=re.compile(r"^Pattern$")))
    slider.locator(".noUi-handle").focus()
    page.evaluate(_WATCH_BUSY)
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    assert wait_for_change(pattern, before), "pattern plot did not change after moving the pattern slider"
    assert slider.locator(".widget-readout").inner_text().strip() == "30"
    # The busy indicator showed while the kernel worked, before the new figure arrived, and went away.
    page.locator(".battlab-busy").wait_for(state="hidden", timeout=60_000)
    events = page.evaluate("window.__battlabBusy")
    shown = [e["t"] for e in events if e["what"] == "busy shown"]
    plotted = [e["t"] for e in events if e["what"] == "plot changed"]
    assert shown and plotted and shown[0] < plotted[0], events

    # Capacity as the shared axis: the map splits into half cycles beside the voltage, the tracking follows.
    contour, tracking = plots.nth(0), plots.nth(2)
    before_map, before_track = contour.screenshot(), tracking.screenshot()
    axis = page.locator(".widget-dropdown").filter(has=page.locator("label", has_text=re.compile(r"^x axis$")))
    axis.locator("select").select_option(label="capacity (mAh)")
    assert wait_for_change(contour, before_map), "the map did not redraw against capacity"
    assert wait_for_change(tracking, before_track), "the tracking did not redraw against capacity"
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
