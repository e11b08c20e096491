"""The contract as the code sees it: the OpenAPI documents in ``specs/``, loaded and checked once."""

from mockserver.spec.loader import Operation, Spec, SpecError

__all__ = ["Operation", "Spec", "SpecError"]
