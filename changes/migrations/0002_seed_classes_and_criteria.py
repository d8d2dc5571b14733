"""Seed data from the standard: the change classes of §9.2 and the rollback criteria of §9.5."""

from django.db import migrations

CLASSES = [
    # code, name, definition, approver role, review path, lead unit, lead amount, order
    ("standard", "標準変更", "手順化済みの低リスク変更", "ops_leader", "auto_approve", "none", 0, 1),
    ("normal", "通常変更", "一般的な変更", "ops_manager", "review", "business_days", 3, 2),
    ("emergency", "緊急変更", "緊急対応が必要な変更", "ops_manager", "emergency_review", "none", 0, 3),
    # 1週間 = five business days on the business calendar (holidays push it out).
    ("major", "重要変更", "高リスクまたは大規模な変更", "cab_member", "cab_review", "business_days", 5, 4),
]

CRITERIA = [
    ("errors_after_change", "変更後の動作確認でエラーが検出された", 1),
    ("slo_degradation", "SLOを下回る性能劣化が発生した", 2),
    ("unexpected_side_effects", "予期しない副作用が発生した", 3),
    ("other", "その他の基準（検証メモに記載）", 4),
]


def seed(apps, schema_editor):
    ChangeClass = apps.get_model("changes", "ChangeClass")
    RollbackCriterion = apps.get_model("changes", "RollbackCriterion")
    for code, name, definition, role, path, unit, amount, order in CLASSES:
        ChangeClass.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "definition": definition,
                "approver_role": role,
                "review_path": path,
                "lead_time_unit": unit,
                "lead_time_amount": amount,
                "exempt_from_freeze": code == "emergency",
                "requires_template": code == "standard",
                "sort_order": order,
            },
        )
    for code, text, order in CRITERIA:
        RollbackCriterion.objects.get_or_create(
            code=code, defaults={"text": text, "sort_order": order}
        )


class Migration(migrations.Migration):
    dependencies = [("changes", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
