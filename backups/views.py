"""Backup & recovery screens (§11): policy table with compliance and the 24-hour timeline,
policy detail with job history, restore tests and the DR plan."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import selectors, services
from .choices import RPO_STATUS_COLORS, RpoStatus
from .forms import DRDrillForm, RestoreTestPlanForm
from .models import BackupJob, DRPlan, RestoreTest


def _policy_rows(policy_list):
    now = timezone.now()
    rows = []
    for policy in policy_list:
        status = policy.rpo_status(now)
        rows.append(
            {
                "policy": policy,
                "three_two_one": policy.three_two_one(),
                "encryption": policy.encryption(),
                "rpo_status": status,
                "rpo_label": RpoStatus(status).label,
                "rpo_color": RPO_STATUS_COLORS[status],
                "age": now - policy.last_success_at if policy.last_success_at else None,
            }
        )
    return rows


@login_required
@permission_required("backups.view_backuppolicy", raise_exception=True)
def policy_list(request):
    policy_list = list(selectors.policies())
    return render(
        request,
        "backups/policy_list.html",
        {
            "rows": _policy_rows(policy_list),
            "timeline": selectors.timeline(policy_list),
            "hours": range(0, 25, 3),
            "today": timezone.localdate(),
            "overdue_tests": selectors.overdue_restore_tests()[:10],
            "overdue_drills": selectors.overdue_dr_drills()[:10],
        },
    )


@login_required
@permission_required("backups.view_backuppolicy", raise_exception=True)
def policy_detail(request, slug):
    policy = get_object_or_404(selectors.policies(), slug=slug)
    (row,) = _policy_rows([policy])
    jobs = list(selectors.recent_jobs(policy))
    chart = selectors.duration_chart(jobs)
    return render(
        request,
        "backups/policy_detail.html",
        {
            "row": row,
            "policy": policy,
            "jobs": jobs,
            "timeline": selectors.timeline([policy]),
            "hours": range(0, 25, 3),
            "breaches": policy.rpo_breaches.select_related("incident")[:10],
            "restore_tests": policy.restore_tests.order_by("-due_on")[:10],
            "chart": chart,
            "chart_rows": selectors.duration_rows(chart),
            "kept": sum(1 for j in jobs if j.state in BackupJob.GOOD_STATES),
        },
    )


@login_required
@permission_required("backups.view_backuppolicy", raise_exception=True)
def rpo_rto_board(request):
    """§11.3 RPO/RTO: each target's objectives against its last backup and last restore."""
    return render(request, "backups/board.html", {"rows": selectors.rpo_rto_board()})


@login_required
@permission_required("backups.view_backupjob", raise_exception=True)
def job_detail(request, number):
    job = get_object_or_404(BackupJob.objects.select_related("policy"), number=number)
    return render(request, "backups/job_detail.html", {"job": job})


@login_required
@permission_required("backups.view_restoretest", raise_exception=True)
def restore_test_list(request):
    tests = RestoreTest.objects.select_related("policy").order_by("-due_on", "-id")[:200]
    return render(request, "backups/restore_test_list.html", {"tests": tests})


@login_required
@permission_required("backups.view_restoretest", raise_exception=True)
def restore_test_detail(request, number):
    test = get_object_or_404(
        RestoreTest.objects.select_related(
            "policy", "backup_job", "performed_by", "rto_exception_by"
        ),
        number=number,
    )
    return render(request, "backups/restore_test_detail.html", {"test": test})


@login_required
@permission_required("backups.view_drplan", raise_exception=True)
def dr_plans(request):
    plans = DRPlan.objects.select_related("owner").prefetch_related(
        "scenarios__drills__conducted_by"
    )
    return render(request, "backups/dr.html", {"plans": plans})


@login_required
@permission_required("backups.add_restoretest", raise_exception=True)
def restore_test_plan(request):
    """§11.3 リカバリテスト: plan a restore test (besides the quarterly one planned by beat)."""
    initial = {}
    policy = selectors.policies().filter(slug=request.GET.get("policy", "")).first()
    if policy is not None:
        initial["policy"] = policy.pk
    form = RestoreTestPlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        test = services.plan_restore_test(
            data["policy"],
            due_on=data["due_on"],
            target=data["target"],
            success_criteria=data["success_criteria"],
            actor=request.user,
        )
        messages.success(request, _("%(number)s planned.") % {"number": test.number})
        return redirect(test)
    return render(
        request,
        "backups/restore_test_form.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required("backups.add_drdrill", raise_exception=True)
def drill_record(request):
    """§11.4: record a DR drill that was held."""
    initial = {"held_on": timezone.localdate()}
    scenario = request.GET.get("scenario", "")
    if scenario.isdigit():
        initial["scenario"] = int(scenario)
    form = DRDrillForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        drill = services.record_dr_drill(
            data["scenario"],
            held_on=data["held_on"],
            result=data["result"],
            measured_minutes=data["measured_minutes"],
            findings=data["findings"],
            actor=request.user,
        )
        messages.success(
            request,
            _("Drill of %(scenario)s on %(date)s recorded.")
            % {"scenario": drill.scenario.name, "date": drill.held_on.isoformat()},
        )
        return redirect(f"{reverse('backups:dr')}#scenario-{drill.scenario_id}")
    return render(
        request, "backups/drill_form.html", {"form": form}, status=400 if form.errors else 200
    )
