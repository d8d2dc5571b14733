"""The API fuzzed against its own OpenAPI schema (DESIGN.md "Reliability and security").

schemathesis loads ``/api/schema/`` from the Django app in-process (WSGI) and, authenticated as an
administrator's Bearer token, sends generated requests to every operation — positive and
negative data, with path parameters drawn from seeded records as well as random ones — then
runs the stateful phase, which chains operations through the links schemathesis infers from the
schema (create an incident, then read, patch and transition it …). Every response must be no
5xx, carry a documented status code and content type, and match the documented body schema.

Reproducible: Hypothesis is derandomized and its example database is off. It runs in
``make test``; alone with ``make test PYTEST_ARGS="-m fuzz"`` (see docs/api.md, "Fuzzing the API").
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from itsm.core.models import ApiToken
from itsm.core.roles import Role

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation (79 of them): enough to hit every parameter and the seeded records; the whole
# test stays around a minute on two cores.
EXAMPLES_PER_OPERATION = 8
STATEFUL_SCENARIOS = 20
SETTINGS = {
    "deadline": None,
    "database": None,  # no example database: every run is the same run
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
    "phases": [Phase.explicit, Phase.generate],
}


@contextmanager
def in_process_requests():
    """Requests share the test's database connection (and its transaction), as Django's test
    client arranges: the WSGI handler must not close the connection after each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def seed() -> dict[str, dict[str, list]]:
    """Records for the operations to hit: resource → path parameter → values."""
    from backups.models import BackupPolicy
    from incidents import services as incident_services
    from itsm.dashboard import FAMILIES
    from releases.models import Deployment, Environment, ReleaseSlot
    from tests.backups.factories import BackupJobFactory, RestoreTestFactory
    from tests.changes.factories import (
        ChangeRequestFactory,
        FreezeWindowFactory,
        StandardChangeTemplateFactory,
    )
    from tests.factories import UserFactory
    from tests.incidents.conftest import advance
    from tests.releases.factories import release_in

    leader = UserFactory(username="fuzz-leader", role=Role.OPS_LEADER)
    detected = incident_services.open_incident(title="Checkout 500", source="user_report")
    working = incident_services.open_incident(
        title="Slow search", priority="P3", source="monitoring"
    )
    advance(working, "start_response")
    urgent = incident_services.open_incident(title="Login down", priority="P1", source="monitoring")
    advance(urgent, "start_response", "start_recovery", "verify")
    incident_services.close_incident(urgent, actor=leader, resolution_summary="Failover")
    postmortem = urgent.postmortem
    item = incident_services.add_action_item(postmortem, actor=leader, title="Autosize pools")
    changes = [ChangeRequestFactory(), ChangeRequestFactory(state="approved")]
    releases = [release_in("planned"), release_in("staging")]
    environment = Environment.objects.order_by("id").first()
    deployment = Deployment.objects.create(
        release=releases[1],
        environment=environment,
        version=releases[1].version,
        result="succeeded",
        reported_by=leader,
        started_at=timezone.now() - timezone.timedelta(minutes=10),
        finished_at=timezone.now(),
    )
    policy = BackupPolicy.objects.order_by("id").first()
    return {
        "incidents": {"number": [detected.number, working.number, urgent.number]},
        "postmortems": {"number": [postmortem.number], "item_id": [item.pk]},
        "changes": {"number": [c.number for c in changes]},
        "change-templates": {"id": [StandardChangeTemplateFactory().pk]},
        "freeze-windows": {"id": [FreezeWindowFactory().pk]},
        "releases": {"number": [r.number for r in releases]},
        "release-slots": {"id": list(ReleaseSlot.objects.values_list("id", flat=True)[:2])},
        "environments": {"code": list(Environment.objects.values_list("code", flat=True)[:2])},
        "deployments": {"id": [deployment.pk]},
        "backup-policies": {"slug": [policy.slug]},
        "backup-jobs": {"number": [BackupJobFactory(policy=policy, state="running").number]},
        "restore-tests": {"number": [RestoreTestFactory(policy=policy).number]},
        "metrics": {"family": list(FAMILIES)},
    }


def strategy_for(operation, known: dict[str, dict[str, list]]):
    """Generated cases for ``operation``: random ones (positive and negative), and positive ones
    whose path parameters name seeded records."""
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    names = [p.name for p in operation.path_parameters]
    resource = operation.path.removeprefix("/api/v1/").split("/")[0]
    values = known.get(resource, {})
    if names and all(values.get(n) for n in names):
        for combo in itertools.product(*(values[n] for n in names)):
            strategies.append(
                operation.as_strategy(path_parameters=dict(zip(names, combo, strict=True)))
            )
    return st.one_of(strategies)


@pytest.fixture
def api(make_user):
    """The live app's schema and the Bearer header of an administrator."""
    admin = make_user(Role.ADMIN, username="fuzz-admin")
    _token, raw = ApiToken.issue(admin, name="fuzz", scope=ApiToken.Scope.WRITE)
    with in_process_requests():
        schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
        # The test-only app of tests/settings.py is not part of the portal's API.
        yield schema.exclude(path_regex="^/api/test/"), {"Authorization": f"Bearer {raw}"}


def call(case, headers):
    """One request in a savepoint that is rolled back: every example starts from the seed."""
    sid = transaction.savepoint()
    try:
        response = case.call(headers=headers)
    finally:
        transaction.savepoint_rollback(sid)
    case.validate_response(response, checks=CHECKS, headers=headers)


def test_every_operation_answers_within_its_schema(api):
    schema, headers = api
    known = seed()
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES_PER_OPERATION, **SETTINGS)
        @given(case=strategy_for(operation, known))
        def fuzz(case):
            call(case, headers)

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:  # report every operation at the end
            failures.append(f"{operation.label}\n{exc}")
    assert operations >= 79
    assert not failures, "\n\n".join(failures)


def test_stateful_sequences_answer_within_the_schema(api):
    """The stateful phase: schemathesis chains operations along the links it infers (a created
    record's number feeds the operations on it) and checks every response in the chain."""
    schema, headers = api
    seed()
    base = schema.as_state_machine()

    class Scenarios(base):
        def setup(self):
            # Every scenario starts from the seed, so a replayed scenario sees the same API.
            self.scenario_savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.scenario_savepoint)

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def call(self, case, **kwargs):
            # Steps build on each other; a 5xx (reported by the checks) must not leave the
            # test's transaction aborted for the steps after it.
            sid = transaction.savepoint()
            response = case.call(**kwargs)
            if response.status_code >= 500:
                transaction.savepoint_rollback(sid)
            else:
                transaction.savepoint_commit(sid)
            return response

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, headers=headers)

    Scenarios.run(
        settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=6, **SETTINGS)
    )
