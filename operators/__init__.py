"""Kubernetes operators of proxylab. They know Kubernetes objects and nothing about pytest or locust."""
