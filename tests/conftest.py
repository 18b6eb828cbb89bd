"""Test-suite configuration: the hypothesis profiles.

``ci`` (the default) is derandomized: the same examples run on every machine and every run,
so CI is reproducible and a failure seen once is seen again. ``dev`` explores new examples
(``pytest --hypothesis-profile=dev``) and ``thorough`` runs many more of them.
"""

from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,  # torch's first call on a shape can take a while; speed is not tested here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("ci", derandomize=True, max_examples=25, database=None, **_COMMON)
settings.register_profile("dev", max_examples=50, **_COMMON)
settings.register_profile("thorough", max_examples=500, **_COMMON)
settings.load_profile("ci")
