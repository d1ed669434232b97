"""Stripe's webhook endpoint, acknowledged fast (issue 18): dj-stripe checks the signature
and stores the event once, in the request; its processing is queued to a worker, so no
Stripe call happens while Stripe waits for the answer."""

from typing import Any

from celery import current_app
from django.http import HttpRequest, HttpResponse
from djstripe.views import ProcessWebhookView

PROCESS_TASK = "subscriptions.tasks.stripe_event_process"


class QueuedWebhookView(ProcessWebhookView):
    """dj-stripe's view with processing deferred (DJSTRIPE_WEBHOOK_EVENT_CALLBACK leaves the
    trigger unprocessed); the trigger is queued once saved, answered by its id."""

    def post(self, request: HttpRequest, uuid: Any) -> HttpResponse:
        response = super().post(request, uuid)
        if response.status_code == 200:
            current_app.tasks[PROCESS_TASK].delay(trigger_id=int(response.content))
        return response


webhook = QueuedWebhookView.as_view()
