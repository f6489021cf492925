from django.urls import path

from portal import help_center, public

app_name = "support"

urlpatterns = [
    path("response-targets/", public.response_targets, name="response_targets"),
    path("help/", public.help_page, name="help"),
    path("articles/", help_center.article_list, name="articles"),
    path("articles/<str:slug>/", help_center.article_detail, name="article"),
    path("articles/<str:slug>/helpful/", help_center.article_vote, name="article_vote"),
    path("rate/<str:token>/", help_center.rate, name="rate"),
    path("holidays.ics", public.holidays_ics, name="holidays_ics"),
]
