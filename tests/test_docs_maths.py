"""The docs typeset their maths without internet: MathJax is copied into the build (docs/_ext/local_mathjax.py).

A two-page Sphinx project is built with the extension and opened in headless Chromium with every host name
unresolvable. The browser checks are skipped where no Chromium is installed (.ci/run installs one).
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")

ROOT = Path(__file__).resolve().parents[1]
EXTENSIONS = ROOT / "docs" / "_ext"

spec = importlib.util.spec_from_file_location("local_mathjax", EXTENSIONS / "local_mathjax.py")
local_mathjax = importlib.util.module_from_spec(spec)
spec.loader.exec_module(local_mathjax)

PAGE = r"""Maths
=====

Inline :math:`\hat x = G(E(x))` and :math:`\lVert f(x) \rVert_1`, then a block:

.. math::

   L_{mir} &= \mathbb{E}_x\, M(x, \hat x) \\
   L_{int} &= \tfrac1k \textstyle\sum_{j=1}^{k} M\big(x_j, G(\sum_i \alpha_i E(x_i))\big)
"""
FORMULAS = 3

needs_mathjax = pytest.mark.skipif(local_mathjax.mathjax_release() is None,
                                   reason="MathJax's release files are not installed (docs extra)")
needs_chromium = pytest.mark.skipif(local_mathjax.find_chromium() is None, reason="no Chromium on PATH")


def _build(tmp_path, extension):
    source, out = tmp_path / "src", tmp_path / "html"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXTENSIONS)!r})\nextensions = [{extension!r}]\n", encoding="utf-8")
    (source / "index.rst").write_text(PAGE, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(source), str(out)], check=True)
    return out / "index.html"


@needs_mathjax
def test_the_build_carries_mathjax_and_its_fonts(tmp_path):
    page = _build(tmp_path, "local_mathjax")
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page.read_text(encoding="utf-8"))
    assert "_static/mathjax/tex-mml-chtml.js" in scripts
    assert not [src for src in scripts if "://" in src]  # nothing is loaded from another host
    fonts = page.parent / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert len(list(fonts.glob("MathJax_*.woff"))) >= 20


@needs_mathjax
@needs_chromium
def test_maths_is_typeset_offline_in_a_browser(tmp_path):
    formulas, problems = local_mathjax.check_page(_build(tmp_path, "local_mathjax"))
    assert (formulas, problems) == (FORMULAS, [])


@needs_chromium
def test_the_browser_check_sees_raw_tex_when_mathjax_comes_from_a_cdn(tmp_path):
    formulas, problems = local_mathjax.check_page(_build(tmp_path, "sphinx.ext.mathjax"))
    assert formulas == FORMULAS
    assert len(problems) == FORMULAS and all(problem.startswith("raw TeX") for problem in problems)
