from django.urls import path

from portal import public

app_name = "support"

urlpatterns = [
    path("response-targets/", public.response_targets, name="response_targets"),
    path("help/", public.help_page, name="help"),
    path("holidays.ics", public.holidays_ics, name="holidays_ics"),
]
