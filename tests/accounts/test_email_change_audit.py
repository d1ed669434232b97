import pytest
from allauth.account.models import EmailAddress
from allauth.account.signals import email_changed

from subscriptions.models import AuditEvent


@pytest.mark.django_db
def test_a_verified_email_change_joins_the_timeline_without_the_addresses(customer):
    old = EmailAddress.objects.get(user=customer)
    new = EmailAddress.objects.create(user=customer, email="new@example.com", verified=True)
    email_changed.send(
        sender=type(customer),
        request=None,
        user=customer,
        from_email_address=old,
        to_email_address=new,
    )
    event = AuditEvent.objects.get(user=customer, kind="profile_updated")
    assert event.data == {"changes": ["email"]}
    assert "new@example.com" not in str(event.data)
