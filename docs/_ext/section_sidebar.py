"""Sphinx extension: no empty "Section Navigation" sidebar.

The pydata theme's left sidebar lists the pages of the current top-level section. A top-level page without
sub-pages (the choosing page, the protocols page, ...) got the sidebar's title over an empty list, and lost a
quarter of the page width to it. For those pages the sidebar is dropped, as the theme already does for the
home page, and the article takes the width. Sections with sub-pages (user guide, gallery, API, benchmarks) keep it.
"""


def section_root(env, pagename):
    """The top-level page above ``pagename`` in the toctree (itself when top-level), or None for the root."""
    parents = {}
    for parent, children in env.toctree_includes.items():
        for child in children:
            parents.setdefault(child, parent)
    page, seen = pagename, set()
    while page in parents and parents[page] != env.config.root_doc and page not in seen:
        seen.add(page)
        page = parents[page]
    return page if parents.get(page) == env.config.root_doc else None


def _drop_empty_section_navigation(app, pagename, templatename, context, doctree):
    suppress = context.get("suppress_sidebar_toctree")
    if suppress is None:
        return
    root = section_root(app.env, pagename)
    if root is None or not app.env.toctree_includes.get(root):
        context["suppress_sidebar_toctree"] = lambda *args, **kwargs: True


def setup(app):
    # After the theme's own html-page-context handler (priority 500), which defines suppress_sidebar_toctree.
    app.connect("html-page-context", _drop_empty_section_navigation, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
