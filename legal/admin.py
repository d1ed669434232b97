from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from legal import services
from legal.models import TermsSeen, TermsVersion


@admin.register(TermsVersion)
class TermsVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "last_updated", "published_at", "notified_at", "created_at"]
    readonly_fields = ["published_at", "notified_at", "created_at"]
    actions = ["publish"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.published_at is not None:
            # What customers were shown stays as it was: a change is a new version.
            return ["version", "last_updated", "body_fr", "body_en", *self.readonly_fields]
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.published_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description=_("Publish and e-mail customers"))
    def publish(self, request: HttpRequest, queryset: QuerySet[TermsVersion]) -> None:
        versions = list(queryset[:2])
        if len(versions) != 1:
            self.message_user(request, gettext("Publish one version at a time."), messages.WARNING)
            return
        version = versions[0]
        published = services.terms_publish(
            version=version,
            actor=request.user,  # type: ignore[arg-type]
            now=timezone.now(),
        )
        if published:
            self.message_user(
                request,
                gettext("Version %(version)s is published; customers are being e-mailed.")
                % {"version": version.version},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                gettext("Version %(version)s was already published: nobody was e-mailed.")
                % {"version": version.version},
                messages.WARNING,
            )


@admin.register(TermsSeen)
class TermsSeenAdmin(admin.ModelAdmin):
    list_display = ["seen_at", "user", "version"]
    list_filter = ["version"]
    search_fields = ["user__email"]
    list_select_related = ["user", "version"]
    readonly_fields = ["user", "version", "seen_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
