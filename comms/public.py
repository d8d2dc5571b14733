"""The public status page (issue 17 §3): no login, the opted-in services only, no internal field
and no name; rate-limited per address and cacheable by a proxy (``Cache-Control: public``, no
session or CSRF token in the page). Subscribing is double opt-in; every email carries a
one-click unsubscribe link (RFC 8058).

The subscription endpoints are exempt from CSRF: they act for nobody signed in, and what they
do is authorised by the signed link (confirm, unsubscribe) or needs that link to take effect
(subscribe); a mail client's one-click unsubscribe cannot carry a token either.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import feedgenerator, translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from itsm.core.forms import add_service_errors

from . import selectors, services
from .forms import PublicSubscribeForm

DEFAULT_RATE_LIMIT = (120, 60)  # requests per address per window (seconds)
DEFAULT_SUBSCRIBE_LIMIT = (5, 600)
CACHE_SECONDS = 30
PAGE_CACHE_SECONDS = 10


def _limit(setting: str, default: tuple[int, int]) -> tuple[int, int]:
    return tuple(getattr(settings, setting, default))


def _over_limit(request, bucket: str, setting: str, default) -> bool:
    """A fixed-window counter per client address in the shared cache."""
    limit, window = _limit(setting, default)
    slot = int(time.time() // window)
    key = f"status-rate:{bucket}:{request.META.get('REMOTE_ADDR', '')}:{slot}"
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, window)
        count = 1
    return count > limit


def _too_many(window: int) -> HttpResponse:
    response = HttpResponse(
        _("Too many requests. Try again in a minute."), status=429, content_type="text/plain"
    )
    response["Retry-After"] = str(window)
    return response


def rate_limited(bucket: str, setting: str = "STATUS_PAGE_RATE_LIMIT", default=DEFAULT_RATE_LIMIT):
    def decorate(view):
        def wrapped(request, *args, **kwargs):
            if _over_limit(request, bucket, setting, default):
                return _too_many(_limit(setting, default)[1])
            return view(request, *args, **kwargs)

        wrapped.__name__, wrapped.__doc__ = view.__name__, view.__doc__
        return wrapped

    return decorate


def _cacheable(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    patch_vary_headers(response, ["Accept-Language"])
    return response


def _language(request) -> str:
    """``?lang=ja|en`` picks the language (a link to share); else the browser's."""
    wanted = request.GET.get("lang", "")
    return wanted if wanted in dict(settings.LANGUAGES) else translation.get_language()


@require_GET
@rate_limited("page")
def status_public(request):
    """The page, rendered at most every ``PAGE_CACHE_SECONDS`` per language: under an outage's
    crowd the database is asked once, whatever the number of visitors."""
    language = _language(request)
    key = f"status-public-page:{language}"
    body = cache.get(key)
    if body is None:
        body = _render_public(request, language).content
        cache.set(key, body, PAGE_CACHE_SECONDS)
    return _cacheable(HttpResponse(body))


def _render_public(request, language: str) -> HttpResponse:
    with translation.override(language):
        page = selectors.status_page(public=True)
        response = render(
            request,
            "comms/status_public.html",
            {
                "page": page,
                "language": language,
                "form": PublicSubscribeForm(),
            },
        )
    return response


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


