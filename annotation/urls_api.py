from django.urls import include, path
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import AnonRateThrottle

from annotation import api, api_judgments, api_report
from exports import api as exports_api


class LoginThrottle(AnonRateThrottle):
    scope = "login"


class TokenApi(ObtainAuthToken):
    """Exchange username and password for an API token (rate-limited)."""

    throttle_classes = [LoginThrottle]


urlpatterns = [
    path("auth/token/", TokenApi.as_view(), name="api-token"),
    path("studies/", api.StudyListCreateApi.as_view(), name="api-studies"),
    path("studies/<slug:slug>/", api.StudyDetailApi.as_view(), name="api-study"),
    path("studies/<slug:slug>/items/", api.ItemUploadApi.as_view(), name="api-study-items"),
    path("studies/<slug:slug>/judgments/", api_judgments.StudyJudgmentsApi.as_view(), name="api-study-judgments"),
    path("studies/<slug:slug>/progress/", api.StudyProgressApi.as_view(), name="api-study-progress"),
    path("studies/<slug:slug>/report/", api_report.StudyReportApi.as_view(), name="api-study-report"),
    path("studies/<slug:slug>/invite/", api.StudyInviteApi.as_view(), name="api-study-invite"),
    path("studies/<slug:slug>/researchers/", api.StudyResearchersApi.as_view(), name="api-study-researchers"),
    path("studies/<slug:slug>/next/", api.NextUnitApi.as_view(), name="api-next"),
    path("studies/<slug:slug>/exports/", exports_api.StudyExportsApi.as_view(), name="api-study-exports"),
    path("assignments/<int:assignment_id>/submit/", api.SubmitApi.as_view(), name="api-submit"),
    path("join/<str:token>/", api.JoinApi.as_view(), name="api-join"),
    path("exports/<int:job_id>/", exports_api.ExportDetailApi.as_view(), name="api-export"),
    path("exports/<int:job_id>/download/", exports_api.ExportDownloadApi.as_view(), name="api-export-download"),
    path("task-types/", api.TaskTypesApi.as_view(), name="api-task-types"),
    path("strategies/", api.StrategiesApi.as_view(), name="api-strategies"),
    path("formats/", exports_api.FormatsApi.as_view(), name="api-formats"),
    path("", include("exports.urls_api")),  # export retries, background imports
]
