"""Reads: the queries and derived facts views, commands, the admin and services use.

One idea per module (a session's step, a bundle's pictures, the planner, the export's
rows, the dashboard's numbers, ...). A selector never writes, and never imports
``studyapp.services``: the writes read through selectors, not the other way round
(tests/test_package_boundaries.py checks it).

Signatures: a public function takes at most one positional parameter, the subject
it is about (``study_is_frozen(study)``); every other parameter is keyword-only, so a
call names what it passes (``trial_rows(study, include_pilot=True)``). The same rule
holds for ``studyapp.services``; tests/studyapp/test_signatures.py checks both.
"""
