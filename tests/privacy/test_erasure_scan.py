"""001, issue 13: after an account deletion, no table, file or log holds the customer's e-mail,
name, address, IP or free text.

Every model Django knows (ours, dj-stripe's, allauth's, the admin log, sessions: found by
`apps.get_models()`, so a model added later is filled too) gets rows that belong to the
customer, with a marker in every column that can hold one. The account is then deleted
through the real page, and every column of every table (read with raw SQL over the
database's own list of tables) and every file under MEDIA_ROOT is scanned for the markers.
A second customer, filled the same way with their own markers, must keep every one of them.
"""

import contextlib
import datetime
import decimal
import hashlib
import hmac
import itertools
import json
import logging
import time
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from djstripe.models import Customer as StripeCustomer
from djstripe.models import Event, WebhookEndpoint, WebhookEventTrigger
from djstripe.models import PaymentMethod as StripePaymentMethod

from accounts.models import User
from privacy import erasure, services
from privacy.inventory import is_project_app
from subscriptions.models import (
    BillingAccount,
    CreditNote,
    ExchangeRate,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services.billing import billing_run
from subscriptions.services.trials import trial_start
from tests.factories import UserFactory
from tests.privacy.conftest import PERSONAL, reauthenticate

pytestmark = pytest.mark.django_db(transaction=True)

DELETE_PAGE = "/en/account/data/delete/"
WEBHOOK_SECRET = "whsec_test_erasure"

# The deleted customer's values. The postal code is left out of the scan: five digits also
# occur inside timestamps and amounts.
IP = "203.0.113.77"
FREE_TEXT = "Brindille la tortue préfère les kumquats confits"
MARKERS = {
    "email": PERSONAL["email"],
    "name": PERSONAL["name"],
    "company": PERSONAL["company"],
    "address_line1": PERSONAL["address_line1"],
    "address_line2": PERSONAL["address_line2"],
    "city": PERSONAL["city"],
    "ip": IP,
    "free_text": FREE_TEXT,
}
# The other customer's, which must all survive.
OTHER = {
    "email": "aurelien.marchetti-vidal@example.net",
    "name": "Aurélien Marchetti-Vidal",
    "company": "Cordonnerie Marchetti",
    "address_line1": "3 ruelle des Ormeaux-Bleus",
    "address_line2": "Résidence Pervenche, porte K",
    "city": "Saint-Véran-les-Alpages",
    "ip": "198.51.100.23",
    "free_text": "Mon perroquet récite du Verlaine le dimanche",
}

# Columns that hold no personal value by construction, so the fill leaves them neutral.
# Adding a column here is a decision to review: everything else gets a marker.
NOT_PERSONAL = {
    # Kept for 10 years as issued (legal retention): the seller is the vendor, the lines say
    # what was sold; the buyer is the one personal part, and it is filled.
    "subscriptions.Invoice": {"seller", "language", "retries_scheduled"},
    "subscriptions.InvoiceLine": {"description"},
    "subscriptions.CreditNote": {"seller", "language"},
    "subscriptions.CreditNoteLine": {"description"},
    # The vendor's catalog and terms, written by staff and shown to every customer.
    "subscriptions.Plan": {"name_en", "name_fr", "description_en", "description_fr", "features"},
    "legal.TermsVersion": {"body_fr", "body_en"},
}


# Shared by both customers' fills: unique columns never collide.
COUNTER = itertools.count(10_000)


class Filler:
    """Rows for one customer in every model, a marker in every column that can hold one."""

    def __init__(self, user, markers, stripe_customer):
        self.user = user
        self.markers = markers
        self.stripe_customer = stripe_customer
        self.counter = COUNTER
        self.made = {}
        self.media = []

    @property
    def sentence(self):
        m = self.markers
        return (
            f"{m['name']} <{m['email']}>, {m['company']}, {m['address_line1']}, "
            f"{m['address_line2']}, {m['city']}, IP {m['ip']}. {m['free_text']}"
        )

    @property
    def document(self):
        m = self.markers
        return {
            "customer": self.stripe_customer.id,
            "email": m["email"],
            "name": m["name"],
            "description": m["free_text"],
            "address": {"line1": m["address_line1"], "line2": m["address_line2"]},
            "city": m["city"],
            "ip_address": m["ip"],
            "nested": [{"note": self.sentence}],
        }

    def text(self, field):
        limit = field.max_length or 10_000
        if field.unique or field.primary_key:
            value = f"{self.markers['email']}#{next(self.counter)}"
            if isinstance(field, models.EmailField) and len(value) <= limit:
                return value
            return uuid.uuid4().hex[:limit]
        if len(self.sentence) <= limit:
            return self.sentence
        for key in ("email", "name", "address_line1", "company", "city", "ip"):
            if len(self.markers[key]) <= limit:
                return self.markers[key]
        return "x"[:limit]

    def value(self, model, field):
        neutral = field.name in NOT_PERSONAL.get(model._meta.label, set())
        if field.choices:
            return field.choices[0][0]
        if isinstance(field, models.GenericIPAddressField):
            return self.markers["ip"]
        if isinstance(field, models.JSONField):
            return {} if neutral else self.document
        if isinstance(field, models.FileField):
            return None  # saved after the row, with the file's content
        if isinstance(field, models.CharField | models.TextField):
            if neutral:
                return f"n{next(self.counter)}"[: field.max_length or 10]
            return self.text(field)
        if field.has_default():
            return field.get_default()
        if field.null:
            return None
        if isinstance(field, models.BooleanField):
            return False
        if isinstance(field, models.DateTimeField):
            return timezone.now()
        if isinstance(field, models.DateField):
            return timezone.now().date()
        if isinstance(field, models.DurationField):
            return datetime.timedelta(hours=1)
        if isinstance(field, models.DecimalField):
            return decimal.Decimal(1)
        if isinstance(field, models.UUIDField):
            return uuid.uuid4()
        if isinstance(field, models.IntegerField | models.FloatField):
            return next(self.counter)
        raise AssertionError(f"no value for {model._meta.label}.{field.name}")

    def row(self, model):
        if model in self.made:
            return self.made[model]
        if model is User:
            return self.user
        if model is StripeCustomer:
            return self.stripe_customer
        self.made[model] = None  # a cycle ends on a null key
        values = {}
        for field in model._meta.concrete_fields:
            if field.primary_key and isinstance(field, models.AutoField):
                continue
            if field.is_relation:
                related = field.related_model
                if field.null and related not in (User, StripeCustomer):
                    values[field.attname] = None
                else:
                    target = self.row(related)
                    values[field.attname] = getattr(target, field.target_field.attname)
                continue
            values[field.attname] = self.value(model, field)
        if model is CreditNote:  # its check constraints: a positive total that adds up
            values.update(subtotal=100, tax=20, total=120)
        if model is ExchangeRate:  # its check constraint: a rate is for a currency not the euro
            values.update(currency="USD")
        obj = model(**values)
        try:
            # Raw, as a migration or a sync would write it: no save() logic, no signals.
            with transaction.atomic():
                model._base_manager.bulk_create([obj])
        except IntegrityError:
            # One row per customer (their billing account), or one for everybody (a day's
            # exchange rate): the real flow, or the other customer's fill, made it already.
            rows = model._base_manager.all()
            if any(field.name == "user" for field in model._meta.fields):
                rows = rows.filter(user=self.user)
            obj = rows.get()
            self.made[model] = obj
            return obj
        if obj.pk is None:
            obj = model._base_manager.order_by("-pk").first()
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                name = f"{self.markers['name']} {self.markers['email']}.txt"
                getattr(obj, field.attname).save(name, ContentFile(self.sentence.encode()))
                self.media.append(getattr(obj, field.attname).path)
        self.made[model] = obj
        return obj

    def fill(self, *, installed_only=False):
        for model in apps.get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            if installed_only and is_project_app(model._meta.app_config):
                continue
            self.row(model)
        return self


def stripe_customer_for(user):
    billing = BillingAccount.objects.get(user=user)
    return StripeCustomer.objects.create(
        id=billing.stripe_customer_id,
        livemode=False,
        subscriber=user,
        email=user.email,
        stripe_data={"id": billing.stripe_customer_id, "email": user.email, "name": user.name},
    )


def _values(raw):
    if raw is None:
        return []
    text = bytes(raw).decode("latin-1") if isinstance(raw, bytes | memoryview) else str(raw)
    texts = [text]
    # JSON stored with \\u escapes (SQLite) is read as the values it holds.
    with contextlib.suppress(ValueError, TypeError):
        texts.append(json.dumps(json.loads(text), ensure_ascii=False))
    return texts


def database_scan(markers):
    """(table, column, marker name) for every marker found in any column of any table."""
    found = set()
    lowered = {key: value.lower() for key, value in markers.items()}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            # Names read from the database itself, quoted.
            select = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)}"  # noqa: S608
            cursor.execute(select)
            for row in cursor.fetchall():
                for column, raw in zip(columns, row, strict=True):
                    for text in _values(raw):
                        low = text.lower()
                        found.update(
                            (table, column, key) for key, value in lowered.items() if value in low
                        )
    return found


