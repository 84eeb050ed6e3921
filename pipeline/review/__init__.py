"""A small local review page for audit candidates and model mistakes (``benchsmith review``)."""

from __future__ import annotations
