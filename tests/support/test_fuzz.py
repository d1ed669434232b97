"""Whatever is typed into the new-ticket form, the answer is a page, never a server error."""

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.models import Ticket

text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=5).map(lambda s: s * 9000),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\u202e", "🙂" * 300, "x" * 200, "x" * 201]),
)
category = st.one_of(
    st.sampled_from(["billing", "technical", "feature_request", "account_deletion"]), text
)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(category=category, subject=text, body=text)
def test_the_new_ticket_form_never_fails_with_a_500(customer_client, category, subject, body):
    cache.clear()  # each example is a first ticket: the hourly limit is tested in test_throttles
    before = Ticket.objects.count()
    response = customer_client.post(
        "/en/account/support/new/", {"category": category, "subject": subject, "body": body}
    )
    assert response.status_code in (302, 400)
    saved = Ticket.objects.count() - before
    assert saved == (1 if response.status_code == 302 else 0)
    if response.status_code == 302:
        ticket = Ticket.objects.latest("pk")
        assert "\x00" not in ticket.subject
        assert len(ticket.subject) <= 200
