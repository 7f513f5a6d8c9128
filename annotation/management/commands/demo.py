"""Load a demo: a researcher, an annotator and one live study of each task type on real
data (annotation/demo_data/SOURCE.md says where each excerpt comes from)."""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.models import Study, StudyMembership
from annotation.services import items_import, membership_add, study_create

DATA = Path(__file__).resolve().parents[2] / "demo_data"
USERS = {"researcher": "researcher-pass", "annotator": "annotator-pass"}
PANDALM = "pandalm_pairwise.jsonl"
SINGLE_ITEMS = 24  # responses (one per unit) taken from the PandaLM pairs for likert and rubric


def pandalm_single(path: Path, limit: int = SINGLE_ITEMS) -> list[str]:
    """Items of one candidate each from the PandaLM pairs: every distinct (instruction,
    response), in file order, as item JSONL lines. Empty responses (PandaLM keeps a few,
    where a model produced nothing) are left out: rating or checking them shows nothing."""
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            item = json.loads(line)
            for cand in item["candidates"]:
                key = (item["prompt"], cand["text"])
                if key in seen or not cand["text"].strip():
                    continue
                seen.add(key)
                out.append(json.dumps({
                    "id": f"{item['id']}-{cand['system']}",
                    "prompt": item["prompt"],
                    "candidates": [{"system": cand["system"], "text": cand["text"]}],
                    "meta": {"source": item["meta"].get("source", "PandaLM testset-v1"), "pair": item["id"]},
                }, ensure_ascii=False))
                if len(out) == limit:
                    return out
    return out


STUDIES = [
    {
        "file": PANDALM,
        "spec": {
            "slug": "demo-pairwise",
            "name": "Which response follows the instruction better?",
            "task_type": "pairwise",
            "task_config": {"allow_tie": True, "allow_both_bad": True},
            "instructions": (
                "Read the instruction, then both responses.\n\n"
                "- Pick the response that follows the instruction **better** (keys `1` / `2`).\n"
                "- `T` if they are equally good, `X` if both are bad.\n"
                "- Judge content, not length."
            ),
            "redundancy": 3,
            "strategy": {"name": "balanced"},
            "quality": {"min_seconds_per_unit": 3},
            "status": "live",
        },
    },
    {
        "file": PANDALM,
        "single": True,
        "spec": {
            "slug": "demo-likert",
            "name": "Rate one response to an instruction",
            "task_type": "likert",
            "task_config": {
                "aspects": [
                    {"name": "helpfulness", "scale": [1, 5], "labels": {"1": "useless", "3": "partly", "5": "fully"}},
                    {"name": "correctness", "scale": [0, 2], "labels": {"0": "wrong", "1": "minor errors", "2": "correct"}},
                    {"name": "verbosity", "scale": [1, 5], "labels": {"1": "too short", "3": "just right", "5": "too long"}},
                    {"name": "overall", "scale": [0, 100], "labels": {"0": "unusable", "50": "acceptable", "100": "perfect"}},
                ],
            },
            "instructions": (
                "Read the instruction and the response, then rate the response on each aspect.\n\n"
                "- Digits pick a point of the highlighted aspect and move to the next one.\n"
                "- *Overall* is a slider: type a number (e.g. `7` `3`) or use `←` `→`, then `Enter`.\n"
                "- The next response comes as soon as every aspect is rated; `Backspace` goes back."
            ),
            "redundancy": 3,
            "strategy": {"name": "balanced"},
            "quality": {"min_seconds_per_unit": 3},
            "status": "live",
        },
    },
    {
        "file": "mqm_ted_ende_talk1.tsv",
        "format": "mqm-tsv",
        "spec": {
            "slug": "demo-mqm",
            "name": "Mark the errors in German translations of a TED talk",
            "task_type": "mqm",
            "task_config": {"esa_score": True, "max_errors": 5},
            "instructions": (
                "Each screen shows an English sentence (the source) and one German translation of it, "
                "in the order of the talk.\n\n"
                "1. **Select** each error in the translation with the mouse (or a problem in the source). "
                "Type a few letters to find its category, `Enter`, then its severity: `M` minor, `J` major, "
                "`N` neutral.\n"
                "2. A translation without errors: press `0` (*No error*). A sentence left in English: `W` "
                "(*Non-translation*, no span needed).\n"
                "3. Give an overall score from 0 to 100 (`S`, type it, `Enter` submits).\n\n"
                "Major: the meaning changes, or a reader would be misled or stumble. Minor: noticeable, but "
                "the meaning comes across. At most 5 errors per sentence: mark the worst ones."
            ),
            "redundancy": 2,
            "strategy": {"name": "balanced"},
            "status": "live",
        },
    },
    {
        "file": PANDALM,
        "single": True,
        "spec": {
            "slug": "demo-rubric",
            "name": "Check a response against a rubric",
            "task_type": "rubric",
            "task_config": {
                "criteria": [
                    {"id": "follows", "text": "Does what the instruction asks", "weight": 2, "evidence": "optional"},
                    {
                        "id": "main-point",
                        "text": "Its main point is relevant to the instruction (select the main point)",
                        "weight": 2,
                        "evidence": "required",
                    },
                    {"id": "correct", "text": "Everything it states is correct", "weight": 2, "evidence": "optional"},
                    {"id": "concise", "text": "Free of unneeded words and repetition"},
                    {"id": "fluency", "text": "Fluency of the language (0 = broken, 3 = flawless)", "scale": [0, 3]},
                ],
            },
            "instructions": (
                "Answer every criterion for the response.\n\n"
                "- `Y` / `P` / `N`: yes, partly, no; digits for a scale.\n"
                "- Where a criterion asks for evidence, **select** it in the response with the mouse "
                "(before or after answering); `Delete` removes it.\n"
                "- `Tab` moves between criteria; `Enter` submits."
            ),
            "redundancy": 2,
            "strategy": {"name": "balanced"},
            "quality": {"min_seconds_per_unit": 3},
            "status": "live",
        },
    },
]


class Command(BaseCommand):
    help = "Create demo users and one demo study per task type (safe to run again)."

    def handle(self, *args, **opts):
        users = get_user_model().objects
        with transaction.atomic():
            created = {}
            for name, password in USERS.items():
                user, new = users.get_or_create(username=name)
                if new:
                    user.set_password(password)
                    user.save()
                created[name] = user
            created["researcher"].user_permissions.add(Permission.objects.get(codename="add_study"))
            for entry in STUDIES:
                study = Study.objects.filter(slug=entry["spec"]["slug"]).first()
                if study is None:
                    study = study_create(owner=created["researcher"], spec=entry["spec"])
                    path = DATA / entry["file"]
                    if entry.get("single"):
                        items_import(study=study, lines=pandalm_single(path))
                    else:
                        with path.open(encoding="utf-8", newline="") as fh:
                            items_import(study=study, lines=fh, format_name=entry.get("format", "jsonl"))
                membership_add(study=study, user=created["annotator"], role=StudyMembership.Role.ANNOTATOR)
        self.stdout.write("Demo ready:")
        for name, password in USERS.items():
            self.stdout.write(f"  {name:<11} sign in as {name!r} with password {password!r}")
        for entry in STUDIES:
            study = Study.objects.get(slug=entry["spec"]["slug"])
            self.stdout.write(
                f"  study {study.slug} ({study.task_type}): {study.items.count()} items, invite link /join/{study.invite_token}/"
            )
