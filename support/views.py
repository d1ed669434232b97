"""Thin views: parse, call a service or a selector, render. Tickets and attachments are
looked up from the logged-in customer, so another customer's is a 404."""

from typing import cast

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.throttle import throttle_hit
from portal.pagination import page_of
from support import selectors, services
from support.forms import MessageForm, TicketForm
from support.models import Category, Ticket


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)  # LoginRequiredMiddleware: every view here is logged in


def _ticket_or_404(request: HttpRequest, pk: int) -> Ticket:
    ticket = selectors.ticket_for_user(user=_user(request), pk=pk)
    if ticket is None:
        raise Http404
    return ticket


def ticket_list(request: HttpRequest) -> TemplateResponse:
    user = _user(request)
    page = page_of(request, selectors.ticket_list_for_user(user=user))
    context = {
        "tickets": page,
        "page": page,
        "reply_hours": services.ticket_reply_hours(user=user),
    }
    return TemplateResponse(request, "support/ticket_list.html", context)


@require_http_methods(["GET", "POST"])
def ticket_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = TicketForm(request.POST, request.FILES)
        if form.is_valid():
            if throttled := throttle_hit(user_id=_user(request).pk, action="support_ticket"):
                context = {"form": form, "error": throttled.message}  # what was typed stays
                return TemplateResponse(request, "support/ticket_new.html", context, status=429)
            ticket = services.ticket_create(
                user=_user(request),
                category=form.cleaned_data["category"],
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                files=form.cleaned_data["attachments"],
                now=timezone.now(),
            )
            messages.success(request, _("Your ticket is open: we will reply by e-mail and here."))
            return redirect("support:ticket_detail", pk=ticket.pk)
        return TemplateResponse(request, "support/ticket_new.html", {"form": form}, status=400)
    category = request.GET.get("category", "")
    form = TicketForm(initial={"category": category} if category in Category.values else None)
    return TemplateResponse(request, "support/ticket_new.html", {"form": form})


@require_http_methods(["GET", "POST"])
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    form = MessageForm()
    status = 200
    if request.method == "POST":
        form = MessageForm(request.POST, request.FILES)
        if form.is_valid():
            if throttled := throttle_hit(user_id=_user(request).pk, action="support_reply"):
                context = {  # what was typed stays; nothing is saved
                    "ticket": ticket,
                    "thread": selectors.ticket_messages(ticket=ticket),
                    "form": form,
                    "error": throttled.message,
                }
                return TemplateResponse(request, "support/ticket_detail.html", context, status=429)
            services.ticket_reply(
                ticket=ticket,
                user=_user(request),
                body=form.cleaned_data["body"],
                files=form.cleaned_data["attachments"],
                now=timezone.now(),
            )
            messages.success(request, _("Your message has been sent."))
            return redirect("support:ticket_detail", pk=ticket.pk)
        status = 400
    context = {
        "ticket": ticket,
        "thread": selectors.ticket_messages(ticket=ticket),
        "form": form,
    }
    return TemplateResponse(request, "support/ticket_detail.html", context, status=status)


@require_POST
def ticket_close(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(request, pk)
    services.ticket_close(ticket=ticket, user=_user(request), now=timezone.now())
    messages.success(request, _("Your ticket is closed. Write on it again to reopen it."))
    return redirect("support:ticket_detail", pk=ticket.pk)


def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    attachment = selectors.attachment_for_user(user=_user(request), pk=pk)
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
