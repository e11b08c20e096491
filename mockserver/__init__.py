"""A local mock of the FLUX.1 Kontext image APIs, driven by the OpenAPI spec."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
