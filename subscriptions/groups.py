"""The staff groups: support answers customers; billing also decides money (refunds,
contract changes). Created after every migrate, so new permissions join their group."""

from typing import Any

from django.contrib.auth.models import Group, Permission

SUPPORT = "Support"
BILLING = "Billing"

VIEW = [
    "accounts.view_user",
    "subscriptions.view_subscription",
    "subscriptions.view_invoice",
    "subscriptions.view_paymentattempt",
    "subscriptions.view_auditevent",
    "subscriptions.view_refundrequest",
    "subscriptions.view_contractchangerequest",
    "support.view_ticket",
    "support.change_ticket",
    "support.view_message",
    "support.add_message",
    "legal.view_termsversion",
]
GROUPS = {
    SUPPORT: VIEW,
    BILLING: [
        *VIEW,
        "subscriptions.decide_refund",
        "subscriptions.change_refundrequest",
        "subscriptions.review_contract_change",
        "subscriptions.change_contractchangerequest",
        "subscriptions.view_billingaccount",
        "subscriptions.change_subscription",
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
