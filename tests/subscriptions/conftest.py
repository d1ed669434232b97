import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_messages():
    """Service errors are read in English here; pages and e-mails pick their own language."""
    with translation.override("en"):
        yield
