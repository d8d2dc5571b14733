"""HTML checks shared by the form-rendering and language walkers (issue 14 §5, §6)."""

from __future__ import annotations

from html.parser import HTMLParser

BOOTSTRAP_CONTROL_CLASSES = {
    "form-control",
    "form-select",
    "form-check-input",
    "btn-check",  # a radio/checkbox drawn as a button (the triage matrix)
    "form-range",
}
_UNSTYLED_OK_TYPES = {"hidden", "submit", "button", "reset", "image"}


class _Controls(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.controls: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("input", "select", "textarea"):
            self.controls.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def form_controls(html: str) -> list[tuple[str, dict]]:
    parser = _Controls()
    parser.feed(html)
    return parser.controls


def unstyled_controls(html: str) -> list[str]:
    """Every visible input/select/textarea that has no Bootstrap form class, as a short
    description (``input name=title``)."""
    bad = []
    for tag, attrs in form_controls(html):
        if tag == "input" and (attrs.get("type") or "text").lower() in _UNSTYLED_OK_TYPES:
            continue
        classes = set((attrs.get("class") or "").split())
        if not classes & BOOTSTRAP_CONTROL_CLASSES:
            bad.append(f"{tag} name={attrs.get('name')} id={attrs.get('id')}")
    return bad
