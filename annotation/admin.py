from django.contrib import admin

from annotation.models import Annotation, Assignment, Item, Study, StudyMembership


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "task_type", "strategy", "status", "owner", "created_at"]
    search_fields = ["slug", "name"]


@admin.register(StudyMembership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["study", "user", "role", "joined_at"]
    list_filter = ["role"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["external_id", "study", "doc_id", "seg_id"]
    search_fields = ["external_id"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "study", "unit", "annotator", "status", "strategy", "propensity", "expires_at"]
    list_filter = ["status"]
    raw_id_fields = ["unit", "annotator", "study"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "study", "unit", "annotator", "submitted_at"]
    raw_id_fields = ["unit", "annotator", "study", "item", "assignment", "supersedes"]

    def has_change_permission(self, request, obj=None):
        return False  # immutable
