from django.contrib.auth.views import LogoutView
from django.urls import path

from frontend import views

# "new-study/" rather than "studies/new/": a study may well be called "new".
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.sign_in, name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("join/<str:token>/", views.join, name="join"),
    path("crowd/<str:token>/", views.crowd_entry, name="crowd_entry"),
    path("new-study/", views.study_new, name="study_new"),
    path("studies/<slug:slug>/", views.study_detail, name="study_detail"),
    path("studies/<slug:slug>/status/", views.study_status, name="study_status"),
    path("studies/<slug:slug>/items/", views.study_upload, name="study_upload"),
    path("studies/<slug:slug>/invite/reset/", views.study_invite_reset, name="study_invite_reset"),
    path("studies/<slug:slug>/researchers/", views.study_researcher_add, name="study_researcher_add"),
    path("studies/<slug:slug>/exports/", views.study_export_create, name="study_export_create"),
    path("studies/<slug:slug>/exports/<int:job_id>/retry/", views.study_export_retry, name="study_export_retry"),
    path("studies/<slug:slug>/strategy/", views.study_strategy, name="study_strategy"),
    path("studies/<slug:slug>/dashboard/", views.study_dashboard, name="study_dashboard"),
    path("studies/<slug:slug>/annotate/", views.study_annotate, name="study_annotate"),
    path("studies/<slug:slug>/done/", views.study_done, name="study_done"),
    path("studies/<slug:slug>/complete/", views.study_complete, name="study_complete"),
]
