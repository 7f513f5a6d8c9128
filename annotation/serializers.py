"""API shapes. Validation of content belongs to the services (spec, task types, formats);
these serializers only describe and render."""

from rest_framework import serializers

from annotation.models import Study


class StudySerializer(serializers.ModelSerializer):
    strategy = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = [
            "slug", "name", "task_type", "task_config", "instructions", "redundancy", "strategy",
            "quality", "status", "created_at", "role",
        ]

    def get_strategy(self, study) -> dict:
        return {"name": study.strategy, "params": study.strategy_params}

    def get_role(self, study) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(study.pk)


class StudySpecSerializer(serializers.Serializer):
    """The study spec of DESIGN.md; validated in full by the service (errors name the key)."""

    slug = serializers.CharField()
    name = serializers.CharField()
    task_type = serializers.CharField()
    task_config = serializers.JSONField(required=False)
    instructions = serializers.CharField(required=False, allow_blank=True)
    redundancy = serializers.IntegerField(required=False)
    strategy = serializers.JSONField(required=False)
    quality = serializers.JSONField(required=False)
    status = serializers.CharField(required=False)


class StudyPatchSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    instructions = serializers.CharField(required=False, allow_blank=True)
    redundancy = serializers.IntegerField(required=False)
    strategy = serializers.JSONField(required=False)
    quality = serializers.JSONField(required=False)
    status = serializers.CharField(required=False)
    task_config = serializers.JSONField(required=False)


class ItemUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.CharField(required=False, default="jsonl")


class ImportResultSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    units_in_study = serializers.IntegerField()


class CandidateOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()


class UnitSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    unit_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    prompt = serializers.JSONField(help_text="text, or a list of {role, content} messages")
    reference = serializers.CharField()
    candidates = CandidateOutSerializer(many=True, help_text="in display order")
    task = serializers.JSONField()


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    study_judgments = serializers.IntegerField()
    study_target = serializers.IntegerField()


class NextSerializer(serializers.Serializer):
    unit = UnitSerializer(allow_null=True, help_text="null when nothing is left for you")
    progress = ProgressSerializer()
    detail = serializers.CharField(required=False, help_text="why no unit comes next (e.g. the study was paused)")
    ahead = UnitSerializer(
        allow_null=True,
        required=False,
        help_text="with ?ahead=1: the unit after `unit`, leased too, so that the page can show it the moment `unit` is answered",
    )


class SubmitSerializer(serializers.Serializer):
    response = serializers.JSONField(help_text="task-type specific, e.g. pairwise {choice: <candidate id>|'tie'|'both_bad'}")
    idempotency_key = serializers.CharField(max_length=64)
    duration_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)


class AnnotationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    unit_id = serializers.IntegerField()
    response = serializers.JSONField()
    display_order = serializers.JSONField()
    submitted_at = serializers.DateTimeField()


class SubmitResultSerializer(serializers.Serializer):
    annotation = AnnotationOutSerializer()
    created = serializers.BooleanField()
    next = NextSerializer()


class InviteSerializer(serializers.Serializer):
    url = serializers.CharField()
    token = serializers.CharField()


class ResearcherAddSerializer(serializers.Serializer):
    username = serializers.CharField()


class ProgressOutSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    units = serializers.IntegerField()
    units_complete = serializers.IntegerField()
    judgments = serializers.IntegerField()
    judgments_target = serializers.IntegerField()
    active_leases = serializers.IntegerField()
    percent = serializers.FloatField()
    annotators = serializers.IntegerField()
    per_annotator = serializers.ListField(child=serializers.DictField())


class RegistrySerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
