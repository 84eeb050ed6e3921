"""Placeholder until the digital family lands (see issue 8)."""

SPECS: tuple = ()
