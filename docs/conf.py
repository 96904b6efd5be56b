"""Sphinx configuration of the skanomaly documentation (build: ``sphinx-build docs docs/_build``)."""

import skanomaly

project = "skanomaly"
author = "skanomaly developers"
release = skanomaly.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_static_path = ["_static"]
myst_heading_anchors = 3
