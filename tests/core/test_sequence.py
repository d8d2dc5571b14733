"""Human-readable numbers (INC-000123): one counter per prefix, no gaps, no doubles."""

import threading

import pytest
from django.db import connection

from itsm.core.models import Sequence

pytestmark = pytest.mark.django_db


def test_a_new_series_starts_at_one_and_counts_without_gaps():
    assert [Sequence.next_value("TST") for _ in range(3)] == [1, 2, 3]
    assert Sequence.next_value("OTH") == 1  # series are independent
    assert Sequence.objects.get(name="TST").value == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_callers_get_distinct_numbers_even_for_a_new_series():
    values, errors = [], []

    def take():
        try:
            values.extend(Sequence.next_value("PAR") for _ in range(10))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(values) == list(range(1, 41))
