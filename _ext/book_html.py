"""A small Sphinx extension for the book's HTML (loaded through ``_config.yml``).

Jupyter Book 1.x registers sphinx-thebe's configuration script twice, so every page
declared ``const THEBE_JS_URL`` twice and the browser logged "Identifier 'THEBE_JS_URL'
has already been declared" (sphinx-togglebutton's selector is doubled the same way).
This drops script entries that repeat the same file or inline body on a page.
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


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
