"""tools.pdf: the book as a PDF, printed from its HTML by headless Chromium.

The options, the table of contents and the print rules are checked everywhere. The
printing tests need Debian's Chromium and poppler-utils and skip, saying how to install
them, where they are missing; where they are present one chapter's PDF is built from a
fresh HTML build and its pages are read back as text and word boxes.
"""

import re
import shutil
import subprocess

import pytest

from tools import pdf

ROOT = pdf.ROOT
CHAPTER = "chapters/01_images_as_tensors.ipynb"
TOOLS_MISSING = [
    name
    for name, found in [
        ("chromium", any(shutil.which(b) for b in pdf.BROWSERS)),
        ("pdftotext", shutil.which("pdftotext")),
        ("pdfunite", shutil.which("pdfunite")),
    ]
    if not found
]
needs_tools = pytest.mark.skipif(
    bool(TOOLS_MISSING),
    reason=f"{', '.join(TOOLS_MISSING)} not installed: `{pdf.INSTALL}`",
)


def test_pages_follow_the_table_of_contents():
    names = pdf.pages()
    chapters = sorted(f"chapters/{p.stem}" for p in ROOT.glob("chapters/*.ipynb"))
    assert names[0] == "intro" and names[-2:] == ["glossary", "bibliography"]
    assert [n for n in names if n.startswith("chapters/")] == chapters
    for name in names:
        assert (ROOT / f"{name}.ipynb").is_file() or (ROOT / f"{name}.md").is_file()


def test_pages_of_a_toc_with_sections(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: index\nchapters:\n"
        "  - file: a.md\n    sections:\n      - file: a/b.ipynb\n  - file: c\n"
    )
    assert pdf.pages(toc) == ["index", "a", "a/b", "c"]
    toc.write_text("- not a table of contents\n")
    with pytest.raises(pdf.PdfError, match="has no 'root' entry"):
        pdf.pages(toc)


def test_page_of_accepts_paths_and_names_and_refuses_others():
    known = pdf.pages()
    name = "chapters/01_images_as_tensors"
    assert pdf.page_of(CHAPTER, known) == name
    assert pdf.page_of(str(ROOT / CHAPTER), known) == name
    assert pdf.page_of(name, known) == name
    with pytest.raises(pdf.PdfError, match=r"--chapter 'chapters/99_x.ipynb' is not"):
        pdf.page_of("chapters/99_x.ipynb", known)


def test_missing_tool_names_the_install_command(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pdf.PdfError) as err:
        pdf.find_tool("chromium", pdf.BROWSERS)
    assert "chromium is not installed" in str(err.value)
    assert "apt-get install -y chromium poppler-utils" in str(err.value)


def test_bad_options_are_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(pdf.PdfError, match="--wait 0 must be a positive"):
        pdf.build_pdf(tmp_path / "x.pdf", wait_ms=0)
    with pytest.raises(pdf.PdfError, match="holds no index.html"):
        pdf.build_pdf(tmp_path / "x.pdf", html=tmp_path)
    assert pdf.main(["--chapter", "nowhere.ipynb", "-o", str(tmp_path / "x.pdf")]) == 1
    assert "error: --chapter 'nowhere.ipynb' is not a page" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()


def test_print_rules_go_into_the_head(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<html><head><title>t</title></head><body>x</body></html>")
    pdf.add_print_rules(page)
    text = page.read_text()
    head = text[: text.index("</head>")]
    assert '<style media="print">' in head and "@page { size: A4;" in head
    assert 'new Event("beforeprint")' in head and "pdf-math-done" in head
    (tmp_path / "q.html").write_text("<p>no head</p>")
    with pytest.raises(pdf.PdfError, match="has no </head>"):
        pdf.add_print_rules(tmp_path / "q.html")


def pdf_text(path, *args):
    done = subprocess.run(
        ["pdftotext", *args, str(path), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout


@needs_tools
def test_a_page_printed_before_mathjax_finished_is_refused(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "page.html").write_text(
        "<html><head><script async src='mathjax/missing.js'></script></head>"
        "<body><article class='bd-article'><p>\\(x^2\\)</p></article></body></html>"
    )
    with pytest.raises(pdf.PdfError, match="MathJax had not finished .* --wait"):
        pdf.print_site(site, ["page"], tmp_path, wait_ms=2000, log=lambda _: None)


@pytest.fixture(scope="module")
def chapter_pdf(tmp_path_factory):
    pytest.importorskip(
        "jupyter_book", reason="jupyter-book (requirements.txt) builds the HTML"
    )
    out = tmp_path_factory.mktemp("pdf") / "ch01.pdf"
    assert pdf.build_pdf(out, chapter=CHAPTER, log=lambda _: None) == [
        "chapters/01_images_as_tensors"
    ]
    return out


@needs_tools
def test_chapter_pdf_has_its_text_math_figures_and_open_solutions(chapter_pdf):
    assert chapter_pdf.read_bytes()[:5] == b"%PDF-"
    info = subprocess.run(
        ["pdfinfo", str(chapter_pdf)], capture_output=True, text=True, check=True
    ).stdout
    assert "(A4)" in info and int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 5
    text = pdf_text(chapter_pdf)
    assert text.lstrip().startswith("Images as tensors")
    assert 'cat = data.sample_photo("cat")' in text  # code cells
    assert "Solution to" in text and "153,600,000" in text  # a solution, open
    assert "Show code cell source" not in text  # collapsed setup cell left out
    assert "BOOK_REPO =" not in text  # ... with its code
    assert pdf.NOT_TYPESET not in text
    assert "\\cdot" not in text and "\\(" not in text  # MathJax typeset the TeX
    images = subprocess.run(
        ["pdfimages", "-list", str(chapter_pdf)], capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert len(images) >= 3  # the chapter's figures


@needs_tools
def test_chapter_pdf_has_nothing_beyond_the_right_margin(chapter_pdf):
    boxes = pdf_text(chapter_pdf, "-bbox")
    width = float(re.search(r'<page width="([\d.]+)"', boxes).group(1))
    words = re.findall(r'xMin="([\d.]+)"[^>]*xMax="([\d.]+)"', boxes)
    # words that start on the paper (icon glyphs the theme parks far off it are unseen)
    right = [float(x1) for x0, x1 in words if float(x0) < width]
    assert len(right) > 1000
    margin = 12 / 25.4 * 72  # the @page margin, 12 mm in points
    assert max(right) <= width - margin + 1, "text runs past the right margin"
