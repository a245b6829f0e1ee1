"""Sphinx configuration for the M2 documentation."""

project = 'M2'
copyright = '2026, The M2 developers'
extensions = []
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
