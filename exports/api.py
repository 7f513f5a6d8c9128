from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from annotation.api import study_for
from annotation.errors import Conflict, NotFound
from annotation.serializers import RegistrySerializer
from exports.formats import all_exporters
from exports.models import ExportJob, ImportJob
from exports.services import (
    export_create,
    export_file,
    export_retry,
    import_create,
    import_lines_read,
)


class ExportJobSerializer(serializers.ModelSerializer):
    study = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    progress = serializers.FloatField(read_only=True)
    stale = serializers.BooleanField(source="is_stale", read_only=True, help_text="running, but its worker went silent")
    can_retry = serializers.BooleanField(read_only=True)
    download_url = serializers.SerializerMethodField()
    retry_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id", "study", "format", "options", "status", "progress", "rows_done", "rows_total", "counts", "error",
            "attempts", "stale", "can_retry", "created_at", "started_at", "heartbeat_at", "finished_at", "download_url", "retry_url",
        ]

    def get_download_url(self, job) -> str | None:
        return f"/api/v1/exports/{job.pk}/download/" if job.status == ExportJob.Status.DONE else None

    def get_retry_url(self, job) -> str | None:
        return f"/api/v1/exports/{job.pk}/retry/" if job.can_retry else None


class ExportCreateSerializer(serializers.Serializer):
    format = serializers.CharField()
    options = serializers.JSONField(required=False, default=dict)


def job_for(user, job_id: int) -> ExportJob:
    job = ExportJob.objects.select_related("study").filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such export.")
    study_for(user, job.study.slug, need="manage")
    return job


class StudyExportsApi(GenericAPIView):
    serializer_class = ExportJobSerializer

    @extend_schema(responses=ExportJobSerializer(many=True))
    def get(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        return Response(ExportJobSerializer(study.exports.all()[:100], many=True).data)

    @extend_schema(request=ExportCreateSerializer, responses={202: ExportJobSerializer})
    def post(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        form = ExportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        job = export_create(study=study, user=request.user, format_name=form.validated_data["format"], options=form.validated_data["options"])
        job.refresh_from_db()
        return Response(ExportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(GenericAPIView):
    serializer_class = ExportJobSerializer

    def get(self, request, job_id: int):
        return Response(ExportJobSerializer(job_for(request.user, job_id)).data)


class ExportRetryApi(GenericAPIView):
    serializer_class = ExportJobSerializer

    @extend_schema(request=None, responses={202: ExportJobSerializer})
    def post(self, request, job_id: int):
        """Run a failed export (or one whose worker stopped responding) again."""
        job = export_retry(job=job_for(request.user, job_id))
        return Response(ExportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDownloadApi(GenericAPIView):
    serializer_class = None

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, job_id: int):
        job = job_for(request.user, job_id)
        path = export_file(job)
        if path is None and job.status == ExportJob.Status.DONE:
            raise Conflict("This export's file is no longer on the server (removed from its export folder); start the export again.")
        if path is None:
            raise Conflict(f"This export is {job.status}; it can be downloaded once done.")
        return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type="application/zip")


class FormatsApi(GenericAPIView):
    serializer_class = RegistrySerializer

    @extend_schema(responses=RegistrySerializer(many=True))
    def get(self, request):
        return Response([{"name": n, "label": f.label} for n, f in sorted(all_exporters().items())])


class ImportJobSerializer(serializers.ModelSerializer):
    study = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    lines_read = serializers.SerializerMethodField(help_text="lines read so far, while running")

    class Meta:
        model = ImportJob
        fields = ["id", "study", "kind", "format", "filename", "status", "lines_read", "rows_done", "counts", "error", "errors",
                  "attempts", "created_at", "started_at", "finished_at"]

    def get_lines_read(self, job) -> int | None:
        return import_lines_read(job)


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=ImportJob.Kind.choices, default=ImportJob.Kind.ITEMS)
    format = serializers.CharField(required=False, default="jsonl")


class StudyImportsApi(GenericAPIView):
    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=ImportJobSerializer(many=True))
    def get(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        return Response(ImportJobSerializer(study.imports.all()[:100], many=True).data)

    @extend_schema(request=ImportCreateSerializer, responses={202: ImportJobSerializer})
    def post(self, request, slug: str):
        """Import a (large) file in the background: items, judge scores (CSV/JSONL with item_id,
        system, judge, score), or judgments made elsewhere (pairwise-labels, pairwise-judgments,
        scores-long, or mqm-tsv with its items; stored as annotations). All or nothing; the job
        reports rows taken or the line and field of the first bad row."""
        study = study_for(request.user, slug, need="manage")
        form = ImportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        job = import_create(study=study, user=request.user, kind=data["kind"], format_name=data["format"], uploaded=data["file"])
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailApi(GenericAPIView):
    serializer_class = ImportJobSerializer

    def get(self, request, import_id: int):
        job = ImportJob.objects.select_related("study").filter(pk=import_id).first()
        if job is None:
            raise NotFound("No such import.")
        study_for(request.user, job.study.slug, need="manage")
        return Response(ImportJobSerializer(job).data)
