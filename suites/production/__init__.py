"""The behaviours users get hurt by in production (issue 11): proxy restarts under load, stale UDP
flows, fallback to terminating endpoints, NodePort with externalTrafficPolicy Local from outside,
Service changes, switching modes in place. Each test records how long the damage lasts per mode."""
