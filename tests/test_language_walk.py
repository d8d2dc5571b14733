"""Walk the main pages in Japanese and English with the demo data (issue 14 §5, §6).

Fails on a raw identifier in visible text (``start_response``, ``update_whys``), on Japanese
in the English pages' chrome (user data — titles, descriptions, names, comments — may be in
any language and is left out by comparing against the records), and on a form control the
portal's form rendering did not style.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django.urls import reverse
from django.utils.translation import get_language_info

from tests.html_checks import unstyled_controls

pytestmark = pytest.mark.django_db

RAW_IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
SKIP_TAGS = {"script", "style", "code", "pre", "textarea", "template"}
# Models whose text is chrome stored as data: their words must follow the reader's language,
# so they are *not* user content.
NOT_USER_DATA = {
    "core.notification",  # rendered from a message code
    "core.auditevent",  # codes; only the comment is a person's words (added below)
    "changes.changeclass",
    "changes.rollbackcriterion",
}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.chunks.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.chunks


def user_data_strings() -> list[str]:
    """Every free-text value people typed or the demo wrote as records (lines of it too)."""
    found: set[str] = set()
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in NOT_USER_DATA or model._meta.app_label in ("auth", "contenttypes", "admin"):
            continue
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField) and not f.choices
        ]
        if not fields:
            continue
        for row in model.objects.values_list(*fields):
            for value in row:
                if value:
                    found.add(str(value))
    from itsm.core.models import AuditEvent

    found.update(AuditEvent.objects.exclude(comment="").values_list("comment", flat=True))
    lines = {line.strip() for text in found for line in text.splitlines() if line.strip()}
    return sorted(found | lines, key=len, reverse=True)


def chrome_of(chunk: str, data: list[str]) -> str:
    """The chunk without the user data in it (a truncated value ends with '…')."""
    for value in data:
        if value in chunk:
            chunk = chunk.replace(value, " ")
    if chunk.endswith("…"):
        head = chunk[:-1].strip()
        if head and any(v.startswith(head) for v in data):
            return ""
    return chunk


def _pages(client, admin) -> list[str]:
    from backups.models import BackupJob
    from changes.models import ChangeRequest
    from incidents.models import Incident, Postmortem
    from releases.models import Release

    urls = [
        reverse("home"),
        reverse("incidents:list"),
        reverse("incidents:create"),
        reverse("incidents:postmortems"),
        reverse("changes:list"),
        reverse("changes:approvals"),
        reverse("releases:list"),
        reverse("backups:list"),
        reverse("backups:board"),
        reverse("backups:restore_tests"),
        reverse("backups:dr"),
        reverse("dashboard"),
        reverse("core:notifications"),
    ]

    def one_per_state(queryset, field="state"):
        seen, picked = set(), []
        for obj in queryset.order_by("pk"):
            if getattr(obj, field) not in seen:
                seen.add(getattr(obj, field))
                picked.append(obj)
        return picked

    urls += [i.get_absolute_url() for i in one_per_state(Incident.objects.all())]
    urls += [
        reverse("incidents:triage", args=[i.number])
        for i in Incident.objects.filter(state="detected")[:1]
    ]
    urls += [p.get_absolute_url() for p in one_per_state(Postmortem.objects.all())]
    urls += [c.get_absolute_url() for c in one_per_state(ChangeRequest.objects.all())]
    urls += [r.get_absolute_url() for r in one_per_state(Release.objects.all())]
    urls += [j.get_absolute_url() for j in BackupJob.objects.order_by("-pk")[:2]]
    return urls


def test_every_main_page_speaks_the_readers_language_and_styles_its_forms(
    client, demo_clock, django_user_model
):
    call_command("seed_demo", verbosity=0)
    from itsm.core.models import Notification

    admin = django_user_model.objects.filter(is_superuser=True).order_by("pk").first()
    # Read as the person with the most notifications, with every permission.
    top = (
        Notification.objects.filter(channel="in_app")
        .values("recipient")
        .annotate(n=models.Count("id"))
        .order_by("-n")
        .first()
    )
    reader = django_user_model.objects.get(pk=top["recipient"]) if top else admin
    reader.is_superuser = True
    reader.save(update_fields=["is_superuser"])
    data = user_data_strings()
    # The language switch names each language in itself (日本語 stays 日本語 in English).
    endonyms = {get_language_info(code)["name_local"] for code, _name in settings.LANGUAGES}
    urls = _pages(client, reader)
    problems = []
    for language in ("ja", "en"):
        reader.language = language
        reader.save(update_fields=["language"])
        client.force_login(reader)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (language, url, response.status_code)
            html = response.content.decode()
            for control in unstyled_controls(html):
                problems.append(f"{language} {url}: unstyled {control}")
            for chunk in visible_text(html):
                if chunk in endonyms:
                    continue
                chrome = chrome_of(chunk, data)
                for raw in RAW_IDENTIFIER.findall(chrome):
                    problems.append(f"{language} {url}: raw identifier {raw!r} in {chunk[:80]!r}")
                if language == "en" and JAPANESE.search(chrome):
                    problems.append(f"en {url}: Japanese in {chunk[:80]!r}")
    problems = list(dict.fromkeys(problems))
    assert not problems, "\n".join(problems[:80]) + f"\n({len(problems)} problems)"
