"""/api/v1/: tickets and their conversation, the chart, provisioning, webhooks, tokens."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import DefaultRouter

from tickets.api import knowledge, tokens, views
from tickets.api.sla import CalendarViewSet, HolidayViewSet, ResponseTargetViewSet, SlaPolicyViewSet
from tickets.api.webhooks import WebhookSubscriptionViewSet

router = DefaultRouter(trailing_slash=True)
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("response-targets", ResponseTargetViewSet, basename="response-target")
router.register("calendars", CalendarViewSet, basename="calendar")
router.register("holidays", HolidayViewSet, basename="holiday")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("users", views.UserViewSet, basename="user")
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
router.register("auth/tokens", tokens.ApiTokenViewSet, basename="api-token")
router.register("articles", knowledge.ArticleViewSet, basename="article")

app_name = "api"


@csrf_exempt  # as DRF's views: a DELETE to a wrong address is answered 404, not refused for want of a token
def not_found(request, *args, **kwargs) -> JsonResponse:
    """An address under /api/v1/ that no route takes (`/calendars/-2.9e-192/`): the API's JSON 404, as DRF
    answers for an unknown id, rather than Django's HTML page."""
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [
    path("auth/token/", views.obtain_token, name="token"),
    path("severity-suggestion/", knowledge.severity_suggestion, name="severity-suggestion"),
    path("", include(router.urls)),
    # Only addresses ending in a slash: one without keeps Django's redirect to the address with it.
    re_path(r"^[\s\S]*/$", not_found),  # any character, a line break too
]
