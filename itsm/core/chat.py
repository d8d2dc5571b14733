"""Chat message bodies (team webhooks and personal chat webhooks): a readable card per format,
with the link to the record and, for a page, an "Acknowledge" link.

- Slack (incoming webhook, Block Kit): header, text, context, link buttons; ``text`` fallback.
- Microsoft Teams (a Workflows "post to a channel when a webhook request is received" flow): a
  message with one Adaptive Card 1.4 attachment, ``Action.OpenUrl`` buttons.
- Mattermost (incoming webhook): ``text`` plus a Slack-style attachment with Markdown links.
- Generic: the event as JSON for the receiver's own code.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from .models import ChatFormat

COLORS = {"high": "#dc3545", "low": "#0d6efd"}


@dataclass(frozen=True)
class Card:
    title: str
    body: str
    link: str = ""
    ack_link: str = ""
    urgency: str = ""
    event: str = ""
    message: str = ""
    params: dict | None = None
    created_at: str = ""
    team: str = ""


def _actions(card: Card) -> list[tuple[str, str]]:
    actions = []
    if card.link:
        actions.append((_("Open"), card.link))
    if card.ack_link:
        actions.append((_("Acknowledge"), card.ack_link))
    return actions


def slack(card: Card) -> dict:
    text = f"*{card.title}*" + (f"\n{card.body}" if card.body else "")
    if card.link:
        text += f"\n<{card.link}|{card.link}>"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": card.title[:150]}},
    ]
    if card.body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": card.body[:2900]}})
    if card.urgency:
        label = _("Urgency: high") if card.urgency == "high" else _("Urgency: low")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": label}]})
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "url": url,
            **({"style": "primary"} if url == card.ack_link else {}),
        }
        for label, url in _actions(card)
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": text, "blocks": blocks}


def teams(card: Card) -> dict:
    body = [
        {
            "type": "TextBlock",
            "text": card.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    if card.body:
        body.append({"type": "TextBlock", "text": card.body, "wrap": True})
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": label, "url": url} for label, url in _actions(card)
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": content,
            }
        ],
    }


def mattermost(card: Card) -> dict:
    links = " · ".join(f"[{label}]({url})" for label, url in _actions(card))
    text = "\n\n".join(part for part in (card.body, links) if part)
    return {
        "text": f"**{card.title}**",
        "attachments": [
            {
                "fallback": card.title,
                "color": COLORS.get(card.urgency, "#6c757d"),
                "title": card.title,
                "title_link": card.link or None,
                "text": text,
            }
        ],
    }


def generic(card: Card) -> dict:
    return {
        "event": card.event,
        "message": card.message,
        "params": card.params or {},
        "title": card.title,
        "body": card.body,
        "url": card.link,
        "ack_url": card.ack_link,
        "urgency": card.urgency,
        "team": card.team,
        "created_at": card.created_at,
    }


FORMATS = {
    ChatFormat.SLACK: slack,
    ChatFormat.TEAMS: teams,
    ChatFormat.MATTERMOST: mattermost,
    ChatFormat.GENERIC: generic,
}


def body(fmt: str, card: Card) -> dict:
    return FORMATS.get(fmt, generic)(card)
