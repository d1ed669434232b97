from django.urls import path

from support import views

app_name = "support"

urlpatterns = [
    path("", views.ticket_list, name="tickets"),
    path("new/", views.ticket_new, name="ticket_new"),
    path("<int:pk>/", views.ticket_detail, name="ticket_detail"),
    path("<int:pk>/close/", views.ticket_close, name="ticket_close"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
