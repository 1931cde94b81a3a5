"""The HTTP API's logic: who is calling, what they may do, and what each resource does.

``functions/api`` holds only the routes; they take a :class:`~fiscal_core.api.context.RequestContext`
(``Ctx``) and call a function of this package. Errors raised here are domain exceptions that
:func:`fiscal_core.api.problems.problem_for` turns into RFC 9457 problem details, in one place.
"""
