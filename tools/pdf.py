"""Build the book as a PDF: its HTML pages printed by headless Chromium.

    python -m tools.pdf                        # the whole book, to _build/book.pdf
    python -m tools.pdf -o ch01.pdf --chapter chapters/01_images_as_tensors.ipynb
    python -m tools.pdf --html _build/html     # print an HTML build you already have

Needs Debian's Chromium and poppler-utils (``apt-get install -y chromium
poppler-utils``; no browser download) and the book's requirements.txt. The route:

1. ``jupyter-book build`` (HTML, the stored outputs, no execution) into a temporary
   folder, or a copy of ``--html``; Jupyter Book 1.x's own single-page and PDF builders
   are not used (its ``singlehtml`` build stops on myst-nb's hidden-cell node, and
   ``pdfhtml`` downloads a Chromium through pyppeteer).
2. Every page in ``_toc.yml`` order (or the one ``--chapter``) gets the print rules
   below and is served on 127.0.0.1, so MathJax (served from ``_vendor/``) loads its
   fonts as in a browser; headless Chromium prints it (A4, the theme's own print
   layout) after MathJax has typeset the page and sphinx-togglebutton has opened its
   dropdowns.
3. ``pdfunite`` joins the pages; each chapter starts on a new page. (A one-page PDF
   keeps the bookmarks Chromium writes from its headings; poppler 22's pdfunite
   drops them from the joined book.)

In print, exercise solutions are shown open (a reader of paper cannot click), cells
whose code the site collapses (``hide-input``: the setup cell, checks) are left out with
their "Show code cell" line while their outputs stay, long code and logs wrap instead
of being cut off, and logs print whole (on the site they scroll). After printing, the
text of each page (``pdftotext``) is searched for a marker that only a page whose
MathJax had not finished shows; finding it is an error that says to raise ``--wait``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL = "apt-get install -y chromium poppler-utils"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
NOT_TYPESET = "PDF-MATH-NOT-TYPESET"

# The print rules added to each page (after the theme's own @media print rules).
PRINT_CSS = f"""\
@page {{ size: A4; margin: 14mm 12mm; }}
@media print {{
  /* what the site collapses (hide-input cells, hidden outputs): left out, summary
     line too */
  details.hide:not([open]) {{ display: none !important; }}
  /* dropdowns (exercise solutions): open, without their toggle button */
  .admonition.toggle-hidden .admonition-title ~ * {{
    height: auto !important; opacity: 1 !important; visibility: visible !important;
    margin: revert !important;
  }}
  button.toggle-button {{ display: none !important; }}
  /* code and logs wrap rather than run off the page; logs print whole */
  pre {{ white-space: pre-wrap !important; overflow-wrap: anywhere; }}
  pre, .cell_output, .output {{
    max-height: none !important; overflow: visible !important;
  }}
  /* the whole width of the paper for the text: 88 columns of code fit unwrapped */
  .bd-main .bd-content {{ margin-left: 0 !important; }}
  .bd-main .bd-content .bd-article-container .bd-article {{
    padding-left: 0 !important; padding-right: 0 !important;
  }}
  /* display math: no scroll bar printed under a formula */
  div.math, mjx-container {{ overflow: visible !important; }}
  /* wide tables: no scroll bar, and inline code in them may break, so they fit */
  .pst-scrollable-table-container {{ overflow: visible !important; }}
  table {{ max-width: 100% !important; }}
  table span.pre {{ white-space: normal !important; overflow-wrap: anywhere; }}
  /* a code box starts on the page its code is printed on (no empty box at the foot) */
  div.cell_input, div.highlight {{ break-inside: avoid; }}
  .cell_output img, figure img {{ max-width: 100% !important; break-inside: avoid; }}
  /* a page printed before MathJax finished says so, and tools.pdf refuses it */
  html:not(.pdf-math-done) .bd-article::before {{ content: "{NOT_TYPESET}"; }}
}}
"""

# Run on load: sphinx-togglebutton opens its dropdowns on "beforeprint" (as in a
# browser's print dialog); the marker class is set once MathJax's first typeset is done.
PRINT_JS = """\
window.addEventListener("load", () => {
  window.dispatchEvent(new Event("beforeprint"));
  const done = () => document.documentElement.classList.add("pdf-math-done");
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(done);
  else if (!document.querySelector("script[src*='mathjax']")) done();
});
"""


class PdfError(RuntimeError):
    """A PDF that cannot be built: a missing tool, a bad option, a failed step."""


def pages(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """The book's pages in reading order, as paths without suffix (``_toc.yml``).

    ``pages()[0] == "intro"``; then every ``file`` of every part, chapter and section.
    Raises PdfError when the table of contents has no ``root``.
    """
    import yaml

    data = yaml.safe_load(toc.read_text())
    if not isinstance(data, dict) or "root" not in data:
        raise PdfError(f"{toc} has no 'root' entry; is it a Jupyter Book _toc.yml?")
    found = [str(data["root"])]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.append(str(entry["file"]))
            walk(entry.get("chapters"))
            walk(entry.get("sections"))

    walk(data.get("parts"))
    walk(data.get("chapters"))
    walk(data.get("sections"))
    return [p.removesuffix(".md").removesuffix(".ipynb") for p in found]


def page_of(chapter: str, known: list[str]) -> str:
    """The page name of ``chapter`` (a path, with or without suffix, or a page name).

    Raises PdfError naming the known pages when ``chapter`` is not one of them.
    """
    path = Path(chapter)
    try:
        path = path.resolve().relative_to(ROOT)
    except ValueError:
        pass
    name = path.as_posix()
    if path.suffix in (".ipynb", ".md"):
        name = path.with_suffix("").as_posix()
    if name not in known:
        raise PdfError(
            f"--chapter {chapter!r} is not a page of the book; give one of "
            f"{', '.join(known)} (as in _toc.yml, .ipynb optional)"
        )
    return name


def find_tool(name: str, candidates=None) -> str:
    """The path of an executable (the first of ``candidates`` found on PATH).

    Raises PdfError naming the install command when none is found.
    """
    for candidate in candidates or (name,):
        found = shutil.which(candidate)
        if found:
            return found
    raise PdfError(f"{name} is not installed; install it with `{INSTALL}`")


def build_html(output: Path) -> Path:
    """Build the book's HTML (stored outputs) under ``output``; return the HTML folder.

    Uses the ``jupyter-book`` next to this Python (else on PATH); raises PdfError with
    the end of its log when the build fails.
    """
    beside = Path(sys.executable).parent / "jupyter-book"
    jb = str(beside) if beside.exists() else find_tool("jupyter-book")
    command = [
        jb,
        "build",
        str(ROOT),
        "--path-output",
        str(output),
        "--builder",
        "html",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    html = output / "_build" / "html"
    if done.returncode or not (html / "index.html").is_file():
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise PdfError(f"jupyter-book build failed:\n{tail}")
    return html


def add_print_rules(page: Path) -> None:
    """Add ``PRINT_CSS`` and ``PRINT_JS`` to one built HTML page, in place."""
    text = page.read_text(encoding="utf-8")
    if "</head>" not in text:
        raise PdfError(f"{page} has no </head>: not a page of an HTML build")
    extra = (
        f'<style media="print">\n{PRINT_CSS}</style>\n<script>\n{PRINT_JS}</script>\n'
    )
    page.write_text(text.replace("</head>", extra + "</head>", 1), encoding="utf-8")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log on stderr
        pass


def print_page(browser: str, url: str, out: Path, wait_ms: int) -> None:
    """Print ``url`` to the PDF ``out`` with headless Chromium (root-safe flags).

    ``wait_ms`` is Chromium's virtual-time budget, in which the page's scripts
    (MathJax) finish before it prints. Raises PdfError when no PDF is written.
    """
    with tempfile.TemporaryDirectory(prefix="pdf-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",  # CI and containers run as root
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--generate-pdf-document-outline",
            "--run-all-compositor-stages-before-draw",
            f"--virtual-time-budget={wait_ms}",
            f"--print-to-pdf={out}",
            url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if not out.is_file() or out.stat().st_size == 0:
        tail = "\n".join(done.stderr.splitlines()[-10:])
        raise PdfError(f"Chromium wrote no PDF for {url}:\n{tail}")


def check_typeset(pdf: Path, page: str) -> None:
    """Raise PdfError when ``pdf`` shows the not-typeset marker (uses pdftotext)."""
    text = subprocess.run(
        [find_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True
    ).stdout
    if NOT_TYPESET in text:
        raise PdfError(
            f"{page}: MathJax had not finished typesetting when Chromium printed the "
            "page; give it more time with --wait (milliseconds)"
        )


def print_site(
    site: Path, names: list[str], work: Path, wait_ms: int = 30_000, log=print
) -> list[Path]:
    """Print the pages ``names`` of the HTML folder ``site`` to PDFs in ``work``.

    Each ``site/<name>.html`` gets the print rules (in place: pass a copy), is served
    on 127.0.0.1 and printed by Chromium, and its PDF is checked for the
    not-typeset marker; returns the PDFs in order. Raises PdfError as the steps do.
    """
    browser = find_tool("chromium", BROWSERS)
    for name in names:
        add_print_rules(site / f"{name}.html")
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    parts = []
    try:
        for i, name in enumerate(names):
            part = work / f"{i:03d}.pdf"
            url = f"http://127.0.0.1:{server.server_port}/{name}.html"
            print_page(browser, url, part, wait_ms)
            check_typeset(part, name)
            parts.append(part)
            log(f"[pdf] {name}: printed")
    finally:
        server.shutdown()
        server.server_close()
    return parts


def build_pdf(
    output: Path,
    chapter: str | None = None,
    html: Path | None = None,
    wait_ms: int = 30_000,
    log=print,
) -> list[str]:
    """Write the book (or one ``chapter``) as a PDF to ``output``; return its pages.

    ``html``: an existing HTML build to print (copied, never changed) instead of a
    fresh build. Raises PdfError for a bad option, an unknown chapter, a missing tool,
    a failed build or print, or a page printed before MathJax finished.
    """
    if wait_ms <= 0:
        raise PdfError(f"--wait {wait_ms} must be a positive number of milliseconds")
    if html is not None and not (html / "index.html").is_file():
        raise PdfError(f"--html {html} holds no index.html; build the book first")
    known = pages()
    chosen = [page_of(chapter, known)] if chapter else known
    for tool in ("chromium", "pdftotext", "pdfunite"):
        find_tool(tool, BROWSERS if tool == "chromium" else None)
    with tempfile.TemporaryDirectory(prefix="book-pdf-") as tmp:
        work = Path(tmp)
        if html is None:
            log("[pdf] building the HTML ...")
            site = build_html(work / "build")
        else:
            site = Path(shutil.copytree(html, work / "html"))
        parts = print_site(site, chosen, work, wait_ms, log)
        output.parent.mkdir(parents=True, exist_ok=True)
        if len(parts) == 1:
            shutil.copyfile(parts[0], output)
        else:
            command = [find_tool("pdfunite"), *map(str, parts), str(output)]
            subprocess.run(command, check=True, capture_output=True)
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pdf", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=ROOT / "_build" / "book.pdf",
        help="the PDF to write (default: _build/book.pdf)",
    )
    parser.add_argument(
        "--chapter", help="only this page, e.g. chapters/01_images_as_tensors.ipynb"
    )
    parser.add_argument(
        "--html", type=Path, help="print this HTML build (copied) instead of building"
    )
    parser.add_argument(
        "--wait",
        type=int,
        default=30_000,
        help="Chromium's virtual-time budget per page, ms (MathJax; default 30000)",
    )
    args = parser.parse_args(argv)
    try:
        done = build_pdf(args.output, args.chapter, args.html, args.wait)
    except PdfError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    span = done[0] if len(done) == 1 else f"{len(done)} pages, {done[0]} to {done[-1]}"
    print(f"[pdf] {args.output}: {span}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
