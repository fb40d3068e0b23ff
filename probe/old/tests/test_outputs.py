"""docs/outputs.md and the record the benchmark writes list the same keys, with their units."""

import re

from cnnbench.errors import REPO_ROOT
from conftest import read_single_json
from test_benchmark import CPU_FAST, run_main

TABLE_ROW = re.compile(r"^\| `([a-z0-9_]+)` \|", re.MULTILINE)


def documented_keys() -> set:
    text = (REPO_ROOT / "docs" / "outputs.md").read_text()
    record_table = text.split("## Benchmark record")[1].split("## `data_info`")[0]
    return set(TABLE_ROW.findall(record_table))


def test_every_record_key_is_documented_and_nothing_else(tmp_path):
    assert run_main("--synthetic", "--weights", "none", "--batch-size", 2, "--num-batches", 2,
                    "--output-dir", tmp_path, *CPU_FAST) == 0
    record = read_single_json(tmp_path)
    assert set(record) == documented_keys()
    assert record["schema_version"] == 2 and record["command"] and "git_dirty" in record
