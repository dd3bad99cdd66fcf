"""Print the committed metrics as a vertical Markdown table (the README's results table).

    python scripts/metrics_table.py      # reads `dvc metrics show --json`
"""

from __future__ import annotations

import json
import subprocess


def flatten(data: dict, prefix: str = "") -> dict:
    rows = {}
    for key, value in data.items():
        if isinstance(value, dict):
            rows.update(flatten(value, f"{prefix}{key}."))
        else:
            rows[prefix + key] = value
    return rows


def main() -> None:
    shown = json.loads(subprocess.run(["dvc", "metrics", "show", "--json"], check=True, capture_output=True,
                                      text=True).stdout)
    files = next(iter(shown.values()))["data"]
    print("| file | metric | value |\n|---|---|---|")
    for path, content in files.items():
        for name, value in flatten(content["data"]).items():
            shown_value = f"{value:.5g}" if isinstance(value, float) else value
            print(f"| `{path}` | {name} | {shown_value} |")


if __name__ == "__main__":
    main()
