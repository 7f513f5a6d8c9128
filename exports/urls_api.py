"""API routes of export retries and background imports, included by annotation/urls_api.py."""

from django.urls import path

from exports import api

urlpatterns = [
    path("exports/<int:job_id>/retry/", api.ExportRetryApi.as_view(), name="api-export-retry"),
    path("studies/<slug:slug>/imports/", api.StudyImportsApi.as_view(), name="api-study-imports"),
    path("imports/<int:import_id>/", api.ImportDetailApi.as_view(), name="api-import"),
]
