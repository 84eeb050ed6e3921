"""Replay one set of random draws on both sides of a same-draws comparison (test-only).

Two directions, for the two kinds of kernels (nothing in the product imports this):

1. Script draws -> kernel (:class:`ScriptDraws`, blur and weather).

   Feed the reference scripts' random draws to our kernels (test-only).

   The ImageNet-C / CIFAR-10-C / Tiny-ImageNet-C scripts draw from NumPy's legacy
   global ``RandomState`` (``np.random.uniform``, ``randint``, ``normal``); our
   kernels draw from an ``np.random.Generator``. :class:`ScriptDraws` stands in for
   the generator: each Generator method a kernel calls is answered by the legacy
   call the script makes at that point, from a ``RandomState`` seeded like the
   script's run. Same order, same shapes, same values: the kernel then sees
   exactly the draws the reference saw, and its output can be compared with the
   reference's to the gray level. Every call is recorded in :attr:`calls`, so a
   test can also check the order of draws. Nothing in the product imports this.

2. Kernel draws -> script (:class:`RecordingGenerator` + :class:`LegacyReplay`, noise and
   digital).

   Feed one set of random draws to benchsmith's kernels and to the reference scripts.

   Test-only machinery (never imported by the product): a kernel runs with a
   :class:`RecordingGenerator` (a real ``np.random.Generator`` that keeps every array
   it hands out); the reference function then runs with a :class:`LegacyReplay` in
   place of the ``np.random`` module it calls, which returns those same draws
   transformed the way NumPy's legacy ``RandomState`` transforms its own:

   * ``normal(loc, scale, size)`` -> ``loc + scale * z`` for a recorded ``standard_normal`` z
     (legacy ``normal`` is ``loc + scale * gauss``; float32 draws are widened to float64);
   * ``uniform(low, high, size)`` -> the recorded ``uniform`` values (same formula
     ``low + (high - low) * u`` on both sides; the bounds are checked);
   * ``poisson(lam)`` -> the recorded counts (``lam`` is checked to be the kernel's).

   Each call checks the kind and shape of the draw it replays, and :meth:`LegacyReplay.done`
   that every recorded draw was consumed, so a reference that draws differently fails
   loudly instead of comparing unrelated noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ScriptDraws:
    """A ``np.random.Generator`` stand-in answering with a legacy ``RandomState``'s draws."""

    def __init__(self, seed: int) -> None:
        self._rs = np.random.RandomState(seed)
        self.calls: list[tuple[str, Any]] = []

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> Any:
        self.calls.append(("uniform", size))
        return self._rs.uniform(low, high, size)

    def integers(self, low: int, high: int | None = None, size: Any = None) -> Any:
        self.calls.append(("randint", size))
        return self._rs.randint(low, high, size)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None) -> Any:
        self.calls.append(("normal", size))
        return self._rs.normal(loc, scale, size)

    def random(self, size: Any = None, dtype: Any = np.float64) -> Any:
        self.calls.append(("random_sample", size))
        return np.asarray(self._rs.random_sample(size)).astype(dtype)


class RecordingGenerator(np.random.Generator):
    """A PCG64 ``Generator`` that records each array it returns, in call order."""

    def __init__(self, seed: int) -> None:
        super().__init__(np.random.PCG64(seed))
        self.draws: list[tuple[str, dict[str, Any], np.ndarray]] = []

    def _keep(self, kind: str, args: dict[str, Any], out: Any) -> Any:
        self.draws.append((kind, args, np.array(out, copy=True)))
        return out

    def standard_normal(self, size=None, dtype=np.float64, out=None):  # noqa: D102
        assert out is None
        return self._keep("standard_normal", {}, super().standard_normal(size, dtype))

    def normal(self, loc=0.0, scale=1.0, size=None):  # noqa: D102
        z = super().standard_normal(size)
        self._keep("standard_normal", {}, z)
        return loc + scale * z  # Generator.normal's formula

    def uniform(self, low=0.0, high=1.0, size=None):  # noqa: D102
        return self._keep("uniform", {"low": low, "high": high}, super().uniform(low, high, size))

    def poisson(self, lam=1.0, size=None):  # noqa: D102
        return self._keep("poisson", {"lam": np.array(lam, copy=True)}, super().poisson(lam, size))

    def random(self, size=None, dtype=np.float64, out=None):  # noqa: D102
        assert out is None
        return self._keep("random", {"dtype": np.dtype(dtype)}, super().random(size, dtype))


class LegacyReplay:
    """Stands in for the ``np.random`` module of a reference function, replaying draws."""

    def __init__(self, draws: list[tuple[str, dict[str, Any], np.ndarray]]) -> None:
        self._draws = list(draws)
        self._next = 0

    def _pop(self, kind: str, size: Any) -> tuple[dict[str, Any], np.ndarray]:
        assert self._next < len(self._draws), f"the reference draws more than the kernel ({kind})"
        got, args, values = self._draws[self._next]
        self._next += 1
        assert got == kind, f"draw {self._next}: reference asks for {kind}, kernel drew {got}"
        if size is not None:
            # The registry hands a gray (H, W) image to a kernel as (H, W, 1): same values.
            want = (size,) if isinstance(size, int) else tuple(size)
            assert values.size == int(np.prod(want)), f"{kind}: {want} vs recorded {values.shape}"
            values = values.reshape(want)
        return args, values

    def normal(self, loc=0.0, scale=1.0, size=None):  # noqa: D102
        _, z = self._pop("standard_normal", size)
        return loc + scale * z.astype(np.float64)  # float32 draws are used as float64

    def uniform(self, low=0.0, high=1.0, size=None):  # noqa: D102
        args, u = self._pop("uniform", size)
        assert (args["low"], args["high"]) == (low, high), (args, low, high)
        return u

    def poisson(self, lam=1.0, size=None):  # noqa: D102
        args, counts = self._pop("poisson", size if size is not None else np.shape(lam))
        np.testing.assert_array_equal(args["lam"].reshape(np.shape(lam)), lam)
        return counts

    def done(self) -> None:
        """Fail unless the reference consumed every recorded draw."""
        assert self._next == len(self._draws), (
            f"the reference used {self._next} of {len(self._draws)} recorded draws"
        )


