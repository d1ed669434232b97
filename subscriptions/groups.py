"""The staff groups: support answers customers; billing also decides money (refunds,
contract changes). Created after every migrate, so new permissions join their group."""

from typing import Any

from django.contrib.auth.models import Group, Permission

SUPPORT = "Support"
BILLING = "Billing"

# Support reads everything, answers tickets and adds internal notes; nobody in a group
# deletes anything (an account is deleted by a superuser who signs in again, never from a
# list).
VIEW = [
    "accounts.view_user",
    "subscriptions.view_plan",
    "subscriptions.view_price",
    "subscriptions.view_subscription",
    "subscriptions.view_invoice",
    "subscriptions.view_exchangerate",
    "subscriptions.view_paymentattempt",
    "subscriptions.view_billingaccount",
    "subscriptions.view_auditevent",
    "subscriptions.view_refundrequest",
    "subscriptions.view_contractchangerequest",
    "support.view_ticket",
    "support.change_ticket",
    "support.view_message",
    "support.add_message",
    # Issue 16 §5: both groups leave internal notes on a customer or a ticket.
    "support.view_internalnote",
    "support.add_internalnote",
    "legal.view_termsversion",
    "legal.view_termsseen",
    "privacy.view_dataexport",
]
GROUPS = {
    SUPPORT: VIEW,
    BILLING: [
        *VIEW,
        "subscriptions.decide_refund",
        "subscriptions.change_refundrequest",
        "subscriptions.review_contract_change",
        "subscriptions.change_contractchangerequest",
        # 003: the switching offer is granted from the subscription list.
        "subscriptions.change_subscription",
        # CGI art. 242 nonies A: the rates to euros foreign-currency invoices state.
        "subscriptions.add_exchangerate",
        "subscriptions.change_exchangerate",
    ],
}


def staff_groups_ensure(**kwargs: Any) -> None:
    for name, codes in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted: list[Permission] = []
        for code in codes:
            app_label, codename = code.split(".")
            wanted.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.add(*wanted)
