"""lab: the Kubernetes Gateway API lab (kind + Consul API Gateway) as reproducible, tested code."""

__version__ = "0.1.0"
