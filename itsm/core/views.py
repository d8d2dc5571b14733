"""Views of the shared foundation: login, language, health, workflow diagrams, transitions."""

from __future__ import annotations

import hashlib

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language as django_set_language

from . import oidc, workflow
from .diagrams import mermaid_for, state_machines
from .forms import LoginForm


@require_GET
def healthz(request):
    """Liveness: the process answers."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_GET
def readyz(request):
    """Readiness: the database and the broker are reachable; 503 names the failing part."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        from itsm.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


def _login_throttle_key(request) -> str:
    username = (request.POST.get("username") or "").strip().lower()
    addr = request.META.get("REMOTE_ADDR", "")
    return "login-fail:" + hashlib.sha256(f"{username}|{addr}".encode()).hexdigest()


class LoginView(auth_views.LoginView):
    """Django's login with failed attempts throttled per (username, address); says when the
    company directory (LDAP) cannot be reached rather than "wrong password"."""

    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        key = _login_throttle_key(request)
        if cache.get(key, 0) >= settings.LOGIN_FAILURE_LIMIT:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, _("Too many failed attempts. Try again in a few minutes."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        # The "Sign in with <provider>" button, shown only when OpenID Connect is configured.
        return super().get_context_data(
            oidc_provider=oidc.provider_name() if oidc.enabled() else "", **kwargs
        )

    def form_invalid(self, form):
        key = _login_throttle_key(self.request)
        cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW)
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """Django's logout; a session that came from the OpenID Connect provider also ends there
    (RP-initiated logout, which comes back to the login page)."""

    def post(self, request, *args, **kwargs):
        provider_url = oidc.provider_logout_url(request)  # read before the session is flushed
        response = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(provider_url) if provider_url else response


@require_POST
def set_language(request):
    """The header's language switch: remembered on the user, and in a cookie for everyone."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        request.user.language = language
        request.user.save(update_fields=["language"])
    return django_set_language(request)


def _fsm_model(app_label: str, model_name: str):
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError as exc:
        raise Http404 from exc
    if model not in state_machines():
        raise Http404
    return model


@login_required
def workflow_diagram(request, app_label: str, model_name: str):
    """The states and transitions of one state machine, drawn from its django-fsm definition."""
    model = _fsm_model(app_label, model_name)
    current = request.GET.get("state", "")
    return render(
        request,
        "core/workflow.html",
        {
            "model": model,
            "verbose_name": model._meta.verbose_name,
            "mermaid": mermaid_for(model, current=current),
            "current": current,
            "machines": state_machines(),
            "transitions": workflow.describe(model),
        },
    )


@login_required
def workflow_index(request):
    first = state_machines()[0] if state_machines() else None
    if first is None:
        raise Http404
    return HttpResponseRedirect(f"/workflows/{first._meta.app_label}/{first._meta.model_name}/")


@login_required
@require_POST
def transition(request, app_label: str, model_name: str, pk: int):
    """Apply one transition from a record page's transitions panel (HTML twin of the API)."""
    model = _fsm_model(app_label, model_name)
    if not request.user.has_perm(f"{app_label}.view_{model_name}"):
        raise Http404
    obj = get_object_or_404(model, pk=pk)
    name = request.POST.get("transition", "")
    comment = request.POST.get("comment", "")
    back = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else "/"
    try:
        workflow.perform(obj, name, actor=request.user, comment=comment, data=request.POST)
    except workflow.TransitionError as exc:
        errors = exc.extra.get("errors") or {}
        details = "; ".join(
            f"{field}: {e['message']}" for field, items in errors.items() for e in items
        )
        messages.error(request, f"{exc.message} {details}".strip())
    else:
        obj = model.objects.get(pk=obj.pk)  # as saved, with what the transition implied
        messages.success(request, workflow.result_message(obj, name))
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        back = next_url
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = back
        return response
    return HttpResponseRedirect(back)


@login_required
def notification_list(request):
    """The signed-in user's notifications, newest first; POST marks all (or one) read and
    saves the notification settings (rules per urgency, quiet hours, personal chat)."""
    from django.core.exceptions import ValidationError
    from django.core.paginator import Paginator

    from .forms import NotificationSettingsForm, add_service_errors
    from .notifications import (
        SETTING_FIELDS,
        inbox,
        mark_read,
        notification_settings,
        save_notification_settings,
    )

    form = NotificationSettingsForm(
        initial=NotificationSettingsForm.initial_for(notification_settings(request.user))
    )
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "read_all")
        if action == "preferences":
            form = NotificationSettingsForm(request.POST)
            if form.is_valid():
                data = {k: form.cleaned_data[k] for k in SETTING_FIELDS}
                try:
                    save_notification_settings(request.user, rules_list=form.rules(), **data)
                except ValidationError as exc:
                    add_service_errors(form, exc)
                else:
                    messages.success(request, _("Notification preferences saved."))
                    return HttpResponseRedirect(request.path)
            status = 400
        elif action == "read":
            try:
                pk = int(request.POST.get("id", ""))
            except ValueError:
                return HttpResponse(_("Unknown notification."), status=400)
            mark_read(request.user, [pk])
            return HttpResponseRedirect(request.path)
        else:
            mark_read(request.user)
            messages.success(request, _("All notifications marked as read."))
            return HttpResponseRedirect(request.path)
    qs = inbox(request.user)
    unread_only = bool(request.GET.get("unread"))
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "core/notifications.html",
        {"page": page, "unread_only": unread_only, "form": form},
        status=status,
    )


@login_required
@require_GET
def notification_open(request, pk: int):
    """Follow a notification's link, marking it read on the way."""
    from .notifications import inbox, mark_read

    notification = get_object_or_404(inbox(request.user), pk=pk)
    mark_read(request.user, [notification.pk])
    target = notification.url or "/notifications/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "/notifications/"
    return HttpResponseRedirect(target)


@never_cache
@login_required
@require_GET
def notification_bell(request):
    """htmx: the header bell with the unread count, polled by every page."""
    from .notifications import unread_count

    return render(
        request, "core/partials/_bell.html", {"unread_notifications": unread_count(request.user)}
    )
