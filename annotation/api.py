"""REST API for studies, items, units and judgments. Views stay thin: validate, call one
service or selector, serialize."""

from __future__ import annotations

import io

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from annotation import selectors, services
from annotation.errors import Invalid, NotAllowed, NotFound
from annotation.models import Assignment, Study, StudyMembership
from annotation.permissions import can_create_studies, role_in
from annotation.serializers import (
    ImportResultSerializer,
    InviteSerializer,
    ItemUploadSerializer,
    NextSerializer,
    ProgressOutSerializer,
    RegistrySerializer,
    ResearcherAddSerializer,
    StudyPatchSerializer,
    StudySerializer,
    StudySpecSerializer,
    SubmitResultSerializer,
    SubmitSerializer,
)
from annotation.task_types import all_task_types
from elicitation.services import leases_for_annotator
from elicitation.strategies import all_strategies


def study_for(user, slug: str, *, need: str) -> Study:
    """The study, if this user may `need` ("manage", "own" or "annotate") it; else 404.
    Non-members get 404 rather than 403, so a slug reveals nothing."""
    study = Study.objects.filter(slug=slug).first()
    role = role_in(user, study) if study else None
    allowed = {"manage": ("owner", "researcher"), "own": ("owner",), "annotate": ("annotator",)}[need]
    if role in allowed:
        return study
    if role is not None and need == "own":
        raise NotAllowed("Only the study's owner may do this.")
    raise NotFound(f"No study {slug!r} that you may {need}.")


def upload_lines(uploaded):
    if uploaded.size > settings.MAX_UPLOAD_BYTES:
        raise Invalid(f"file: larger than {settings.MAX_UPLOAD_BYTES} bytes", {"file": "too large"})
    return io.TextIOWrapper(uploaded.file, encoding="utf-8", newline="")


class StudyListCreateApi(GenericAPIView):
    serializer_class = StudySerializer

    @extend_schema(responses=StudySerializer(many=True))
    def get(self, request):
        studies = list(selectors.studies_for_user(request.user).order_by("-created_at"))
        roles = {s.pk: role_in(request.user, s) for s in studies}
        return Response(StudySerializer(studies, many=True, context={"roles": roles}).data)

    @extend_schema(request=StudySpecSerializer, responses={201: StudySerializer})
    def post(self, request):
        if not can_create_studies(request.user):
            raise NotAllowed("Your account may not create studies (ask an admin for the researcher permission).")
        study = services.study_create(owner=request.user, spec=request.data)
        return Response(StudySerializer(study, context={"roles": {study.pk: "owner"}}).data, status=status.HTTP_201_CREATED)


