"""Write .dvc/offline_plots.html, the page template that .dvc/config names for `dvc plots show` and
`dvc plots diff`: Vega, Vega-Lite and Vega-Embed inlined from the pinned vl-convert-python, so the HTML
they write draws with no network. `make setup` runs this.

    python scripts/offline_plots.py
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    sys.path.insert(0, str(REPO))
    from betavae.offline_plots import CONFIG_PATH, write_template
    path = REPO / ".dvc" / CONFIG_PATH
    write_template(path)
    print(f"{path.relative_to(REPO)}: `dvc plots show` and `dvc plots diff` draw offline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
