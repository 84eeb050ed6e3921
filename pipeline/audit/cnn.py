"""The ``cnn`` probability route: a small airbench-style CNN, K-fold cross-validated on the CPU.

For natural images the random-feature route is weak (62.6% held-out on CIFAR-10 test);
confident learning needs a model that is right where the labels are right. This route
trains, per fold, a small network in the style of Keller Jordan's airbench: a frozen 2x2
patch-whitening convolution (eigenvectors of the fold's training-patch covariance, and
their negatives) + GELU, then three groups of (3x3 conv, 2x2 max-pool, BN, GELU, 3x3 conv,
BN, GELU) of ``width``, ``4 * width`` and ``4 * width`` channels, global max-pooling and a
linear head. Most of the compute is at 16x16 and below, so it learns more per CPU second
than a VGG stack at full resolution. Training: SGD + Nesterov momentum, a one-cycle
learning rate, label smoothing, random-crop (+ horizontal flip for natural images)
augmentation; prediction averages each image with its mirror (``tta``) and is calibrated
by temperature scaling on a held-out tenth of the fold's training rows (probabilities
feed cleanlab, so calibration matters). ``arch: lenet`` swaps the network for a LeNet-style
one (two 5x5 conv + max-pool blocks, a dense layer) for small single-channel digits; the
training, calibration and seeding are the same. Each fold is a dask task with one torch thread
(NHWC tensors, oneDNN convolutions); everything is seeded from (seed, fold) with torch's
deterministic algorithms, so the probabilities do not depend on scheduler or worker count.

torch is optional (extra ``audit-cnn``): the route fails with how to install it.

References:
    K. Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU", 2024, arXiv:2404.00498
    (patch-whitening initialisation, the conv-pool-BN-GELU groups, label smoothing 0.2,
    flip test-time augmentation);
    Guo et al., "On Calibration of Modern Neural Networks", 2017 (temperature scaling);
    Northcutt et al., "Pervasive Label Errors in Test Sets", 2021 (cross-validated probs);
    LeCun et al., "Gradient-based learning applied to document recognition", 1998 (lenet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.errors import ManifestError

__all__ = ["ARCHS", "CNN_DEFAULTS", "cnn_pred_probs", "fit_predict_cnn_fold"]

#: Values of ``audit.probs.cnn.arch``: the airbench-style net (natural images) and a
#: LeNet-style net (two 5x5 conv + max-pool blocks and a dense layer, for small digits).
ARCHS = ("airbench", "lenet")

#: Defaults of ``audit.probs.cnn`` (per key: what it sets).
CNN_DEFAULTS: dict[str, Any] = {
    "arch": "airbench",    # network: one of ARCHS
    "epochs": 16,          # passes over the fold's training rows
    "width": 32,           # channels of the first block (x4 in the next two)
    "batch_size": 128,
    "lr": 0.2,             # peak one-cycle learning rate
    "weight_decay": 5e-4,
    "label_smoothing": 0.2,
    "flip": True,          # horizontal flips (off for digits)
    "pad": 4,              # random-crop padding in pixels
    "tta": True,           # average with the mirrored image at prediction (needs flip)
}


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ManifestError(
            "audit.probs.route cnn needs torch: pip install 'benchsmith[audit-cnn]' "
            "(CPU build: pip install torch==2.13.0), or use route builtin"
        ) from exc
    return torch


def _whitening(torch: Any, x: Any, eps: float = 5e-4) -> Any:
    """2x2 patch-whitening filters of normalised images ``x`` (N, C, H, W).

    Returns:
        float32 (8 C, C, 2, 2): the patch covariance's eigenvectors scaled by
        ``1 / sqrt(eigenvalue + eps)``, then their negatives (airbench's first layer).
    """
    c = x.shape[1]
    patches = torch.nn.functional.unfold(x, 2).transpose(1, 2).reshape(-1, c * 4).double()
    patches = patches - patches.mean(0, keepdim=True)
    cov = patches.T @ patches / len(patches)
    evals, evecs = torch.linalg.eigh(cov)
    w = (evecs.T / torch.sqrt(evals.clamp_min(0) + eps)[:, None]).reshape(c * 4, c, 2, 2)
    return torch.cat([w, -w]).float()


def _lenet(torch: Any, channels: int, n_classes: int, width: int, hw: tuple[int, int]) -> Any:
    """LeNet-style net for small digits.

    Two blocks of (5x5 conv, BN, ReLU, 2x2 max-pool) of ``width`` then ``2 * width``
    channels, a dense layer of ``4 * width`` (the features) and a linear head.

    Reference: LeCun et al., "Gradient-based learning applied to document recognition", 1998.
    """
    nn = torch.nn
    layers: list[Any] = []
    c_in = channels
    for c in (width, 2 * width):
        layers += [nn.Conv2d(c_in, c, 5, padding=2, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                   nn.MaxPool2d(2)]
        c_in = c
    flat = 2 * width * (hw[0] // 4) * (hw[1] // 4)
    layers += [nn.Flatten(), nn.Linear(flat, 4 * width, bias=False), nn.BatchNorm1d(4 * width),
               nn.ReLU(), nn.Linear(4 * width, n_classes, bias=False)]
    return nn.Sequential(*layers)


def _net(torch: Any, channels: int, n_classes: int, width: int, white: Any) -> Any:
    nn = torch.nn
    c0 = white.shape[0]
    conv0 = nn.Conv2d(channels, c0, 2, padding=0, bias=True)
    with torch.no_grad():
        conv0.weight.copy_(white)
        conv0.bias.zero_()
    conv0.weight.requires_grad_(False)
    layers: list[Any] = [conv0, nn.GELU()]
    c_in = c0
    for c in (width, 4 * width, 4 * width):
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.MaxPool2d(2),
                   nn.BatchNorm2d(c), nn.GELU(),
                   nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.GELU()]
        c_in = c
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, n_classes, bias=False)]
    return nn.Sequential(*layers)


def _augment(torch: Any, x: Any, gen: Any, *, pad: int, flip: bool) -> Any:
    n, _, h, w = x.shape
    if pad:
        xp = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
        rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :]
        idx_n = torch.arange(n)[:, None, None, None]
        idx_c = torch.arange(x.shape[1])[None, :, None, None]
        x = xp[idx_n, idx_c, rows, cols]
    if flip:
        m = torch.rand(n, generator=gen) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(3), x)
    return x


def fit_predict_cnn_fold(images: np.ndarray, labels: np.ndarray, fid: np.ndarray, k: int,
                         n_classes: int, seed: int, params: dict[str, Any]) -> np.ndarray:
    """Train on every fold but ``k`` and predict fold ``k`` (a dask task).

    Args:
        images: uint8 (N, H, W, C).
        labels: int64 (N,).
        fid: Fold id per row.
        k: The held-out fold.
        n_classes: Number of classes.
        seed: Manifest seed.
        params: :data:`CNN_DEFAULTS` with the manifest's overrides.

    Returns:
        float32 (rows of fold k, n_classes + D): temperature-scaled probabilities, then the
        network's D pooled features of the rows (the neighbour evidence).
    """
    torch = _torch()
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    # Denormal handling is process state that other libraries change when imported (FTZ/DAZ);
    # fix it so a fold gives the same bytes in any process, and restore the IEEE-754 default
    # (and the caller's torch settings) afterwards: a sync-scheduler fold runs in the caller.
    torch.set_flush_denormal(True)
    try:
        return _fit_predict(torch, images, labels, fid, k, n_classes, seed, params)
    finally:
        torch.set_flush_denormal(False)
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def _fit_predict(torch: Any, images: np.ndarray, labels: np.ndarray, fid: np.ndarray, k: int,
                 n_classes: int, seed: int, params: dict[str, Any]) -> np.ndarray:
    torch.manual_seed(int(np.random.SeedSequence([seed, 0xC44, k]).generate_state(1)[0]))
    gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 0xC45, k])
                                            .generate_state(1)[0]))
    x = torch.from_numpy(np.array(images.transpose(0, 3, 1, 2))).float() / 255.0
    mean = x[torch.from_numpy(fid != k)].mean(dim=(0, 2, 3), keepdim=True)
    std = x[torch.from_numpy(fid != k)].std(dim=(0, 2, 3), keepdim=True) + 1e-6
    x = (x - mean) / std
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    train = np.flatnonzero(fid != k)
    perm = np.random.default_rng(np.random.SeedSequence([seed, 0xC46, k])).permutation(train)
    n_cal = max(n_classes, len(perm) // 10)
    cal, fit = perm[:n_cal], perm[n_cal:]
    if params["arch"] == "lenet":
        net = _lenet(torch, x.shape[1], n_classes, int(params["width"]), tuple(x.shape[2:]))
    else:
        white = _whitening(torch, x[torch.from_numpy(np.sort(fit[:2000]))])
        net = _net(torch, x.shape[1], n_classes, int(params["width"]), white)
    # NHWC: oneDNN's single-thread convolutions are ~20% faster on it than on NCHW.
    net = net.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    bs, epochs = int(params["batch_size"]), int(params["epochs"])
    steps = epochs * -(-len(fit) // bs)
    opt = torch.optim.SGD(net.parameters(), lr=float(params["lr"]), momentum=0.9, nesterov=True,
                          weight_decay=float(params["weight_decay"]))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(params["lr"]), total_steps=steps)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=float(params["label_smoothing"]))
    fit_t = torch.from_numpy(fit)
    for _ in range(epochs):
        net.train()
        order = fit_t[torch.randperm(len(fit_t), generator=gen)]
        for i in range(0, len(order), bs):
            b = order[i:i + bs]
            if len(b) < 2:
                continue
            xb = _augment(torch, x[b], gen, pad=int(params["pad"]), flip=bool(params["flip"]))
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xb), y[b]).backward()
            opt.step()
            sched.step()
    net.eval()

    body, head = net[:-1], net[-1]

    # Flip test-time augmentation: average the pooled features of the image and its mirror.
    tta = bool(params["tta"]) and bool(params["flip"])

    def embed(rows: np.ndarray) -> Any:
        with torch.no_grad():
            out = []
            for i in range(0, len(rows), 512):
                xb = x[torch.from_numpy(rows[i:i + 512])]
                e = body(xb)
                if tta:
                    e = (e + body(xb.flip(3))) / 2
                out.append(e)
            return torch.cat(out)

    def logits(rows: np.ndarray) -> Any:
        with torch.no_grad():
            return head(embed(rows))

    # Temperature scaling on the held-out calibration rows (Guo et al. 2017).
    z_cal, y_cal = logits(cal), y[torch.from_numpy(cal)]
    temps = torch.exp(torch.linspace(np.log(0.25), np.log(8.0), 121))
    nll = torch.stack([torch.nn.functional.cross_entropy(z_cal / t, y_cal) for t in temps])
    t_best = temps[int(torch.argmin(nll))]
    test = np.flatnonzero(fid == k)
    emb = embed(test)
    with torch.no_grad():
        probs = torch.softmax(head(emb) / t_best, dim=1).numpy().astype(np.float32)
    return np.concatenate([probs, emb.numpy().astype(np.float32)], axis=1)


def cnn_pred_probs(images: Sequence[np.ndarray], labels: np.ndarray, fid: np.ndarray, *,
                   n_classes: int, seed: int, params: dict[str, Any], scheduler: str = "processes",
                   workers: int = 2, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """K-fold out-of-sample CNN probabilities, one dask task per fold.

    Args:
        images: uint8 images of one shape, (H, W) or (H, W, C).
        labels: int (N,) given labels.
        fid: Fold id per row (:func:`pipeline.audit.probs.fold_ids`).
        n_classes: Number of classes.
        seed: Manifest seed.
        params: Overrides of :data:`CNN_DEFAULTS`.
        scheduler: :func:`pipeline.parallel.run_tasks` scheduler.
        workers: Parallel folds.
        progress: Show a progress bar.

    Returns:
        ``(probs, features)``: float32 (N, n_classes), each row predicted by a network
        that never saw it, and float32 (N, 4 * width) pooled features of those networks.
    """
    from pipeline.parallel import run_tasks

    _torch()
    unknown = sorted(set(params) - set(CNN_DEFAULTS))
    if unknown:
        raise ManifestError(f"audit.probs.cnn: unknown key(s) {unknown}; allowed: "
                            f"{sorted(CNN_DEFAULTS)}")
    p = {**CNN_DEFAULTS, **params}
    if p["arch"] not in ARCHS:
        raise ManifestError(f"audit.probs.cnn.arch: {p['arch']!r} is not one of {list(ARCHS)}")
    arr = np.stack([np.asarray(im) for im in images])
    if arr.ndim == 3:
        arr = arr[..., None]
    labels = np.asarray(labels, dtype=np.int64)
    folds = int(fid.max()) + 1
    tasks = [(arr, labels, fid, k, n_classes, seed, p) for k in range(folds)]
    # run_tasks hands the folds to the process pool one at a time (chunksize 1).
    parts = run_tasks(fit_predict_cnn_fold, tasks, scheduler=scheduler, workers=workers,
                      desc="audit cnn folds", progress=progress)
    out = np.empty((len(labels), parts[0].shape[1]), dtype=np.float32)
    for k, part in enumerate(parts):
        out[fid == k] = part
    return out[:, :n_classes], out[:, n_classes:]
