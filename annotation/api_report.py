"""The study report over the API: GET /api/v1/studies/<slug>/report/ returns the document
of annotation.report (owner and researchers only)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from annotation.api import study_for
from annotation.errors import Invalid
from annotation.report import study_report_cached


class ReportQuerySerializer(serializers.Serializer):
    include_excluded = serializers.BooleanField(required=False, default=False)
    compare = serializers.SlugField(required=False, allow_blank=True, default="")
    n_boot = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=1000)


class StudyReportApi(GenericAPIView):
    """Progress, quality, agreement, ranking, bias, judge meta-evaluation, cross-elicitation
    (with `compare`, a study of the same owner with the other kind of task) and strategies.
    Recomputed when judgments or exclusions change, else served from the cache for a minute."""

    serializer_class = ReportQuerySerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("include_excluded", bool, description="keep excluded annotators in the statistics"),
            OpenApiParameter("compare", str, description="slug of a study to compare score-implied and direct pairwise preferences with"),
            OpenApiParameter("n_boot", int, description="bootstrap replicates (default 200, fewer on big studies; at most 1000)"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        query = ReportQuerySerializer(data=request.query_params)
        if not query.is_valid():
            raise Invalid("query does not fit", {k: " ".join(str(m) for m in v) for k, v in query.errors.items()})
        opts = query.validated_data
        compare = study_for(request.user, opts["compare"], need="manage") if opts["compare"] else None
        return Response(study_report_cached(study, include_excluded=opts["include_excluded"], compare=compare, n_boot=opts["n_boot"]))
