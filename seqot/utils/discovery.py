"""Find every public estimator of seqot, so that tests check each one automatically."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator

__all__ = ["all_estimators"]



def all_estimators(type_filter=None):
    """Every public scikit-learn estimator class defined in seqot.

    Walks all modules of the package (private modules included, since public classes live in
    private modules behind public re-exports), keeps classes that subclass
    :class:`~sklearn.base.BaseEstimator`, are defined in seqot, are not abstract and whose
    name does not start with an underscore.

    Parameters
    ----------
    type_filter : None or {"classifier", "transformer", "regressor", "cluster"} or list
        Keep only estimators of these kinds (read from their scikit-learn tags).

    Returns
    -------
    list of (name, class), sorted by name.
    """
    import seqot

    found = {}
    for info in pkgutil.walk_packages(seqot.__path__, prefix="seqot."):
        if ".tests" in info.name or info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError as exc:
            # A module that needs a missing optional dependency (pymanopt, matplotlib, ...)
            # is skipped; a broken seqot module is an error, never silently skipped.
            missing = getattr(exc, "name", None) or ""
            if missing == "seqot" or missing.startswith("seqot."):
                raise
            continue
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseEstimator)
                and obj.__module__.startswith("seqot.")
                and not name.startswith("_")
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    items = sorted(found.items())
    if type_filter is None:
        return items
    wanted = {type_filter} if isinstance(type_filter, str) else set(type_filter)
    out = []
    for name, cls in items:
        kinds = set()
        from sklearn.base import ClassifierMixin, ClusterMixin, RegressorMixin, TransformerMixin

        if issubclass(cls, ClassifierMixin):
            kinds.add("classifier")
        if issubclass(cls, TransformerMixin):
            kinds.add("transformer")
        if issubclass(cls, RegressorMixin):
            kinds.add("regressor")
        if issubclass(cls, ClusterMixin):
            kinds.add("cluster")
        if kinds & wanted:
            out.append((name, cls))
    return out
