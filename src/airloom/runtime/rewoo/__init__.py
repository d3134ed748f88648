"""reWOO plans: parse (tolerant) -> validate (every problem listed) -> execute (eager DAG).

Modules: :mod:`.parse`, :mod:`.compile`, :mod:`.validate`, :mod:`.execute`,
:mod:`.trace`, :mod:`.prompt` and :mod:`.runner` (the one-call entry point).
"""