def media_scan(markers):
    """(relative path, marker name) for every marker in a file's name or content."""
    found = set()
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return found
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        text = (
            str(path.relative_to(root)) + "\n" + path.read_bytes().decode("utf-8", "replace")
        ).lower()
        found.update(
            (str(path.relative_to(root)), key)
            for key, value in markers.items()
            if value.lower() in text
        )
    return found


def personal_values_left(markers, caplog=None):
    left = {(t, c, k) for t, c, k in database_scan(markers)}
    left |= {("MEDIA_ROOT", p, k) for p, k in media_scan(markers)}
    if caplog is not None:
        left |= {
            ("log", record.name, key)
            for record in caplog.records
            for key, value in markers.items()
            if value.lower() in record.getMessage().lower()
        }
    return left


@pytest.fixture
def endpoint(db):
    return WebhookEndpoint.objects.create(
        id="we_erasure",
        livemode=False,
        secret=WEBHOOK_SECRET,
        url="http://testserver/",
        status="enabled",
        enabled_events=["*"],
        api_version="2024-04-10",
    )


def deliver(client, endpoint, event_type, obj, previous=None):
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    payload = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:14]}",
            "object": "event",
            "api_version": "2024-04-10",
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": data,
        }
    )
    stamp = int(time.time())
    signature = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256)
    return client.post(
        f"/stripe/webhook/{endpoint.djstripe_uuid}/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={stamp},v1={signature.hexdigest()}",
        REMOTE_ADDR=IP,
    )


