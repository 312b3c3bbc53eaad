"""Obtaining every image proxylab runs: pulled when a registry answers, built from pinned sources
when not. Both paths read :mod:`proxylab.versions` and end with the same local image names
(:mod:`.catalog`), so the cluster code never knows which path was taken."""
