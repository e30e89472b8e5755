"""ACSO shared library."""
