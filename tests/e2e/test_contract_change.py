from playwright.sync_api import expect

from subscriptions.models import ContractChangeRequest, Subscription


def test_a_change_request_under_commitment_is_approved_by_staff_in_the_admin(
    page, settle, login, subscribed_customer, customer, transactional_db, mailoutbox, staff_member
):
    sub = subscribed_customer("standard", "year", language="en")
    login(customer)
    page.goto("/en/account/subscription/")
    settle()
    page.get_by_role("link", name="Send a change request").click()
    settle()
    page.get_by_label("Plan you would like").select_option(label="Premium – €790.00 per year")
    page.get_by_label("Reason", exact=True).fill("We need SMS reminders")
    page.get_by_role("button", name="Send my request").click()
    settle()
    expect(page.get_by_text("is waiting for our review")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    settle()

    login(staff_member("Billing"))
    change = ContractChangeRequest.objects.get()
    page.goto(f"/en/admin/subscriptions/contractchangerequest/{change.pk}/change/")
    settle()
    expect(page.get_by_text("We need SMS reminders")).to_be_visible()
    page.get_by_label("Decision:").select_option("approve")
    page.get_by_label("Reason (required to reject):").fill("Upgrade welcome")
    page.get_by_role("button", name="Save", exact=True).click()
    settle()
    expect(page.get_by_text("The decision is recorded")).to_be_visible()

    assert Subscription.objects.get(pk=sub.pk).plan.code == "premium"
    assert "Your contract change is approved" in [m.subject for m in mailoutbox]
