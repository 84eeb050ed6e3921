"""Fixtures of tests/pipeline: the small real build the bad-input sweep files share."""

from sweep_build import build  # noqa: F401 - a session fixture, built only when asked for
