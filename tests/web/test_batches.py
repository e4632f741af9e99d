"""A file handed over in the portal, in a real browser: its page shows how far its items are
and its refused rows (again, later), and downloads its results named after it, with the
client's own columns and references beside each row's number."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tandem.container import Container
from tests.conftest import RESULT, World
from tests.web.conftest import shoot, sign_in


def test_a_files_page_shows_its_progress_its_errors_and_downloads_its_results(
    page: Any, container: Container, world: World, tmp_path: Path, api: Any
) -> None:
    sign_in(page, container, "c@insurer.example")
    page.get_by_role("link", name="Keying").click()
    claims = tmp_path / "march claims.csv"
    claims.write_text(
        "Claim No,document_ref,pages\nCL-1,scan-1.pdf,2\nCL-2,scan-2.pdf,0\nCL-3,scan-3.pdf,4\n"
    )
    page.get_by_label("File").set_input_files(str(claims))
    page.get_by_label("Column of your reference").fill("Claim No")
    page.get_by_label("If a row is wrong").select_option("accept_valid")
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("2 of 3 rows handed over").wait_for()
    lease = api("agent").post("/api/v1/dispatch/claim").json()  # CL-1, the first row
    submitted = api("agent").post(
        f"/api/v1/leases/{lease['item_id']}/submit",
        json={"attempt": lease["attempt"], "result": RESULT},
    )
    assert submitted.status_code == 200
    page.get_by_role("link", name="Open the file's page").click()
    page.wait_for_url("**/console/portal/batches/*")
    assert page.get_by_text("1 of 2 delivered").is_visible()
    assert page.locator("#delivered-progress").get_attribute("value") == "1"
    refused = page.locator("section[aria-labelledby=errors-title] tbody tr")
    assert refused.count() == 1
    assert refused.locator("td").all_inner_texts()[:2] == ["3", "pages"]
    shoot(page, "portal-batch")
    page.get_by_label("Format").select_option("csv")
    page.get_by_label("document_ref").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "march claims-results.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [
        (r["source_row"], r["external_ref"], r["input.document_ref"], r["state"]) for r in rows
    ] == [("2", "CL-1", "scan-1.pdf", "delivered"), ("4", "CL-3", "scan-3.pdf", "queued")]
    assert rows[0]["applicant_name"] == RESULT["applicant_name"]
    page.get_by_role("link", name="Find this file's items").click()
    assert page.locator("tbody tr").count() == 2
    # The file's page is where its errors are found again, from the portal's list of files.
    page.goto("/console/portal")
    page.get_by_role("link", name="march claims.csv").click()
    assert page.locator("section[aria-labelledby=errors-title] tbody tr").count() == 1
