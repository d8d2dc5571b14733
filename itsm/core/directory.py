"""What a login backend reports when it cannot ask the company directory (LDAP, OpenID Connect).

Django's ``authenticate()`` only answers "a user" or "nobody"; a backend that got no answer from
its directory notes why on the request, and the login form (``forms.LoginForm``) then says
"the directory cannot be reached" instead of "wrong password".
"""

from __future__ import annotations

# What a login backend may report about its directory (read by the login form).
UNREACHABLE = "unreachable"  # no answer: server down, timeout, TLS handshake failed
MISCONFIGURED = "misconfigured"  # an answer, but the portal's configuration is wrong


def report_problem(request, problem: str) -> None:
    """Note on ``request`` that the directory could not be asked (``UNREACHABLE``/``MISCONFIGURED``)."""
    if request is not None:
        request._directory_problem = problem


def reported_problem(request) -> str:
    """What a backend reported during this request's login attempt ("" when nothing)."""
    return getattr(request, "_directory_problem", "")
