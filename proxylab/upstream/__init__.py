"""Kubernetes' own e2e `[sig-network] Services` specs, run beside proxylab's checks.

- :mod:`.specs`: which specs exist for the pinned version (a checked-in list), which proxylab
  skips and why, the short ids they are recorded under, and the fixed CI subset;
- :mod:`.ginkgo`: running a set of them with ginkgo against a cluster and reading the outcome;
- :mod:`.behaviours`: the map from each data-plane behaviour to the upstream specs and proxylab
  tests that check it, which the report uses to show both verdicts side by side.
"""
