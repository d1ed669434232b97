from django.http import HttpRequest
from django.template.response import TemplateResponse


def ticket_list(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "support/ticket_list.html", {})
