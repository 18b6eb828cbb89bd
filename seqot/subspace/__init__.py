"""Subspace pooling of sequences on the Grassmann manifold: ACOT and its baselines.

pymanopt (the ``manifold`` extra) is needed only when an ACOT subspace is optimised; importing
this package never needs it.
"""

from ._acot import acot_closed_form, acot_cost, acot_subspace, random_negatives
from ._estimator import ACOTSubspacePooling

__all__ = [
    "ACOTSubspacePooling",
    "acot_closed_form",
    "acot_cost",
    "acot_subspace",
    "random_negatives",
]
