"""/api/v1/: tickets and their conversation, the chart, provisioning, webhooks, tokens."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from sla.api import CalendarViewSet, HolidayViewSet, ResponseTargetViewSet
from tickets.api import views

router = DefaultRouter(trailing_slash=True)
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("response-targets", ResponseTargetViewSet, basename="response-target")
router.register("calendars", CalendarViewSet, basename="calendar")
router.register("holidays", HolidayViewSet, basename="holiday")
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("users", views.UserViewSet, basename="user")
router.register("webhooks", views.WebhookSubscriptionViewSet, basename="webhook")

app_name = "api"

urlpatterns = [
    path("auth/token/", views.obtain_token, name="token"),
    path("", include(router.urls)),
]
