"""Placeholder until the blur family lands (see issue 8)."""

SPECS: tuple = ()
