"""Maintainer tools for the book, not teaching code: notebook conventions, new
chapters, the runner, the HTML check.

Readers never import these; chapters import only :mod:`utils`.
"""
