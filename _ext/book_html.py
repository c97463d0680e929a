"""A small Sphinx extension for the book's HTML (loaded through ``_config.yml``).

Jupyter Book 1.x registers sphinx-thebe's configuration script twice, so every page
declared ``const THEBE_JS_URL`` twice and the browser logged "Identifier 'THEBE_JS_URL'
has already been declared" (sphinx-togglebutton's selector is doubled the same way).
This drops script entries that repeat the same file or inline body on a page.

Each chapter's first cell carries an "Open in Colab" badge whose image lives on Google's
server (it must, for the notebook on GitHub and in Colab). In the HTML book the image is
served from the book itself (``_assets/colab-badge.svg``), so the page works offline.
"""

from __future__ import annotations


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # the same file or inline body; one copy has filename None, the other ""
        filename = getattr(script, "filename", script) or ""
        attributes = getattr(script, "attributes", {})
        key = (str(filename), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "_static/colab-badge.svg"  # _assets/ is an html_static_path


def _serve_badge_locally(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and COLAB_BADGE in body:
        local = context["pathto"](LOCAL_BADGE, 1)
        context["body"] = body.replace(f'src="{COLAB_BADGE}"', f'src="{local}"')


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", _serve_badge_locally, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
