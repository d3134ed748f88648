"""Tools that reWOO plans call: one small protocol (:mod:`.base`), a registry of roles
(:mod:`.registry`) and one module per kind: :mod:`.search`, :mod:`.fetch` (with the SSRF
guard in :mod:`.ssrf` and HTML extraction in :mod:`.extract`), :mod:`.links`, :mod:`.knowledge`.
"""
