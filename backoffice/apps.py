from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """django.contrib.admin with the portal's site: the work queue as its home page."""

    default_site = "backoffice.site.PortalAdminSite"
