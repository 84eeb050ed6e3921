"""A tiny randomly initialised class-conditional denoiser with EDM's interface, saved as a file.

``D(x, sigma, class_labels)`` with EDM's preconditioning (Karras et al. 2022, Table 1):
``c_skip x + c_out F(c_in x, c_noise, y)``, ``sigma_data = 0.5``; ``F`` is two 3x3
convolutions plus a label and noise-level embedding. Random weights (seeded), no training:
the tests need the interface and a fixed non-trivial latent-to-image map, not realism.
"""

from __future__ import annotations

from pathlib import Path


def make_tiny_denoiser(path: Path, *, channels: int, num_classes: int, seed: int = 0) -> Path:
    """Script the tiny denoiser to TorchScript (``.pt``) or export ONNX (``.onnx``) at ``path``."""
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(channels, 8, 3, padding=1)
            self.conv2 = torch.nn.Conv2d(8, channels, 3, padding=1)
            self.label = torch.nn.Linear(num_classes, 8)
            self.noise = torch.nn.Linear(1, 8)

        def forward(self, x: torch.Tensor, sigma: torch.Tensor,
                    class_labels: torch.Tensor) -> torch.Tensor:
            s = sigma.reshape(-1, 1, 1, 1)
            sd = 0.5
            c_skip = sd**2 / (s**2 + sd**2)
            c_out = s * sd / torch.sqrt(s**2 + sd**2)
            c_in = 1 / torch.sqrt(s**2 + sd**2)
            c_noise = torch.log(sigma).reshape(-1, 1) / 4
            emb = self.label(class_labels) + self.noise(c_noise)
            h = torch.tanh(self.conv1(c_in * x) + emb[:, :, None, None])
            return c_skip * x + c_out * self.conv2(h)

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    net = Tiny().eval()
    torch.random.set_rng_state(state)
    if path.suffix == ".onnx":
        x = torch.zeros(2, channels, 8, 8)
        torch.onnx.export(net, (x, torch.ones(2), torch.zeros(2, num_classes)), str(path),
                          input_names=["x", "sigma", "class_labels"], output_names=["d"],
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "sigma": {0: "n"},
                                        "class_labels": {0: "n"}}, dynamo=False)
    else:
        torch.jit.script(net).save(str(path))
    return path
