"""Re-annotation: import human votes, aggregate them into label sets, publish them.

* :mod:`pipeline.reannotate.importers` turns published annotation files (ImageNet
  ReaL, ImageNetV2 refined labels, label-errors MTurk votes, dough-bagel mistake
  files) and benchsmith's own review votes into ONE long votes table keyed by
  ``sample_id``.
* :mod:`pipeline.reannotate.aggregate` turns votes into a ReaL-style set of valid
  labels per row (majority vote, or cleanlab's multi-annotator consensus).
* :mod:`pipeline.reannotate.config` validates the manifest's ``reannotate`` section.
* :mod:`pipeline.reannotate.stage` is ``benchsmith reannotate``.
"""

from __future__ import annotations
