"""Sphinx configuration for seqot (numpydoc + sphinx-gallery)."""

import os
import re
import shutil
import warnings
from pathlib import Path

# The gallery runs every example inside the build: small sizes keep it under two minutes.
os.environ.setdefault("SEQOT_EXAMPLES_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# The examples solve many tiny problems: one intra-op thread avoids OpenMP spinning, which on a
# busy 2-core machine made the gallery up to 10x slower in CPU time.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

import seqot  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

project = "seqot"
author = "the seqot developers"
copyright = "the seqot developers"
release = seqot.__version__
version = release
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
exclude_patterns = ["_build", "_examples_src", "gallery_header.rst", "generated/*.examples"]
html_theme = "alabaster"
html_static_path = []

# sphinx-gallery wants a header file beside the scripts: stage ../examples with ours.
_here = Path(__file__).resolve().parent
_src = _here / "_examples_src"
shutil.rmtree(_src, ignore_errors=True)
_src.mkdir()
for _f in sorted((_here.parent / "examples").glob("*.py")):
    shutil.copy2(_f, _src / _f.name)
shutil.copy2(_here / "gallery_header.rst", _src / "GALLERY_HEADER.rst")

sphinx_gallery_conf = {
    "examples_dirs": "_examples_src",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": None,
    "abort_on_example_error": True,
    "show_memory": False,
}

# Example scripts print progress bars and user warnings; they are not build warnings.
warnings.filterwarnings("ignore", category=UserWarning, message=".*Matplotlib.*non-GUI.*")
