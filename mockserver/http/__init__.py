"""The HTTP layer: Starlette routes built from the spec, over the domain."""
