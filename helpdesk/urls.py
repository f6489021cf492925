"""Root URLs: the agent console, the portal, attachments, the API, the live updates' polling fallback (their
WebSockets are routed in helpdesk/asgi.py) and the health check; the 500 handler
(a 503 while the database is unavailable, see helpdesk/errors.py)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from helpdesk.health import healthz
from tickets.admin.dashboard import dashboard_view
from tickets.admin.search import console_search_view

admin.site.site_header = "Helpdesk agent console"
admin.site.site_title = "Helpdesk"
admin.site.index_title = "Agent console"

urlpatterns = [
    path("admin/dashboard/", dashboard_view, name="dashboard"),
    path("admin/search/", console_search_view, name="console_search"),
    path("admin/", admin.site.urls),
    path("portal/", include("portal.urls")),
    path("support/", include("portal.public_urls")),
    path("api/v1/", include("tickets.api.urls")),
    path("live/", include("tickets.live.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves the viewer's start-up script as a file (`?script`), so the page runs under a
    # policy without inline scripts (portal/middleware.py).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("tickets.urls")),
    path("healthz", healthz, name="healthz"),
    path("", RedirectView.as_view(pattern_name="portal:tickets", permanent=False)),
]

handler500 = "helpdesk.errors.server_error"
