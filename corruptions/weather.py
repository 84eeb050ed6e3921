"""Placeholder until the weather family lands (see issue 8)."""

SPECS: tuple = ()
