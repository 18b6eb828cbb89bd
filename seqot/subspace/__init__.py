"""Subspace pooling of sequences on the Grassmann manifold: ACOT, its baselines and the
Grassmann kernels for SVMs.

pymanopt (the ``manifold`` extra) is needed only when an ACOT subspace is optimised; importing
this package never needs it.
"""

from ._acot import acot_closed_form, acot_cost, acot_subspace, random_negatives
from ._estimator import ACOTSubspacePooling
from ._kernels import GrassmannKernel, bases_to_flat, flat_to_bases, grassmann_kernel
from ._pooling import MeanPooling, PCASubspacePooling, RankPooling

__all__ = [
    "ACOTSubspacePooling",
    "GrassmannKernel",
    "MeanPooling",
    "PCASubspacePooling",
    "RankPooling",
    "acot_closed_form",
    "acot_cost",
    "acot_subspace",
    "bases_to_flat",
    "flat_to_bases",
    "grassmann_kernel",
    "random_negatives",
]
