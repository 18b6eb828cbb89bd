"""seqot: optimal transport for sequences, as scikit-learn estimators.

The five methods' estimators (CMOT, TAP, DeepEMD, ASOT, ACOT) live in their sub-packages
(:mod:`seqot.fewshot`, :mod:`seqot.metric_learning`, :mod:`seqot.segmentation`,
:mod:`seqot.subspace`) and are re-exported here. They sit on the solver core
:mod:`seqot.ot` (Sinkhorn, EMD, ASOT, frame costs, the DP alignment solver) and the sequence
distances :mod:`seqot.distances`; the layers are described in the architecture page of the
documentation.
"""

__version__ = "0.1.0.dev0"

from .fewshot import CMOTNearestCentroid, DeepEMDClassifier  # noqa: E402
from .metric_learning import TAPMetricLearner  # noqa: E402
from .segmentation import ASOTSegmenter  # noqa: E402
from .subspace import ACOTSubspacePooling  # noqa: E402

__all__ = ["ACOTSubspacePooling", "ASOTSegmenter", "CMOTNearestCentroid", "DeepEMDClassifier", "TAPMetricLearner", "__version__"]