@pytest.fixture
def two_customers(person, add_card, stripe_server):
    """The customer to delete and another one, both with a card (a Stripe customer)."""
    other = UserFactory(
        email=OTHER["email"],
        name=OTHER["name"],
        company=OTHER["company"],
        address_line1=OTHER["address_line1"],
        address_line2=OTHER["address_line2"],
        city=OTHER["city"],
    )
    add_card(person)
    add_card(other)
    return person, other


def delete_through_the_page(client, user):
    client.force_login(user)
    reauthenticate(client)
    response = client.post(DELETE_PAGE, {"confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == "/en/account/data/deleted/"


def test_no_personal_value_is_left_in_any_table_file_or_log_and_the_other_customer_keeps_all(
    two_customers, client, mailoutbox, caplog
):
    person, other = two_customers
    mine = Filler(person, MARKERS, stripe_customer_for(person)).fill()
    theirs = Filler(other, OTHER, stripe_customer_for(other)).fill()
    before = personal_values_left(MARKERS)
    other_before = personal_values_left(OTHER)
    # The fill reached every model: each table has a row, and each marker kind is stored.
    tables = set(connection.introspection.table_names())
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            assert model._meta.db_table in tables
            assert model._base_manager.exists(), model._meta.label
    assert {key for _, _, key in before} == set(MARKERS)
    assert len({table for table, _, _ in before}) >= 60
    assert mine.media
    assert theirs.media

    caplog.set_level(logging.DEBUG)
    delete_through_the_page(client, person)

    left = personal_values_left(MARKERS, caplog)
    assert sorted(left) == []
    # Nothing of the other customer went with it, but the accountant's zips: they copy every
    # customer's invoices as issued, so a deletion drops them (staff export again).
    shared = {hit for hit in other_before if hit[1].startswith("private/accounting/")}
    assert personal_values_left(OTHER) == other_before - shared
    other.refresh_from_db()
    assert other.is_active
    assert other.email == OTHER["email"]
    assert BillingAccount.objects.get(user=other).stripe_customer_id


def test_stripe_events_about_the_erased_customer_that_arrive_afterwards_store_nothing_personal(
    two_customers, client, endpoint, mailoutbox, caplog
):
    person, other = two_customers
    billing = BillingAccount.objects.get(user=person)
    customer_id, payment_method_id = billing.stripe_customer_id, billing.payment_method_id
    stripe_customer = stripe_customer_for(person)
    old_card_id = "pm_1OldCardReplacedLongAgo"
    StripePaymentMethod.objects.create(
        id=old_card_id,
        livemode=False,
        customer=stripe_customer,
        stripe_data={"id": old_card_id, "customer": customer_id, "type": "card"},
    )
    delete_through_the_page(client, person)
    assert personal_values_left(MARKERS) == set()
    address = {
        "line1": MARKERS["address_line1"],
        "line2": MARKERS["address_line2"],
        "city": MARKERS["city"],
        "postal_code": PERSONAL["postal_code"],
        "country": "FR",
    }
    caplog.set_level(logging.DEBUG)

    # Stripe tells of the deletion after it happened, with the whole customer object.
    deleted = deliver(
        client,
        endpoint,
        "customer.deleted",
        {
            "id": customer_id,
            "object": "customer",
            "email": MARKERS["email"],
            "name": MARKERS["name"],
            "address": address,
            "description": MARKERS["free_text"],
            "metadata": {},
            "livemode": False,
            "created": int(time.time()) - 86400,
        },
    )
    # The card, detached from the deleted customer, with its billing details.
    card = {
        "object": "payment_method",
        "type": "card",
        "customer": None,
        "billing_details": {
            "email": MARKERS["email"],
            "name": MARKERS["name"],
            "address": address,
            "phone": None,
        },
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
        "metadata": {},
        "livemode": False,
        "created": int(time.time()) - 86400,
    }
    # An older card, replaced long ago, that only dj-stripe's mirror still linked to them;
    # Stripe's event names the card alone.
    old_card = deliver(client, endpoint, "payment_method.detached", {**card, "id": old_card_id})
    detached = deliver(
        client,
        endpoint,
        "payment_method.detached",
        {**card, "id": payment_method_id},
        previous={"customer": customer_id},
    )

    assert (deleted.status_code, detached.status_code, old_card.status_code) == (200, 200, 200)
    assert sorted(personal_values_left(MARKERS, caplog)) == []
    # The events themselves are kept, valid and processed: what happened, and when.
    assert set(Event.objects.values_list("type", flat=True)) >= {
        "customer.deleted",
        "payment_method.detached",
    }
    assert WebhookEventTrigger.objects.filter(valid=True, processed=True).count() == 3
    # An event about the other customer is stored as it came.
    response = deliver(
        client,
        endpoint,
        "customer.updated",
        {
            "id": BillingAccount.objects.get(user=other).stripe_customer_id,
            "object": "customer",
            "email": OTHER["email"],
            "name": OTHER["name"],
            "metadata": {},
            "livemode": False,
            "created": int(time.time()) - 86400,
        },
    )
    assert response.status_code == 200
    assert {
        ("djstripe_event", "data", "email"),
        ("djstripe_webhookeventtrigger", "body", "name"),
    } <= (personal_values_left(OTHER))


def test_a_stripe_event_stored_while_the_deletion_runs_is_scrubbed_once_it_is_committed(
    two_customers, client, mailoutbox, monkeypatch
):
    """Another request (a webhook) stores an event while the deletion's transaction runs: it
    could not see the erased ids yet, and the deletion's own scan had passed its table."""
    person, _other = two_customers
    customer_id = BillingAccount.objects.get(user=person).stripe_customer_id
    body = json.dumps(
        {"data": {"object": {"customer": customer_id, "name": MARKERS["name"]}}},
        ensure_ascii=False,
    )
    audit = services.audit

    def audit_then_a_webhook_lands(**kwargs):
        if kwargs.get("kind") == "account_deleted":
            # As another connection would write it: no signal of ours sees it.
            WebhookEventTrigger.objects.bulk_create(
                [WebhookEventTrigger(remote_ip=IP, headers={}, body=body, valid=True)]
            )
        return audit(**kwargs)

    monkeypatch.setattr(services, "audit", audit_then_a_webhook_lands)

    delete_through_the_page(client, person)

    trigger = WebhookEventTrigger.objects.get()
    assert MARKERS["name"] not in trigger.body
    assert customer_id in trigger.body  # the ids stay: what happened, to which object
    assert trigger.remote_ip == erasure.NO_IP
    assert personal_values_left(MARKERS) == set()


def test_an_expired_trial_purged_by_the_billing_run_leaves_nothing_in_other_tables_either(
    two_customers, catalog, mailoutbox, caplog
):
    """001: the trial's account is deleted outright (its own rows go by cascade); what
    dj-stripe, the admin log, sessions and allauth hold about the customer goes too."""
    person, other = two_customers
    now = timezone.now()
    sub = trial_start(user=person, plan=catalog["pro"], now=now)
    # Installed packages' tables only: a row in the portal's own (an invoice) would be
    # history that keeps the account.
    Filler(person, MARKERS, stripe_customer_for(person)).fill(installed_only=True)
    Filler(other, OTHER, stripe_customer_for(other)).fill(installed_only=True)
    other_before = personal_values_left(OTHER)
    assert {key for _, _, key in personal_values_left(MARKERS)} == set(MARKERS)
    billing_run(now=sub.trial_ends_at)
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.EXPIRED
    caplog.set_level(logging.DEBUG)

    result = billing_run(now=sub.purge_at)

    assert result["purged"] == 1
    assert not User.objects.filter(pk=person.pk).exists()
    assert not Subscription.objects.filter(pk=sub.pk).exists()
    assert sorted(personal_values_left(MARKERS, caplog)) == []
    assert personal_values_left(OTHER) == other_before


def test_the_admin_log_forgets_the_name_in_entries_about_the_customers_rows(
    two_customers, client, mailoutbox, support_ticket
):
    """Issue 13: `django_admin_log.object_repr` kept "#23 Facture de <name>", with no e-mail
    address to find it by: entries are found by the object they are about."""
    person, other = two_customers
    staff = UserFactory(is_staff=True)
    mine = support_ticket(person, body="Bonjour")
    theirs = support_ticket(other, body="Bonjour")
    entries = {}
    for owner, ticket in ((person, mine), (other, theirs)):
        entries[owner.pk] = LogEntry.objects.create(
            user=staff,
            content_type=ContentType.objects.get_for_model(ticket),
            object_id=str(ticket.pk),
            object_repr=f"#{ticket.pk} {ticket.subject}",
            action_flag=CHANGE,
            change_message=json.dumps([{"changed": {"fields": ["Status"]}}]),
        )
    assert PERSONAL["name"] in entries[person.pk].object_repr

    delete_through_the_page(client, person)

    erased = LogEntry.objects.get(pk=entries[person.pk].pk)
    assert erased.object_repr == ""
    assert json.loads(erased.change_message) == [{"changed": {"fields": ["Status"]}}]
    assert (erased.user, erased.action_flag) == (staff, CHANGE)  # who did what, and when
    kept = LogEntry.objects.get(pk=entries[other.pk].pk)
    assert kept.object_repr == f"#{theirs.pk} Facture de {OTHER['name']}"
