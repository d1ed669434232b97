import pytest
from django.contrib.auth.models import Permission
from django.utils import translation

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _english_messages():
    """Service errors are read in English here; pages and e-mails pick their own language."""
    with translation.override("en"):
        yield


@pytest.fixture
def reviewer(db):
    """A staff member allowed to decide contract change requests (000)."""
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="review_contract_change"))
    return type(staff).objects.get(pk=staff.pk)
