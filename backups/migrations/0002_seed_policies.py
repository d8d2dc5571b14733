"""Seed §11.2 (backup design), §11.3 (recovery objectives) and §11.4 (DR) as editable data.

The seed leaves storage places, DR site and switchover details as placeholders ([場所], [条件],
[時間]); they become rows with sensible defaults that the operations team edits.
"""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

LOCATIONS = [
    # name, media type, offsite, encrypted, path
    ("オンサイトNAS", "nas", False, True, ""),
    ("テープライブラリ", "tape", False, True, ""),
    ("オフサイト オブジェクトストレージ", "object_storage", True, True, ""),
    ("ポータル ローカルディスク (var/backups)", "disk", False, False, "var/backups"),
]

POLICIES = [
    {
        "slug": "database",
        "name": "データベース",
        "target_kind": "database",
        "method": "full_differential",
        "trigger": "schedule",
        "frequency_label": "日次フル+6時間毎差分",
        "retention_count": 30,
        "retention_unit": "generations",
        "rpo_minutes": 6 * 60,
        "rto_minutes": 4 * 60,
        "locations": ["オンサイトNAS", "テープライブラリ", "オフサイト オブジェクトストレージ"],
        "schedules": [
            ("フルバックアップ", "full", "0 0 * * *", 120),
            ("差分バックアップ", "differential", "0 6,12,18 * * *", 30),
        ],
    },
    {
        "slug": "file-storage",
        "name": "ファイルストレージ",
        "target_kind": "file_storage",
        "method": "full",
        "trigger": "schedule",
        "frequency_label": "日次",
        "retention_count": 7,
        "retention_unit": "generations",
        "rpo_minutes": 24 * 60,
        "rto_minutes": 2 * 60,
        "locations": ["オンサイトNAS", "テープライブラリ", "オフサイト オブジェクトストレージ"],
        "schedules": [("フルバックアップ", "full", "0 2 * * *", 60)],
    },
    {
        "slug": "system-config",
        "name": "システム設定",
        "target_kind": "system_config",
        "method": "full",
        "trigger": "on_change",
        "frequency_label": "変更時",
        "retention_count": 10,
        "retention_unit": "generations",
        "rpo_minutes": None,
        "rto_minutes": None,
        "locations": ["オンサイトNAS", "オフサイト オブジェクトストレージ"],
        "schedules": [],
    },
    {
        "slug": "logs",
        "name": "ログファイル",
        "target_kind": "logs",
        "method": "incremental",
        "trigger": "schedule",
        "frequency_label": "1時間毎",
        "retention_count": 90,
        "retention_unit": "days",
        "rpo_minutes": None,
        "rto_minutes": None,
        "locations": ["オンサイトNAS", "オフサイト オブジェクトストレージ"],
        "schedules": [("増分バックアップ", "incremental", "0 * * * *", 5)],
    },
    {
        "slug": "portal-database",
        "name": "ポータル データベース",
        "target_kind": "portal_database",
        "method": "full",
        "trigger": "schedule",
        "frequency_label": "日次",
        "retention_count": 7,
        "retention_unit": "generations",
        "rpo_minutes": 24 * 60,
        "rto_minutes": 60,
        "encrypt_backups": False,
        "locations": ["ポータル ローカルディスク (var/backups)"],
        "schedules": [("フルバックアップ", "full", "30 3 * * *", 15)],
    },
]

DR_PLAN = {
    "name": "DR計画",
    "has_dr_site": True,
    "dr_site": "",
    "standby_type": "warm",
    "system_rpo_minutes": 24 * 60,
    "system_rto_minutes": 8 * 60,
}
SCENARIOS = [
    (
        "データセンター障害",
        "主データセンターの電源・空調・ネットワーク障害により本番サービスが停止し、"
        "1時間以内の復旧見込みがない",
        "運用マネージャーが影響範囲と復旧見込みを確認し、DRサイトへの切り替えを判断する",
        4 * 60,
    ),
    (
        "リージョン障害",
        "広域災害等によりリージョン全体が利用できない",
        "経営層が事業継続計画に基づき、運用マネージャーの報告を受けて切り替えを決定する",
        8 * 60,
    ),
]


def seed(apps, schema_editor):
    from backups.cron import Cron

    Location = apps.get_model("backups", "StorageLocation")
    Policy = apps.get_model("backups", "BackupPolicy")
    Schedule = apps.get_model("backups", "BackupSchedule")
    DRPlan = apps.get_model("backups", "DRPlan")
    Scenario = apps.get_model("backups", "DRScenario")

    locations = {}
    for name, media, offsite, encrypted, path in LOCATIONS:
        locations[name], _ = Location.objects.get_or_create(
            name=name,
            defaults={"media_type": media, "offsite": offsite, "encrypted": encrypted, "path": path},
        )
    now = timezone.now()
    local_now = timezone.localtime(now)
    for order, spec in enumerate(POLICIES, start=1):
        spec = dict(spec)
        names, schedules = spec.pop("locations"), spec.pop("schedules")
        rpo = spec["rpo_minutes"]
        policy, created = Policy.objects.get_or_create(
            slug=spec.pop("slug"),
            defaults={
                **spec,
                "display_order": order,
                "created_at": now,
                # The first good backup must arrive within one RPO of the policy's creation.
                "rpo_due_at": now + timedelta(minutes=rpo) if rpo else None,
            },
        )
        if not created:
            continue
        policy.locations.set([locations[n] for n in names])
        runs = []
        for label, kind, cron, minutes in schedules:
            Schedule.objects.create(
                policy=policy, label=label, kind=kind, cron=cron, expected_duration_minutes=minutes
            )
            runs.append(Cron.parse(cron).next_after(local_now))
        if policy.target_kind == "portal_database" and runs:
            policy.next_run_at = min(runs)
            policy.save(update_fields=["next_run_at"])
    plan, created = DRPlan.objects.get_or_create(name=DR_PLAN["name"], defaults=DR_PLAN)
    if created:
        for order, (name, condition, decision, minutes) in enumerate(SCENARIOS, start=1):
            Scenario.objects.create(
                plan=plan,
                name=name,
                trigger_condition=condition,
                decision_criteria=decision,
                target_minutes=minutes,
                display_order=order,
            )


class Migration(migrations.Migration):
    dependencies = [("backups", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
