"""The contract as the code sees it: the OpenAPI documents in ``specs/``, loaded and checked once."""

from mockserver.spec.documents import Operation, SpecError
from mockserver.spec.loader import Spec
from mockserver.spec.roles import Role, RoleNeeds

__all__ = ["Operation", "Role", "RoleNeeds", "Spec", "SpecError"]
