# The two entry points README.md documents: `make build` and `make test`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: build test install install-test system-deps

install:
	$(PIP) install -e .
	$(PYTHON) -m corruptions.frost_texture --fetch

# Test-only tools: the reference implementation (imagecorruptions pins the GUI
# opencv-python build, so it is installed without its dependencies, which we
# already have), ffmpeg for the video corruptions, Chromium for page tests and
# ImageMagick's MagickWand (with Wand from the test extra) as the motion-blur oracle.
install-test: install system-deps
	$(PIP) install -e '.[test]'
	$(PIP) install --no-deps imagecorruptions==1.1.2
	@# The conv-VAE shift (extra shift-vae) is tested with the CPU build of torch where the
	@# machine has it; elsewhere those tests skip with the reason.
	$(PIP) install torch==2.13.0 || echo "torch 2.13.0 (CPU) not available: VAE shift tests skip"

system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  missing=""; \
	  command -v ffmpeg >/dev/null 2>&1 || missing="$$missing ffmpeg"; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  ls /usr/lib/*/libMagickWand-6.Q16.so >/dev/null 2>&1 || missing="$$missing libmagickwand-dev"; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	else echo "not root or no apt-get: install ffmpeg, chromium and libmagickwand-dev yourself for the video, page and ImageMagick-oracle tests"; fi

build: install
	dvc repro

test: install-test
	$(PYTHON) -m pytest
