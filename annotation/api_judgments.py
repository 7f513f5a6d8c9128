"""Judgments made elsewhere over the API: POST /api/v1/studies/<slug>/judgments/ (multipart
`file`, `format`, optional `mode` and `options`) runs annotation.services.judgments_import:
items with their judgments (mqm-tsv), or judgments of items already in the study
(pairwise-labels, pairwise-judgments, scores-long). All or nothing; owner and researchers."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from annotation import services
from annotation.api import study_for, upload_lines
from annotation.errors import Invalid


class JudgmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.CharField(help_text="pairwise-labels, pairwise-judgments, scores-long or mqm-tsv")
    mode = serializers.ChoiceField(choices=["annotations", "gold"], required=False, default="annotations",
                                   help_text="mqm-tsv only: store the judgments as gold answers instead")
    options = serializers.CharField(required=False, default="{}", help_text='importer options as JSON, e.g. {"file_format": "csv"}')


class JudgmentImportResultSerializer(serializers.Serializer):
    judgments = serializers.IntegerField()
    raters = serializers.IntegerField(required=False)
    items = serializers.IntegerField(required=False)


class StudyJudgmentsApi(GenericAPIView):
    serializer_class = JudgmentUploadSerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=JudgmentUploadSerializer, responses={201: JudgmentImportResultSerializer})
    def post(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        form = JudgmentUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            options = json.loads(data["options"])
        except json.JSONDecodeError as exc:
            raise Invalid(f"options: not JSON ({exc.msg})", {"options": "not JSON"}) from None
        if not isinstance(options, dict):
            raise Invalid("options: must be a JSON object", {"options": "must be an object"})
        result = services.judgments_import(study=study, lines=upload_lines(data["file"]), format_name=data["format"],
                                           mode=data["mode"], options=options)
        return Response(result, status=status.HTTP_201_CREATED)
