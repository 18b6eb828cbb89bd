"""seqot: optimal transport for sequences, as scikit-learn estimators.

The five methods (CMOT, TAP, DeepEMD, ASOT, ACOT) live in sub-packages and are
re-exported here as they land; the solver core is :mod:`seqot.ot`, sequence
distances are :mod:`seqot.distances`.
"""

__version__ = "0.1.0.dev0"

from .fewshot import CMOTNearestCentroid, DeepEMDClassifier  # noqa: E402
from .metric_learning import TAPMetricLearner  # noqa: E402
from .segmentation import ASOTSegmenter  # noqa: E402
from .subspace import ACOTSubspacePooling  # noqa: E402

__all__ = ["ACOTSubspacePooling", "ASOTSegmenter", "CMOTNearestCentroid", "DeepEMDClassifier", "TAPMetricLearner", "__version__"]