@require_GET
@rate_limited("page")
def summary_json(request):
    """Every public service with its status, the active and recent incidents with their public
    updates, and the maintenance windows (JSON, for other dashboards)."""
    language = _language(request)
    with translation.override(language):
        page = selectors.status_page(public=True)
        data = {
            "generated_at": _iso(page.generated_at),
            "status": {"indicator": page.status, "description": page.status_label},
            "services": [
                {"name": s.name, "description": s.description, "status": s.status}
                for s in page.services
            ],
            "incidents": [
                {
                    "id": i.public_id,
                    "title": i.public_title
                    or _("Incident affecting %(service)s") % {"service": i.service_name},
                    "service": i.service_name,
                    "status": i.phase,
                    "impact": i.status,
                    "started_at": _iso(i.started_at),
                    "resolved_at": _iso(i.resolved_at),
                    "updates": [
                        {
                            "status": u.status,
                            "body": u.message(language),
                            "created_at": _iso(u.posted_at),
                        }
                        for u in i.updates
                    ],
                }
                for i in page.incidents
            ],
            "scheduled_maintenances": [
                {
                    "services": m.service_names,
                    "scheduled_for": _iso(m.starts_at),
                    "scheduled_until": _iso(m.ends_at),
                    "in_progress": m.in_progress,
                }
                for m in page.maintenance
            ],
        }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    return _cacheable(response)


@require_GET
@rate_limited("page")
def feed_atom(request):
    """The newest public updates as an Atom feed."""
    language = _language(request)
    with translation.override(language):
        page_url = request.build_absolute_uri(reverse("comms:public"))
        feed = feedgenerator.Atom1Feed(
            title=_("%(portal)s status")
            % {"portal": getattr(settings, "PORTAL_NAME", "ITSM Portal")},
            link=page_url,
            description=_("Incidents and their updates"),
            language=language,
            feed_url=request.build_absolute_uri(),
        )
        for update in selectors.public_feed_updates():
            incident = update.incident
            page = incident.service.status_page
            comms = getattr(incident, "comms", None)
            title = (comms.public_title if comms else "") or _("Incident affecting %(service)s") % {
                "service": page.display_name
            }
            pid = selectors.public_id(incident.pk)
            feed.add_item(
                title=f"[{update.get_status_display()}] {title}",
                link=f"{page_url}#incident-{pid}",
                description=update.message(language),
                pubdate=update.posted_at,
                unique_id=f"{page_url}#update-{pid}-{update.pk}",
                categories=[page.display_name],
            )
        body = feed.writeString("utf-8")
    response = HttpResponse(body, content_type="application/atom+xml; charset=utf-8")
    return _cacheable(response)


@csrf_exempt
@require_http_methods(["POST"])
@rate_limited("subscribe", "STATUS_SUBSCRIBE_RATE_LIMIT", DEFAULT_SUBSCRIBE_LIMIT)
def subscribe(request):
    """Ask for updates by email: a confirmation link is sent (double opt-in)."""
    language = _language(request)
    form = PublicSubscribeForm(request.POST)
    if form.is_valid():
        try:
            services.request_public_subscription(
                email=form.cleaned_data["email"],
                service=form.cleaned_data["service"],
                language=language,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return render(request, "comms/subscription.html", {"state": "sent"})
    with translation.override(language):
        page = selectors.status_page(public=True)
    return render(
        request,
        "comms/status_public.html",
        {"page": page, "language": language, "form": form},
        status=400,
    )


def _link_view(action: str, template_state: str, service):
    @csrf_exempt
    @require_http_methods(["GET", "POST"])
    @rate_limited("link")
    def view(request, token: str):
        """GET asks (mail scanners open links); POST acts. A refused link says why."""
        try:
            sub = services.subscription_for(token, action)
        except services.LinkRefused as exc:
            return render(
                request, "comms/subscription.html", {"error": exc.message}, status=exc.status
            )
        if request.method == "POST":
            try:
                service(token)
            except services.LinkRefused as exc:
                return render(
                    request, "comms/subscription.html", {"error": exc.message}, status=exc.status
                )
            return render(request, "comms/subscription.html", {"state": template_state})
        return render(
            request,
            "comms/subscription.html",
            {"state": f"ask_{action}", "email": sub.email, "scope": sub.scope},
        )

    view.__name__ = action
    return view


confirm = _link_view("confirm", "confirmed", services.confirm_subscription)
unsubscribe = _link_view("unsubscribe", "unsubscribed", services.unsubscribe_by_token)
