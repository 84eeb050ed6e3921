"""Label audit: out-of-sample probabilities, cleanlab label issues, duplicates, evidence report.

Modules: :mod:`~pipeline.audit.config` (the manifest section),
:mod:`~pipeline.audit.features` (weights-free featurizers),
:mod:`~pipeline.audit.probs` (probability routes, K-fold CV),
:mod:`~pipeline.audit.issues` (label issues, duplicates, outliers),
:mod:`~pipeline.audit.report` (static HTML), :mod:`~pipeline.audit.stage`
(``benchsmith audit``) and :mod:`~pipeline.audit.reference` (the label-errors
paper's release files).
"""
