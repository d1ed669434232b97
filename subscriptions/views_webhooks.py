"""Stripe's webhook endpoint, acknowledged fast (issue 18): the signature is checked and the
event stored once, in the request, as dj-stripe does; its processing is queued to a worker,
so no Stripe call happens while Stripe waits for the answer."""

from typing import Any

from celery import current_app
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from djstripe.models import WebhookEndpoint

from subscriptions import webhooks

PROCESS_TASK = "subscriptions.tasks.stripe_event_process"


@csrf_exempt
@login_not_required
@require_POST
def webhook(request: HttpRequest, uuid: Any) -> HttpResponse:
    if "stripe-signature" not in request.headers:
        return HttpResponseBadRequest()  # nothing stored without a signature (dj-stripe)
    endpoint = get_object_or_404(
        WebhookEndpoint.objects.select_related("djstripe_owner_account"), djstripe_uuid=uuid
    )
    trigger = webhooks.trigger_store(request, endpoint)
    if not trigger.valid:
        return HttpResponseBadRequest()
    current_app.tasks[PROCESS_TASK].delay(trigger_id=trigger.pk)
    return HttpResponse(str(trigger.pk))
