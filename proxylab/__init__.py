"""proxylab: conformance and performance harness for Kubernetes Service load balancing.

The package is the core library behind the ``proxylab`` CLI: pinned versions (:mod:`versions`),
proxy modes (:mod:`modes`), host checks and provisioning (:mod:`doctor`, :mod:`provision`), the
containment guard (:mod:`guard`), image builds (:mod:`images`), cluster lifecycle
(:mod:`cluster`) and the results schema (:mod:`results`).
"""

__version__ = "0.1.0"
