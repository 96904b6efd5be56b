"""Sphinx extension: a gallery built in smoke mode says so, on every page and in every figure.

With ``SKANOMALY_DOCS_FAST=1`` (CI) the examples run with ``SKANOMALY_SMOKE=1``: each model trains for an epoch or
two, so the printed numbers and the figures show barely trained models while the text around them describes
the default run. In that mode

- every gallery page (and the gallery's front page) gets a warning box under its title, and
- ``smoke_scraper``, the gallery's image scraper in that mode, writes "smoke run" across each figure before
  sphinx-gallery's matplotlib scraper saves it.

A build at the examples' default size is unchanged.
"""

import os
import re

SMOKE = os.environ.get("SKANOMALY_SMOKE") == "1"
NOTICE = """
.. admonition:: Smoke run: these results are not the example's
   :class: warning

   This page was built with ``SKANOMALY_DOCS_FAST=1``: every model on it trained for an epoch or two, so the
   printed numbers and the figures (marked "smoke run") show barely trained models and do not match what the
   text describes. The published documentation runs each example at its default size.
"""
_TITLE = re.compile(r"^[^\s.].*\n=+\n", re.MULTILINE)  # the page title and its underline


def smoke_scraper(block, block_vars, gallery_conf, **kwargs):
    """sphinx-gallery's matplotlib scraper, after writing "smoke run" across every open figure."""
    import matplotlib.pyplot as plt
    from sphinx_gallery.scrapers import matplotlib_scraper

    for number in plt.get_fignums():
        figure = plt.figure(number)
        if not getattr(figure, "_skanomaly_smoke", False):
            figure.text(0.5, 0.5, "smoke run", color="tab:red", alpha=0.25, fontweight="bold", rotation=20,
                        fontsize=min(60, 7 * figure.get_figwidth()), ha="center", va="center", zorder=1000)
            figure._skanomaly_smoke = True
    return matplotlib_scraper(block, block_vars, gallery_conf, **kwargs)


def add_notice(text):
    """The page's reST with the smoke-run warning right under its title (unchanged when it has no title)."""
    title = _TITLE.search(text)
    if title is None:
        return text
    return text[:title.end()] + NOTICE + text[title.end():]


def _notice_on_gallery_pages(app, docname, source):
    gallery = app.config.sphinx_gallery_conf["gallery_dirs"]
    if SMOKE and docname.startswith(f"{gallery}/"):
        source[0] = add_notice(source[0])


def setup(app):
    app.connect("source-read", _notice_on_gallery_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
