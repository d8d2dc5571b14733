"""Create demo data idempotently: one user per role, teams on the escalation ladder, services,
and each app's demo records (``<app>/demo.py: seed(users)``). Refuses to run in production."""

import importlib
import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from itsm.core.models import Service, Team
from itsm.core.roles import Role

DEMO_USERS = [
    # username, role, display name, team slug
    ("operator", Role.OPERATOR, "山田 太郎 (operator)", "ops-l1"),
    ("operator2", Role.OPERATOR, "小林 直樹 (operator)", "ops-l1"),
    ("operator3", Role.OPERATOR, "加藤 由美 (operator)", "ops-l1"),
    ("leader", Role.OPS_LEADER, "佐藤 花子 (ops leader)", "ops-l2"),
    ("manager", Role.OPS_MANAGER, "鈴木 一郎 (ops manager)", "ops-l3"),
    ("developer", Role.DEVELOPER, "高橋 健 (developer)", "dev-l4"),
    ("executive", Role.EXECUTIVE, "田中 誠 (executive)", "exec-l5"),
    ("cab1", Role.CAB_MEMBER, "伊藤 美咲 (CAB)", None),
    ("cab2", Role.CAB_MEMBER, "渡辺 翔 (CAB)", None),
    ("cab3", Role.CAB_MEMBER, "中村 優 (CAB)", None),
    ("admin", Role.ADMIN, "管理者 (admin)", None),
]

TEAMS = [
    ("ops-l1", "運用担当者 L1 / Operators", 1),
    ("ops-l2", "運用リーダー L2 / Ops leaders", 2),
    ("ops-l3", "運用マネージャー L3 / Ops managers", 3),
    ("dev-l4", "開発チーム L4 / Developers", 4),
    ("exec-l5", "経営層 L5 / Executives", 5),
]

SERVICES = [
    ("web-shop", "Web Shop / ECサイト"),
    ("payments", "Payments / 決済"),
    ("member-portal", "Member portal / 会員ポータル"),
]

# Each module's seed(users); order follows the import direction of the apps.
DEMO_MODULES = [
    "oncall.demo",
    "incidents.demo",
    "intake.demo",
    "backups.demo",
    "changes.demo",
    "releases.demo",
    "comms.demo",  # after incidents: the demo P1's roles, updates and subscribers
]


class Command(BaseCommand):
    help = "Create demo users (one per role), teams, services and demo records. Idempotent."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo never runs with ITSM_PRODUCTION=1.")
        password = os.environ.get("DEMO_PASSWORD", "itsm-demo")
        with transaction.atomic():
            teams = {}
            for slug, name, level in TEAMS:
                teams[slug], _ = Team.objects.update_or_create(
                    slug=slug, defaults={"name": name, "escalation_level": level}
                )
            users = {}
            User = get_user_model()
            for username, role, display, team in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={"display_name": display, "email": f"{username}@example.com"},
                )
                if created:
                    user.set_password(password)
                if role == Role.ADMIN:
                    user.is_staff = user.is_superuser = True
                user.save()
                user.groups.add(Group.objects.get(name=role.value))
                if team:
                    teams[team].members.add(user)
                users[username] = user
            for slug, name in SERVICES:
                Service.objects.update_or_create(
                    slug=slug, defaults={"name": name, "owner_team": teams["ops-l2"]}
                )
            for name in DEMO_MODULES:
                importlib.import_module(name).seed(users=users)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password: {password}):"))
        for username, role, _display, _team in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {role.label}")
