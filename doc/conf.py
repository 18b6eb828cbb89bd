"""Sphinx configuration for seqot (numpydoc + sphinx-gallery)."""

import seqot

project = "seqot"
author = "the seqot developers"
release = seqot.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
