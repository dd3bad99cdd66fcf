"""The HTML template of `dvc plots show` and `dvc plots diff` that draws without a network: Vega, Vega-Lite
and Vega-Embed inlined from the pinned vl-convert-python package, instead of dvc-render's CDN script tags.

    python -m tools.offline_plots    # writes .dvc/offline_plots.html, named in .dvc/config; `make setup` runs it
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import vl_convert

from betavae.io import atomic_path

REPO = Path(__file__).resolve().parent.parent

# DVC's template placeholders: {plot_divs} receives the plots; {scripts}, left out here, would receive
# dvc-render's CDN <script src> tags, and {refresh_tag} the auto-refresh of `dvc plots show --open`
PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")
VEGA_LITE = "v5.21"  # the schema major of DVC's plot templates (vega-lite v5)
CONFIG_PATH = "offline_plots.html"  # .dvc/config's plots.html_template, relative to .dvc/

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC plots</title>
    <script type="text/javascript">
{bundle}
    </script>
    <style>
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def vega_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed in one script that sets window.vega, vegaLite and vegaEmbed."""
    return vl_convert.javascript_bundle(vl_version=VEGA_LITE)


def page_template(bundle: str) -> str:
    """The page with the bundle inlined; DVC fills in {plot_divs} (and {refresh_tag})."""
    clashes = [placeholder for placeholder in PLACEHOLDERS if placeholder in bundle]
    if clashes:  # DVC would replace them inside the script
        raise ValueError(f"the Vega bundle contains DVC's placeholder {clashes[0]}")
    return PAGE.replace("{bundle}", bundle)


def write_template(path: Path) -> None:
    with atomic_path(path) as partial:
        partial.write_text(page_template(vega_bundle()), encoding="utf-8")


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    path = REPO / ".dvc" / CONFIG_PATH
    write_template(path)
    print(f"{path.relative_to(REPO)}: `dvc plots show` and `dvc plots diff` draw offline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
