"""Placeholder until the noise family lands (see issue 8)."""

SPECS: tuple = ()