class MaskReplay(np.random.Generator):
    """Feeds skimage's ``random_noise(mode='s&p')`` the masks of an ``impulse_noise`` draw.

    skimage draws ``flipped = rng.random(shape) <= amount`` then
    ``salted = rng.random(shape) <= salt_vs_pepper``. The kernel's one uniform ``u`` per
    value means flipped = ``u < amount``, pepper = ``u < amount * (1 - salt_vs_pepper)``
    (float32 thresholds, as the kernel compares); this returns 0.0 where a mask is true
    and 1.0 where it is false, so skimage sees exactly the kernel's masks.
    """

    def __init__(self, u: np.ndarray, amount: float, salt_vs_pepper: float) -> None:
        super().__init__(np.random.PCG64(0))
        u = u.reshape(u.shape[:2]) if u.ndim == 3 and u.shape[2] == 1 else u
        flipped = u < np.float32(amount)
        pepper = u < np.float32(amount * (1.0 - salt_vs_pepper))
        self._masks = [flipped, flipped & ~pepper]

    def random(self, size=None, dtype=np.float64, out=None):  # noqa: D102
        mask = self._masks.pop(0)
        assert tuple(size) == mask.shape, (size, mask.shape)
        return np.where(mask, 0.0, 1.0)

    def done(self) -> None:
        """Fail unless skimage drew both masks."""
        assert not self._masks, "skimage drew fewer masks than expected"


#: The corruptions whose upstream output is a function of the draws (all of this module's).
SAME_DRAWS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "brightness",
    "contrast", "saturate", "jpeg_compression", "pixelate", "elastic_transform",
)


def same_draws(
    name: str, image: np.ndarray, *, severity: int, preset: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``apply`` and the upstream script's function on the same draws.

    Args:
        name: One of :data:`SAME_DRAWS`.
        image: uint8 RGB (H, W, 3), or a gray (H, W) digit for ``mnist28``.
        severity: 1..5.
        preset: Registry preset; the upstream constant is the preset table's row.
        seed: Seed of the recorded generator.

    Returns:
        ``(ours, reference)``, both uint8 with the image's shape.
    """
    import upstream

    from corruptions import get_registry
    from corruptions.registry import apply, resolve_params

    spec = get_registry()[name]
    rng = RecordingGenerator(seed)
    ours = apply(name, image, severity=severity, preset=preset,
                 rng=rng if spec.stochastic else None)
    p = resolve_params(name, severity=severity, preset=preset, shape=image.shape)
    gray = image.ndim == 2
    replay = LegacyReplay(rng.draws)
    if name in ("gaussian_noise", "speckle_noise"):
        ref = getattr(upstream, name)(image, p["sigma"], replay)
    elif name == "shot_noise":
        ref = upstream.shot_noise(image, p["photons"], replay)
    elif name == "impulse_noise":
        (_, _, u), = rng.draws
        masks = MaskReplay(u, p["amount"], p["salt_vs_pepper"])
        ref = upstream.impulse_noise(image, p["amount"], masks)
        masks.done()
        replay = LegacyReplay(())
    elif name == "brightness":
        ref = (upstream.brightness_mnist if gray else upstream.brightness)(image, p["delta"])
    elif name == "saturate":
        fn = upstream.saturate_mnist if p["hsv_channels"] == "hsv" else upstream.saturate
        ref = fn(image, (p["scale"], p["offset"]))
    elif name == "contrast":
        ref = upstream.contrast(image, p["factor"])
    elif name == "jpeg_compression":
        ref = upstream.jpeg_compression(image, p["quality"])
    elif name == "pixelate":
        ref = upstream.pixelate(image, p["factor"])
    elif name == "elastic_transform":
        draws = list(rng.draws)
        if p["alpha"] == 0:  # the kernel skips fields that alpha = 0 multiplies away
            extra = np.random.default_rng(seed + 1)
            draws += [("uniform", {"low": -1, "high": 1}, extra.uniform(-1, 1, image.shape[:2]))
                      for _ in range(2)]
        replay = LegacyReplay(draws)
        c = (p["alpha"], p["sigma"], p["affine_jitter"])
        fn = upstream.elastic_transform_mnist if p["border"] == "constant" else (
            upstream.elastic_transform)
        ref = fn(image, c, replay)
    else:
        raise KeyError(f"{name!r} has no same-draws reference; valid: {SAME_DRAWS}")
    replay.done()
    return ours, np.asarray(ref, dtype=np.uint8).reshape(image.shape)


def preset_images(photos224: list[np.ndarray], digits: np.ndarray, preset: str, n: int) -> list:
    """``n`` test images at a preset's size: photographs resized (PIL bilinear), or digits."""
    from PIL import Image

    from corruptions import PRESETS

    if preset == "mnist28":
        return [np.ascontiguousarray(d) for d in digits[:n]]
    side = PRESETS[preset]
    return [np.asarray(Image.fromarray(p).resize((side, side), Image.BILINEAR))
            for p in photos224[:n]]
