"""The admin's stimulus list in a real browser: the bundle's faithfulness numbers per
stimulus, and "not recorded" for a bundle without them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from studyapp.services.bundles import bundle_import
from tests.browser.conftest import screenshot
from tests.browser.test_researcher_pages import _logged_in_page
from tests.synthetic_bundle import write_synthetic_bundle


def test_the_stimulus_list_shows_each_stimulus_s_faithfulness_or_not_recorded(
    new_page: Any, site: Any, tmp_path: Path
) -> None:
    folder = write_synthetic_bundle(tmp_path / "faith", n=6, n_practice=0, faithfulness=True)
    faithful = bundle_import(bundle_dir=folder, name="with-faithfulness")
    stated = json.loads((folder / "manifest.json").read_text())["stimuli"][1]
    page = _logged_in_page(new_page, site)
    page.set_viewport_size({"width": 1600, "height": 900})  # every column on screen
    page.goto(f"{site.url}/admin/studyapp/stimulus/?bundle__id__exact={faithful.pk}")
    headers = page.locator("#result_list thead th").all_inner_texts()
    for name in ("DELETION AOPC", "DECISION KEPT", "AVG DROP", "AVG GAIN"):
        assert any(name in h.upper() for h in headers), headers
    row = page.locator("#result_list tbody tr", has_text=stated["id"])
    faith = stated["faithfulness"]
    expect(row.locator("td.field-deletion_aopc")).to_have_text(f"{faith['deletion_aopc']:.3f}")
    expect(row.locator("td.field-avg_drop")).to_have_text(f"{faith['avg_drop']:.3f}")
    expect(row.locator("td.field-avg_gain")).to_have_text(f"{faith['avg_gain']:.3f}")
    expect(row.locator("td.field-decision_kept")).to_have_text(
        "yes" if faith["decision_kept"] else "no"
    )
    screenshot(page, "admin-stimuli-faithfulness")
    page.goto(f"{site.url}/admin/studyapp/stimulus/?bundle__id__exact={site.bundle.pk}")
    cells = page.locator("#result_list tbody td.field-deletion_aopc").all_inner_texts()
    assert cells and set(cells) == {"not recorded"}
    expect(page.locator("#result_list tbody td.field-decision_kept").first).to_have_text(
        "not recorded"
    )
    screenshot(page, "admin-stimuli-without-faithfulness")
    assert not page.watch.problems, page.watch.problems  # type: ignore[attr-defined]
