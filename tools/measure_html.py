"""Find code and output blocks that scroll sideways in the built book.

    python -m tools.measure_html                 # _build/html, 1280 px wide
    python -m tools.measure_html --width 1024 --dark

Opens every chapter page of the built HTML in headless Chromium (Debian's ``chromium``,
driven by ``playwright``: ``pip install playwright``; no browser download is needed) and
prints, per page, the width of the code column in characters and every ``pre`` block or
table whose content is wider than its box. Exit status 1 when anything overflows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """(dark) => {
  if (dark) document.documentElement.dataset.theme = 'dark';
  // expand collapsed cells (hide-input): a reader who opens one sees the same code
  for (const d of document.querySelectorAll('details')) d.open = true;
  const over = [];
  for (const el of document.querySelectorAll('article pre, article table')) {
    if (el.scrollWidth > el.clientWidth + 1) {
      const lines = el.innerText.split('\\n');
      const longest = lines.reduce((a, l) => (a.length > l.length ? a : l), '');
      over.push([el.tagName, el.scrollWidth, el.clientWidth, longest.slice(0, 90)]);
    }
  }
  const pre = document.querySelector('div.cell_input pre');
  let chars = null;
  if (pre) {
    const probe = document.createElement('span');
    probe.textContent = 'x'.repeat(100);
    pre.appendChild(probe);
    chars = Math.floor(pre.clientWidth / (probe.getBoundingClientRect().width / 100));
    probe.remove();
  }
  return { over, chars };
}"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.measure_html", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--html", type=Path, default=ROOT / "_build" / "html", help="built book folder"
    )
    parser.add_argument(
        "--width", type=int, default=1280, help="viewport width in CSS pixels"
    )
    parser.add_argument("--dark", action="store_true", help="measure in the dark theme")
    parser.add_argument(
        "--browser", default="/usr/bin/chromium", help="Chromium executable"
    )
    args = parser.parse_args(argv)
    pages = sorted((args.html / "chapters").glob("*.html"))
    if not pages:
        parser.error(
            f"no chapter pages under {args.html}/chapters: build the book first"
        )
    from playwright.sync_api import sync_playwright

    overflowing = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.browser, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        for html in pages:
            page.goto(html.as_uri())
            result = page.evaluate(PROBE, args.dark)
            overflowing += len(result["over"])
            print(
                f"{html.name}: code column {result['chars']} characters, "
                f"{len(result['over'])} overflowing"
            )
            for tag, scroll, client, text in result["over"]:
                print(f"    {tag} {scroll} px in {client} px: {text}")
        browser.close()
    return 1 if overflowing else 0


if __name__ == "__main__":
    sys.exit(main())
