"""Sphinx extension: the pages' maths is typeset by a copy of MathJax shipped with the build.

Sphinx's ``mathjax`` extension loads MathJax from a CDN, so a reader without internet access sees raw TeX. This
extension points ``mathjax_path`` at ``_static/mathjax/tex-mml-chtml.js`` and copies that file with the web
fonts it loads (about 1.6 MB) from the MathJax 3.2.2 release files that the ``django-static-mathjax`` wheel
carries (PyPI, Apache-2.0, no dependencies; the docs extra installs it). Nothing else of the package is used.

Run as a script, it opens built pages in headless Chromium with every network request refused and checks that
MathJax typeset each formula: every ``math`` element holds a ``mjx-container`` and no TeX delimiter is left::

    python docs/_ext/local_mathjax.py docs/_build/html/generated/skanomaly.detectors.AMADetector.html
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util.fileutil import copy_asset

TARGET = "mathjax"  # folder under _static
SCRIPT = "tex-mml-chtml.js"  # TeX and MathML input, CommonHTML output: what Sphinx's default CDN URL loads
FONTS = Path("output", "chtml", "fonts", "woff-v2")  # where the script looks for its fonts, relative to itself
PACKAGE_HINT = 'pip install django-static-mathjax (it is in the docs extra: pip install -e ".[docs]")'
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def mathjax_release():
    """The folder of MathJax's combined components (``es5/``) inside the installed package, or None."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        es5 = Path(location, "static", "mathjax", "es5")
        if (es5 / SCRIPT).is_file() and (es5 / FONTS).is_dir():
            return es5
    return None


def _configure(app, config):
    if mathjax_release() is None:
        raise ExtensionError(f"local_mathjax: MathJax's release files were not found; {PACKAGE_HINT}.")
    config.mathjax_path = f"{TARGET}/{SCRIPT}"


def _copy(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_release()
    target = Path(app.outdir, "_static", TARGET)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / SCRIPT, target / SCRIPT)
    copy_asset(source / FONTS, target / FONTS)


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", _configure)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}


# --- the check in a real browser -------------------------------------------------------------------------------

def find_chromium():
    """Path of a Chromium (or Chrome) executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _MathElements(HTMLParser):
    """Counts the Sphinx math elements of a rendered DOM and the ones still showing TeX."""

    def __init__(self):
        super().__init__()
        self.stack = []  # one entry per open element: is it a math element?
        self.math_depth = 0
        self.current = None
        self.elements = []  # per math element: [has a mjx-container, its own text]

    def handle_starttag(self, tag, attrs):
        if tag in VOID:  # no end tag follows: nothing to keep on the stack
            return
        classes = (dict(attrs).get("class") or "").split()
        is_math = tag in ("span", "div") and "math" in classes and self.math_depth == 0
        if is_math:
            self.current = [False, ""]
            self.elements.append(self.current)
        if tag == "mjx-container" and self.current is not None:
            self.current[0] = True
        self.stack.append(is_math)
        self.math_depth += is_math

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack and self.stack.pop():
            self.math_depth -= 1
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current[1] += data


def check_page(page, chromium=None, timeout=90):
    """Open ``page`` offline in headless Chromium; return (formulas, problems) once MathJax has run.

    ``problems`` lists each math element that has no MathJax output or still shows a TeX delimiter, and is
    empty for a page whose maths all rendered.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium executable on PATH")
    profile = tempfile.mkdtemp(prefix="skanomaly-chromium-")
    try:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no host name resolves
                   f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom",
                   Path(page).resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if result.returncode != 0 or "<html" not in result.stdout:
        raise RuntimeError(f"Chromium failed on {page} (exit {result.returncode}): {result.stderr[-2000:]}")
    parser = _MathElements()
    parser.feed(result.stdout)
    problems = []
    for rendered, text in parser.elements:
        left = [mark for mark in RAW_TEX if mark in text]
        if not rendered or left:
            problems.append(f"{'raw TeX' if left else 'no MathJax output'}: {text.strip()[:80]!r}")
    return len(parser.elements), problems


def main(argv=None):
    pages = sys.argv[1:] if argv is None else argv
    if not pages:
        print(__doc__.split("\n\n")[-1].strip(), file=sys.stderr)
        return 2
    chromium = os.environ.get("CHROMIUM") or find_chromium()
    if chromium is None:
        print("local_mathjax: no Chromium on PATH, the offline maths check did not run", file=sys.stderr)
        return 0
    status = 0
    for page in pages:
        formulas, problems = check_page(page, chromium)
        if formulas == 0:
            problems = ["the page has no formula"]
        for problem in problems:
            print(f"{page}: {problem}", file=sys.stderr)
        if problems:
            status = 1
        else:
            print(f"{page}: {formulas} formulas typeset offline by the local MathJax")
    return status


if __name__ == "__main__":
    sys.exit(main())
