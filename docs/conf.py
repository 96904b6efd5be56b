"""Sphinx configuration of the skanomaly documentation.

Build (warnings are errors, the gallery executed)::

    sphinx-build -W -b html docs docs/_build/html

Fast mode for CI: ``SKANOMALY_DOCS_FAST=1`` runs every gallery example with a few training epochs
(``SKANOMALY_SMOKE=1`` inside the examples), so the figures are drawn but show barely trained models.
``SKANOMALY_FULL=1`` instead runs the examples at the size of the committed benchmarks.
"""

import importlib
import os
import sys
from pathlib import Path

import skanomaly

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

if os.environ.get("SKANOMALY_DOCS_FAST") == "1":
    os.environ["SKANOMALY_SMOKE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

from gallery_smoke import SMOKE, smoke_scraper  # noqa: E402  (reads SKANOMALY_SMOKE, set just above)

project = "skanomaly"
author = "skanomaly developers"
copyright = "skanomaly developers"
release = skanomaly.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "local_mathjax",  # sphinx.ext.mathjax with MathJax copied into the build: maths renders offline
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "benchmark_pages",
    "section_sidebar",
    "gallery_smoke",  # a fast build's gallery pages and figures say that they show a smoke run
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "generated/benchmarks",  # pulled into the benchmark pages with {include}
    "benchmarks/*/summary.md",  # the runner's plain export; each folder's index.md is its page
    "benchmarks/*/timings.md",  # a timing script's table, pulled into its folder's page with {include}
    "**/GALLERY_HEADER.rst",
]
suppress_warnings = ["config.cache"]  # sphinx-gallery's config holds callables

# API reference: numpydoc renders the docstrings; autosummary writes one page per class from
# _templates/autosummary/class.rst (the class name as title, each
# method skanomaly defines documented in full).
templates_path = ["_templates"]
autosummary_generate = True
toc_object_entries_show_parents = "hide"  # the page's contents list "fit()", not "AMADetector.fit()"


def split_methods(fullname, methods):
    """The public methods of a class: (those skanomaly defines, those inherited unchanged from scikit-learn)."""
    module, _, name = fullname.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    own, from_sklearn = [], []
    for method in methods:
        if method.startswith("_"):
            continue
        owner = next(klass for klass in cls.__mro__ if method in vars(klass))
        (from_sklearn if owner.__module__.startswith("sklearn.") else own).append(method)
    return own, from_sklearn


autosummary_context = {"split_methods": split_methods}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {"inherited-members": False}

# No intersphinx: the build machines have no network, and a build must not depend on fetched inventories.

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "dollarmath"]

sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": (smoke_scraper,) if SMOKE else ("matplotlib",),
    "ignore_repr_types": r"matplotlib\.",  # no "Text(0.5, 1.0, '...')" under a block that ends in set_title
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "min_reported_time": 1,
    "doc_module": ("skanomaly",),
    "backreferences_dir": None,
    "abort_on_example_error": True,
    "run_stale_examples": True,  # re-run every example: a fast build's outputs never stand in for a full one
    "write_computation_times": False,  # the timings stay on each example's page
}

html_theme = "pydata_sphinx_theme"
html_title = f"skanomaly {release}"
html_static_path = ["_static"]
html_css_files = ["skanomaly.css"]  # layout: sidebars, column width, code size (see the file)
html_js_files = ["skanomaly.js"]  # line breaks after the underscores of long names in tables
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    # The seven pages a user looks for first are in the header, in the order of the index's toctree; the search
    # is an icon so that header, search and theme switch fit one row at 1400 px.
    "header_links_before_dropdown": 7,
    "navbar_persistent": ["search-button"],
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "navigation_with_keys": False,
}
html_sidebars = {"index": [], "install": [], "quickstart": [], "contributing": []}
