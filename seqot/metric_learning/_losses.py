r"""Metric-learning losses over a matrix of (asymmetric) distances, anchors in rows.

``D[n, n']`` is the distance from anchor ``n`` to ``n'``; the diagonal holds each anchor's
distance to its own augmentation (a positive), or, with ``self_positive=False`` (training
without augmentations), is left out of the loss. The forms follow TAP's code (Su and Wen 2022,
Eqs. 4-7): hard mining thresholds carry no gradient, and losses are summed over anchors.
"""

from __future__ import annotations

from numbers import Real

import torch

from ..utils._param_validation import NON_NEGATIVE, POSITIVE, finite, validate_params

__all__ = ["binomial_deviance_loss", "hard_mining_loss", "lifted_structure_loss", "LOSSES"]

_MARGIN = {"margin": NON_NEGATIVE, "self_positive": ["boolean"]}
_TEMPERATURES = {"alpha": POSITIVE, "beta": POSITIVE, "self_positive": ["boolean"]}


def _masks(labels, self_positive=True):
    same = labels[:, None] == labels[None, :]
    different = ~same
    if not self_positive:  # the diagonal is no pair at all: neither positive nor negative
        same = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same, different


def _mining(D, positive, negative, margin):
    """Hard-mined positive/negative masks: positives farther than the closest negative
    minus the margin, negatives closer than the farthest positive plus the margin."""
    big = torch.finfo(D.dtype).max
    with torch.no_grad():
        closest_negative = torch.where(negative, D, torch.full_like(D, big)).amin(1)
        farthest_positive = torch.where(positive, D, torch.full_like(D, -big)).amax(1)
    pos = positive & (D > closest_negative[:, None] - margin)
    neg = negative & (D < farthest_positive[:, None] + margin)
    return pos, neg


@validate_params(_MARGIN, prefer_skip_nested_validation=True)
def hard_mining_loss(D, labels, *, margin=0.1, self_positive=True):
    r"""Triplet loss with hard mining (Hermans et al. 2017) in the form of TAP's code:
    :math:`\ell_n = \mathrm{mean}_{P_n} d + \mathrm{mean}_{N_n} (m - d)` over the mined sets,
    anchors without a mined negative skipped."""
    positive, negative = _masks(labels, self_positive)
    pos, neg = _mining(D, positive, negative, margin)
    n_pos, n_neg = pos.sum(1), neg.sum(1)
    keep = n_neg > 0
    pos_term = (D * pos).sum(1) / n_pos.clamp_min(1)
    neg_term = ((margin - D) * neg).sum(1) / n_neg.clamp_min(1)
    return torch.where(keep, pos_term + neg_term, torch.zeros_like(pos_term)).sum()


@validate_params(_TEMPERATURES, prefer_skip_nested_validation=True)
def lifted_structure_loss(D, labels, *, alpha=40.0, beta=2.0, self_positive=True):
    r""":math:`\ell_n = \frac2\beta\log\sum_{P_n} e^{\beta d} + \frac2\alpha\log\sum_{N_n}
    e^{-\alpha d}` (the log-sum-exp "LiftedStructure" of TAP's Eq. 5; :math:`\beta` acts on
    positives, :math:`\alpha` on negatives), anchors without negatives skipped."""
    positive, negative = _masks(labels, self_positive)
    neg_inf = torch.full_like(D, float("-inf"))
    pos_term = torch.logsumexp(torch.where(positive, beta * D, neg_inf), dim=1) * (2.0 / beta)
    neg_term = torch.logsumexp(torch.where(negative, -alpha * D, neg_inf), dim=1) * (2.0 / alpha)
    keep = negative.any(1)
    zero = torch.zeros_like(pos_term)
    # an anchor without positives (its class alone in the batch, self_positive=False) has no
    # positive term (its log-sum-exp would be -inf)
    keep_pos = keep & positive.any(1)
    return torch.where(keep_pos, pos_term, zero).sum() + torch.where(keep, neg_term, zero).sum()


@validate_params({**_TEMPERATURES, **_MARGIN, "threshold": [finite(Real)]},
                 prefer_skip_nested_validation=True)
def binomial_deviance_loss(D, labels, *, alpha=40.0, beta=2.0, threshold=0.5, margin=0.1,
                           self_positive=True):
    r"""Binomial deviance with hard mining (Yi et al. 2014; TAP's Eqs. 6-7):
    :math:`\ell_n = \frac{2}{\beta|P_n|}\sum_{P_n}\log(1 + e^{\beta(d - 0.5)}) +
    \frac{2}{\alpha|N_n|}\sum_{N_n}\log(1 + e^{-\alpha(d - 0.5)})`, anchors with an empty
    mined set skipped."""
    positive, negative = _masks(labels, self_positive)
    pos, neg = _mining(D, positive, negative, margin)
    n_pos, n_neg = pos.sum(1), neg.sum(1)
    keep = (n_pos > 0) & (n_neg > 0)
    sp = torch.nn.functional.softplus
    pos_term = (sp(beta * (D - threshold)) * pos).sum(1) * 2.0 / (beta * n_pos.clamp_min(1))
    neg_term = (sp(-alpha * (D - threshold)) * neg).sum(1) * 2.0 / (alpha * n_neg.clamp_min(1))
    return torch.where(keep, pos_term + neg_term, torch.zeros_like(pos_term)).sum()


#: The losses by name, undecorated: TAPMetricLearner calls one every step with its own,
#: already checked, constants.
LOSSES = {
    "binomial": binomial_deviance_loss.__wrapped__,
    "hm": hard_mining_loss.__wrapped__,
    "lifted": lifted_structure_loss.__wrapped__,
}