class StudyDetailApi(GenericAPIView):
    serializer_class = StudySerializer

    def get(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        return Response(StudySerializer(study, context={"roles": {study.pk: role_in(request.user, study)}}).data)

    @extend_schema(request=StudyPatchSerializer, responses=StudySerializer)
    def patch(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        unknown = sorted(set(request.data) - set(StudyPatchSerializer().fields))
        if unknown:
            raise Invalid(f"{unknown[0]}: cannot be changed here", {unknown[0]: "unknown or fixed field"})
        study = services.study_update(study=study, changes=dict(request.data))
        return Response(StudySerializer(study, context={"roles": {study.pk: role_in(request.user, study)}}).data)


class ItemUploadApi(GenericAPIView):
    serializer_class = ItemUploadSerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=ItemUploadSerializer, responses={201: ImportResultSerializer})
    def post(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        form = ItemUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        result = services.items_import(study=study, lines=upload_lines(form.validated_data["file"]), format_name=form.validated_data["format"])
        return Response(result, status=status.HTTP_201_CREATED)


class StudyProgressApi(GenericAPIView):
    serializer_class = ProgressOutSerializer

    def get(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        return Response(selectors.study_progress(study))


def invite_url(request, study: Study) -> str:
    return request.build_absolute_uri(reverse("join", args=[study.invite_token]))


class StudyInviteApi(GenericAPIView):
    serializer_class = InviteSerializer

    def get(self, request, slug: str):
        study = study_for(request.user, slug, need="manage")
        return Response({"url": invite_url(request, study), "token": study.invite_token})

    @extend_schema(request=None, responses=InviteSerializer)
    def post(self, request, slug: str):
        """Replace the invite link (the old one stops working)."""
        study = services.study_reset_invite(study=study_for(request.user, slug, need="manage"))
        return Response({"url": invite_url(request, study), "token": study.invite_token})


class StudyResearchersApi(GenericAPIView):
    serializer_class = ResearcherAddSerializer

    @extend_schema(request=ResearcherAddSerializer, responses={201: ResearcherAddSerializer})
    def post(self, request, slug: str):
        from django.contrib.auth import get_user_model

        study = study_for(request.user, slug, need="own")
        form = ResearcherAddSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = get_user_model().objects.filter(username=form.validated_data["username"]).first()
        if user is None:
            raise Invalid("username: no such user", {"username": "no such user"})
        services.membership_add(study=study, user=user, role=StudyMembership.Role.RESEARCHER)
        return Response({"username": user.username}, status=status.HTTP_201_CREATED)


class JoinApi(GenericAPIView):
    serializer_class = StudySerializer

    @extend_schema(request=None, responses=StudySerializer)
    def post(self, request, token: str):
        study = services.study_join(token=token, user=request.user)
        return Response(StudySerializer(study, context={"roles": {study.pk: role_in(request.user, study)}}).data)


def next_payload(study: Study, user, ahead: bool = False) -> dict:
    """The unit to show (and, with ``ahead``, the one after it, leased in advance)."""
    leases, membership = leases_for_annotator(study=study, user=user, count=2 if ahead else 1)
    held = selectors.unit_payloads(leases)
    payload = {
        "unit": held[0] if held else None,
        "progress": selectors.annotator_progress(study, user, membership),
    }
    if ahead:
        payload["ahead"] = held[1] if len(held) > 1 else None
    return payload


def wants_ahead(request) -> bool:
    return request.query_params.get("ahead", "") in ("1", "true")


AHEAD = OpenApiParameter(
    "ahead", bool, description="also lease the unit after the next one and return it as `ahead` (the page's prefetch)"
)


class NextUnitApi(GenericAPIView):
    """Lease the next unit (or return the one you already hold)."""

    serializer_class = NextSerializer

    @extend_schema(request=None, responses=NextSerializer, parameters=[AHEAD])
    def post(self, request, slug: str):
        study = study_for(request.user, slug, need="annotate")
        return Response(next_payload(study, request.user, ahead=wants_ahead(request)))


class SubmitApi(GenericAPIView):
    """Submit a judgment for a unit you hold; the response carries your next unit."""

    serializer_class = SubmitSerializer
    parser_classes = [JSONParser]

    @extend_schema(request=SubmitSerializer, responses={201: SubmitResultSerializer, 200: SubmitResultSerializer}, parameters=[AHEAD])
    def post(self, request, assignment_id: int):
        form = SubmitSerializer(data=request.data)
        if not form.is_valid():
            if not Assignment.objects.filter(pk=assignment_id, annotator=request.user).exists():
                raise NotFound("assignment: you do not hold this unit")  # not theirs: say nothing more
            raise Invalid("request does not fit", {k: " ".join(str(m) for m in v) for k, v in form.errors.items()})
        annotation, created = services.annotation_submit(
            assignment_id=assignment_id,
            user=request.user,
            response=form.validated_data["response"],
            idempotency_key=form.validated_data["idempotency_key"],
            duration_ms=form.validated_data.get("duration_ms"),
        )
        study = annotation.study  # the service's own instance: no query
        try:
            following = next_payload(study, request.user, ahead=wants_ahead(request))
        except NotAllowed as exc:  # the study was paused or closed meanwhile: the judgment is stored anyway
            following = {"unit": None, "progress": selectors.annotator_progress(study, request.user), "detail": exc.message}
        body = {
            "annotation": {
                "id": annotation.id,
                "unit_id": annotation.unit_id,
                "response": annotation.response,
                "display_order": annotation.display_order,
                "submitted_at": annotation.submitted_at,
            },
            "created": created,
            "next": following,
        }
        # The body already has the documented shape (SubmitResultSerializer, for the schema):
        # rendering it directly spares every judgment a serializer pass.
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class TaskTypesApi(GenericAPIView):
    serializer_class = RegistrySerializer

    @extend_schema(responses=RegistrySerializer(many=True))
    def get(self, request):
        return Response([{"name": n, "label": t.label} for n, t in sorted(all_task_types().items())])


class StrategiesApi(GenericAPIView):
    serializer_class = RegistrySerializer

    @extend_schema(responses=RegistrySerializer(many=True))
    def get(self, request):
        return Response([{"name": n, "label": s.label} for n, s in sorted(all_strategies().items())])
