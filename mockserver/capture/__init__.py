"""``flux-mock record``: a proxy that passes a client's calls to a real service and keeps them as a cassette.

:mod:`.upstream_routes` says where each path goes, :mod:`.links` rewrites the
links in bodies between the upstream's addresses and the recorder's,
:mod:`.linked_files` keeps the files answers link to, :mod:`.proxy_app` is
the ASGI app, and :mod:`.recording_proxy` runs it on a socket for tests.
"""
