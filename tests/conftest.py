"""Test-suite configuration: the dependency versions in the header, one torch thread per
module, and the hypothesis profiles.

``ci`` (the default) is derandomized: the same examples run on every machine and every run,
so CI is reproducible and a failure seen once is seen again. ``dev`` explores new examples
(``pytest --hypothesis-profile=dev``) and ``thorough`` runs many more of them.
"""

from importlib import metadata

import pytest
import torch
from hypothesis import HealthCheck, settings

# Every run names the releases it ran on, so a red run on a new machine says which one moved.
_REPORTED = ("numpy", "scipy", "scikit-learn", "torch", "POT", "pymanopt", "joblib", "tqdm",
             "numba", "matplotlib", "dask", "hypothesis", "tslearn", "aeon", "sktime")


def pytest_report_header(config):
    found = []
    for name in _REPORTED:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return "seqot dependencies: " + ", ".join(found)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Run every test module on one torch thread, and restore the count afterwards.

    The tests are many small tensor ops: on a busy 2-core CI machine intra-op threads only add
    synchronisation (up to 50x slower), and bit-identical results are promised for a fixed
    thread count. A test that needs more threads sets them itself and restores them.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


_COMMON = dict(
    deadline=None,  # torch's first call on a shape can take a while; speed is not tested here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("ci", derandomize=True, max_examples=25, database=None, **_COMMON)
settings.register_profile("dev", max_examples=50, **_COMMON)
settings.register_profile("thorough", max_examples=500, **_COMMON)
settings.load_profile("ci")
