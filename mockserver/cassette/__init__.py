"""Cassettes: recorded exchanges with a real service, kept as a directory to commit and review.

``flux-mock record`` writes one (:mod:`.writer`), ``serve --replay`` answers
from one, and ``check`` / ``conformance --cassette`` judge one offline
(:mod:`.reader`). The layout is in :mod:`.layout`; what is never written, in
:mod:`.redaction`.
"""
