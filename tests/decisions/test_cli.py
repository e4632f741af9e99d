"""`tandem rules`: authoring from the command line, on the test database."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

from openpyxl import Workbook
from typer.testing import CliRunner

from tandem.cli import app
from tandem.decisions import underwriting as uw


def _run(database_url: str, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout, and stderr with Rich's line wrapping undone."""
    result = CliRunner().invoke(app, list(args), env={"TANDEM_DATABASE_URL": database_url})
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_upload_test_publish_download_backtest(
    database_url: str, process_id: uuid.UUID, tmp_path: Path
) -> None:
    graph_file = tmp_path / "underwriting.json"
    graph_file.write_text(json.dumps(uw.graph()))
    tests_file = tmp_path / "tests.json"
    tests_file.write_text(
        json.dumps([{"name": n, "input": i, "expected": e} for n, i, e in uw.tests()])
    )
    code, out, err = _run(
        database_url,
        "rules",
        "upload",
        str(process_id),
        str(graph_file),
        "--tests",
        str(tests_file),
    )
    assert code == 0, err
    ruleset_id = out.strip()
    assert "draft version 1 stored with 7 test case(s)" in err
    code, _, err = _run(database_url, "rules", "test", ruleset_id)
    assert code == 0 and err.count("pass") == 7
    code, _, err = _run(database_url, "rules", "publish", ruleset_id)
    assert (code, err.strip()) == (0, "version 1 published")
    code, out, _ = _run(database_url, "rules", "download", ruleset_id)
    assert json.loads(out) == uw.graph()
    code, _, err = _run(
        database_url, "rules", "download", ruleset_id, "-o", str(tmp_path / "x.xlsx")
    )
    assert code == 1 and "only a graph of one decision table" in err
    code, out, _ = _run(database_url, "rules", "backtest", ruleset_id)
    assert code == 0 and json.loads(out)["items"] == 0


def test_upload_refusals_name_the_problem(
    database_url: str, process_id: uuid.UUID, tmp_path: Path
) -> None:
    graph = copy.deepcopy(uw.graph())
    graph["nodes"][1]["content"]["inputs"][0]["field"] = "birth_year"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(graph))
    code, _, err = _run(database_url, "rules", "upload", str(process_id), str(bad))
    assert code == 1
    assert "node 'Data checks', column 'Age': reads field 'birth_year'" in err
    broken = tmp_path / "broken.json"
    broken.write_text("{nodes")
    code, _, err = _run(database_url, "rules", "upload", str(process_id), str(broken))
    assert code == 1 and "not JSON" in err


def test_spreadsheet_upload_and_download_round_trip(
    database_url: str, process_id: uuid.UUID, tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["in:policy_type", "in:coverage_amount", "out:outcome", "out:reasons"])
    sheet.append(["term_life", "<= 250000", "approve", '["SMALL_TERM"]'])
    sheet.append([None, None, "refer", '["REVIEW"]'])
    sheet_file = tmp_path / "criteria.xlsx"
    book.save(sheet_file)
    code, out, err = _run(
        database_url, "rules", "upload", str(process_id), str(sheet_file), "--hit-policy", "first"
    )
    assert code == 0, err
    ruleset_id = out.strip()
    again = tmp_path / "again.xlsx"
    code, _, err = _run(database_url, "rules", "download", ruleset_id, "-o", str(again))
    assert code == 0, err
    code, out, err = _run(database_url, "rules", "upload", str(process_id), str(again))
    assert code == 0, err
    first = json.loads(_run(database_url, "rules", "download", ruleset_id)[1])
    second = json.loads(_run(database_url, "rules", "download", out.strip())[1])
    assert first == second
