"""The performance suite's pure parts: run sizes, statistics, failover analysis, kube-proxy
metrics and resource parsing (unit-tested in suites/unit), plus the in-pod probe script."""
