"""Each staff group's rights, against the list of issue 16: Support reads everything,
answers tickets and adds internal notes; Billing also decides refunds and contract changes
and grants the switching offer (003); deleting an account is a superuser's, one at a time,
after signing in again."""

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from subscriptions.models import AuditEvent, Invoice, RefundStatus
from subscriptions.services.refunds import refund_request_create
from support import services as support
from tests.conftest import staff_login, staff_reauthenticated
from tests.factories import UserFactory

RIGHTS = {
    # right: (Support, Billing)
    "accounts.view_user": (True, True),
    "subscriptions.view_subscription": (True, True),
    "subscriptions.view_invoice": (True, True),
    "subscriptions.view_paymentattempt": (True, True),
    "subscriptions.view_billingaccount": (True, True),
    "subscriptions.view_auditevent": (True, True),
    "subscriptions.view_refundrequest": (True, True),
    "subscriptions.view_contractchangerequest": (True, True),
    "subscriptions.view_plan": (True, True),
    "subscriptions.view_price": (True, True),
    "legal.view_termsversion": (True, True),
    "privacy.view_dataexport": (True, True),
    "support.view_ticket": (True, True),
    "support.change_ticket": (True, True),  # answer
    "support.add_message": (True, True),
    "support.view_internalnote": (True, True),
    "support.add_internalnote": (True, True),  # issue 16 §5: internal notes
    "support.change_internalnote": (False, False),  # a note is never rewritten
    "support.delete_internalnote": (False, False),
    "subscriptions.decide_refund": (False, True),
    "subscriptions.change_refundrequest": (False, True),
    "subscriptions.review_contract_change": (False, True),
    "subscriptions.change_contractchangerequest": (False, True),
    "subscriptions.change_subscription": (False, True),  # the switching offer (003)
    "accounts.delete_user": (False, False),
    "accounts.change_user": (False, False),
    "subscriptions.change_plan": (False, False),
    "subscriptions.change_price": (False, False),
    "subscriptions.delete_invoice": (False, False),
    "djstripe.view_customer": (False, False),
}


@pytest.mark.parametrize("group", ["Support", "Billing"])
def test_each_group_has_exactly_its_rights(group, staff):
    member = User.objects.get(pk=staff(group).pk)
    column = 0 if group == "Support" else 1
    actual = {right: member.has_perm(right) for right in RIGHTS}
    assert actual == {right: allowed[column] for right, allowed in RIGHTS.items()}


def test_no_group_holds_a_delete_permission(db):
    for group in Group.objects.filter(name__in=["Support", "Billing"]):
        assert not group.permissions.filter(codename__startswith="delete_").exists()


@pytest.fixture
def review(customer, subscribed):
    from datetime import timedelta

    subscribed(customer, "pro", "month", at=timezone.now() - timedelta(days=20))
    invoice = Invoice.objects.get()
    return refund_request_create(
        user=customer, invoice=invoice, reason="service_problem", details="x", now=timezone.now()
    )


@pytest.mark.django_db(transaction=True)
def test_support_reads_a_refund_review_but_cannot_decide_it_billing_can(staff_client, review):
    url = f"/en/admin/subscriptions/refundrequest/{review.pk}/change/"
    client = staff_client("Support")
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="decision"' not in page.content.decode()
    assert client.post(url, {"decision": "approve", "refund_amount": "1.00"}).status_code == 403
    review.refresh_from_db()
    assert review.status == RefundStatus.REVIEW
    client.logout()
    billing = staff_client("Billing")
    assert 'name="decision"' in billing.get(url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_only_billing_is_offered_the_switching_offer(staff_client, customer, subscribed):
    subscribed(customer, "standard", "year", at=timezone.now())
    support_page = staff_client("Support").get("/en/admin/subscriptions/subscription/")
    assert "grant_three_free_months" not in support_page.content.decode()
    billing_page = staff_client("Billing").get("/en/admin/subscriptions/subscription/")
    assert "grant_three_free_months" in billing_page.content.decode()


@pytest.mark.parametrize("group", ["Support", "Billing"])
def test_no_list_offers_to_delete_accounts_and_groups_cannot_delete_one(
    group, staff_client, customer
):
    ticket = support.ticket_create(
        user=customer, category="account_deletion", subject="Bye", body="x", now=timezone.now()
    )
    client = staff_client(group)
    tickets = client.get("/en/admin/support/ticket/").content.decode()
    assert "account_delete" not in tickets
    assert "delete_selected" not in tickets
    assert (
        "account-delete"
        not in client.get(f"/en/admin/support/ticket/{ticket.pk}/change/").content.decode()
    )
    assert client.get(f"/en/admin/accounts/user/{customer.pk}/account-delete/").status_code == 403
    assert client.post(f"/en/admin/support/ticket/{ticket.pk}/account-delete/").status_code == 403
    customer.refresh_from_db()
    assert customer.is_active


@pytest.mark.django_db(transaction=True)
def test_a_superuser_deletes_one_account_after_signing_in_again(client, customer, mailoutbox):
    boss = UserFactory(is_staff=True, is_superuser=True)
    staff_login(client, boss)
    users = client.get("/en/admin/accounts/user/").content.decode()
    assert "delete_selected" not in users
    url = f"/en/admin/accounts/user/{customer.pk}/account-delete/"
    assert url in client.get(f"/en/admin/accounts/user/{customer.pk}/change/").content.decode()
    confirm = client.get(url).content.decode()
    assert f"You are about to delete the account of {customer.email}." in confirm
    assert "keeps their invoices for 10 years stripped of personal data" in confirm
    assert "Yes, delete the account" in confirm

    stale = client.post(url, {"confirmed": "yes"})
    assert stale.status_code == 302
    assert "/reauthenticate/" in stale["Location"]
    customer.refresh_from_db()
    assert customer.is_active

    staff_reauthenticated(client)
    done = client.post(url, {"confirmed": "yes"}, follow=True)
    assert "has been deleted" in done.content.decode()
    customer.refresh_from_db()
    assert not customer.is_active
    assert AuditEvent.objects.get(user=customer, kind="account_deleted").actor == boss
    assert len(mailoutbox) == 1  # the customer's goodbye, to the address they had
