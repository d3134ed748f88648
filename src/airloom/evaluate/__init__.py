"""``airloom eval``: skill cases in the airoboros formats, scored by program checks.

Modules: :mod:`.cases` (typed cases and suites), :mod:`.prompts` (each case's prompt),
:mod:`.scorers` (pure verdicts per kind), :mod:`.runner` (ask, execute, score) and
:mod:`.report` (scores per kind, JSON, the comparison page). The bundled suite lives
in ``suites/`` with the corpus its plan cases search.
"""
