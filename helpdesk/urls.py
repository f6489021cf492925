"""Root URLs: the agent console, the portal, attachments, the API, the live updates' polling fallback (their
WebSockets are routed in helpdesk/asgi.py), the health check and the favicon; the 500 handler
(a 503 while the database is unavailable, see helpdesk/errors.py)."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from helpdesk.health import healthz
from tickets.admin.dashboard import dashboard_view
from tickets.admin.satisfaction_dashboard import satisfaction_dashboard_view
from tickets.admin.search import console_search_view

admin.site.site_header = "Helpdesk agent console"
admin.site.site_title = "Helpdesk"
admin.site.index_title = "Agent console"
# "View site" in the console's header. The admin's default ("/") led agents to the portal, which has nothing
# for staff and sent them back to /admin/. What an agent wants from it is the site as customers see it
# without signing in: the help center (how to ask for help, what to include, the response targets, the
# answers they point customers to).
admin.site.site_url = "/support/articles/"


def favicon(request):
    """/favicon.ico, which browsers ask for on every site (the portal and the console alike), is the
    static icon (tickets/static/tickets/favicon.ico; favicon.svg for pages that link it)."""
    return HttpResponseRedirect(static("tickets/favicon.ico"))


urlpatterns = [
    path("admin/dashboard/", dashboard_view, name="dashboard"),
    path("admin/dashboard/satisfaction/", satisfaction_dashboard_view, name="satisfaction_dashboard"),
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
    path("favicon.ico", favicon, name="favicon"),
    path("", RedirectView.as_view(pattern_name="portal:tickets", permanent=False)),
]

handler500 = "helpdesk.errors.server_error"
