"""Browser pages. Views stay thin: they check who may see a page, call one service or
selector, and turn domain errors (annotation.errors) into messages next to the field they
name. The annotator app itself talks to the REST API from static/frontend/annotate.js."""

from __future__ import annotations

import io
import json
from functools import wraps

import bleach
import markdown
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.forms.utils import ErrorDict
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from annotation import ratelimit, selectors, services
from annotation.errors import DomainError, Invalid
from annotation.models import Assignment, Study, StudyMembership, Unit
from annotation.permissions import can_annotate, can_create_studies, can_manage, role_in
from annotation.quality import crowd_status
from annotation.spec import QUALITY_DEFAULTS
from exports.models import ExportJob
from exports.services import (
    export_create,
    export_retry,
    import_create,
    import_lines_read,
    judge_scores_import,
)
from frontend.forms import (
    ExportForm,
    ItemUploadForm,
    ResearcherAddForm,
    SignUpForm,
    StrategyForm,
    StudyForm,
    strategy_defaults,
    task_type_defaults,
)
from frontend.middleware import FRAME_SESSION_KEY

# Defence in depth for pages that show untrusted model output: no inline script, no
# third-party host, ever. The pages need nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def mturk_frame(response, study: Study | None):
    """Let MTurk's worker site frame this page of an MTurk study (ExternalQuestion), and its
    forms post to MTurk (the HIT's submission): exactly the MTURK_ORIGINS, nothing else."""
    if study is None or study.crowd.get("platform") != "mturk":
        return response
    origins = " ".join(settings.MTURK_ORIGINS)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origins}"
    ).replace("frame-ancestors 'none'", f"frame-ancestors {origins}")
    response.xframe_options_exempt = True
    return response


def csp(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return wrapped


_login = LoginView.as_view(template_name="frontend/login.html", redirect_authenticated_user=True)


def _too_many(verdict: ratelimit.Verdict) -> str:
    return f"Too many attempts from here; try again in {verdict.retry_after} seconds."


@csp
def sign_in(request, *args, **kwargs):
    """The sign-in page; its POSTs are rate-limited per address and per username."""
    if request.method == "POST":
        verdict = ratelimit.check(request, "login", settings.LOGIN_RATE, username=request.POST.get("username", ""))
        if not verdict.allowed:
            form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
            form.cleaned_data, form._errors = {}, ErrorDict()  # an unchecked form that shows one error
            form.add_error(None, _too_many(verdict))
            response = render(request, "frontend/login.html", {"form": form, "next": request.POST.get("next", "")}, status=429)
            response.headers["Retry-After"] = str(verdict.retry_after)
            return response
    return _login(request, *args, **kwargs)


# Instructions are Markdown written by researchers; annotators see them as HTML, so they
# are sanitized with a strict allowlist (no images: they would fetch from other hosts).
ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "b", "em", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del", "kbd",
}
ALLOWED_ATTRIBUTES = {"a": ["href", "title"], "th": ["align"], "td": ["align"]}


def _link_attrs(attrs, new=False):
    attrs[(None, "rel")] = "nofollow noopener noreferrer"
    attrs[(None, "target")] = "_blank"
    return attrs


def render_instructions(text: str) -> str:
    html = markdown.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    clean = bleach.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, protocols={"http", "https", "mailto"}, strip=True)
    return bleach.linkify(clean, callbacks=[_link_attrs], skip_tags={"pre", "code"}, parse_email=False)


def _not_found(request, message: str):
    return render(request, "frontend/not_found.html", {"message": message}, status=404)


def _study(slug: str) -> Study | None:
    return Study.objects.filter(slug=slug).first()


def _fill_percent(done: int, target: int) -> float:
    return round(100.0 * done / target, 1) if target else 0.0


# --- home ---------------------------------------------------------------------------------


@csp
@login_required
def home(request):
    managed, annotating = [], []
    for study in selectors.studies_for_user(request.user).order_by("-created_at"):
        role = role_in(request.user, study)
        if role in ("owner", "researcher"):
            fill = selectors.study_fill(study)
            managed.append({"study": study, "role": role, "fill": fill, "percent": _fill_percent(fill["study_judgments"], fill["study_target"])})
        elif role == "annotator":
            progress = selectors.annotator_progress(study, request.user)
            annotating.append({"study": study, "progress": progress})
    return render(
        request,
        "frontend/home.html",
        {"managed": managed, "annotating": annotating, "can_create": can_create_studies(request.user)},
    )


# --- new study ----------------------------------------------------------------------------


@csp
@login_required
def study_new(request):
    if not can_create_studies(request.user):
        return render(
            request,
            "frontend/message.html",
            {"title": "Not allowed", "message": "Your account may not create studies. Ask an admin for the researcher permission."},
            status=403,
        )
    form = StudyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                study = services.study_create(owner=request.user, spec=form.spec())
            except Invalid as exc:
                _attach_errors(form, exc)
            else:
                messages.success(request, f"Study “{study.name}” created.")
                return redirect("study_detail", slug=study.slug)
        status = 400
    context = {"form": form, "task_defaults": task_type_defaults(), "strategy_defaults": strategy_defaults()}
    return render(request, "frontend/study_new.html", context, status=status)


def _attach_errors(form, exc: DomainError, fallback: str | None = None) -> None:
    """Put each error of a domain error next to the form field its dotted path names."""
    if not exc.errors:
        form.add_error(fallback, exc.message)
        return
    for path, message in exc.errors.items():
        field = form.field_for(path) if hasattr(form, "field_for") else (path.split(".", 1)[0] if path.split(".", 1)[0] in form.fields else None)
        form.add_error(field or fallback, f"{path}: {message}")


# --- study page (researchers) -------------------------------------------------------------

STATUS_ACTIONS = {
    "draft": [("live", "Go live")],
    "live": [("paused", "Pause"), ("closed", "Close")],
    "paused": [("live", "Resume (go live)"), ("closed", "Close")],
    "closed": [("live", "Reopen (go live)")],
}


def _managed_study(request, slug: str) -> Study | None:
    study = _study(slug)
    if study is None or not can_manage(request.user, study):
        return None
    return study


def _study_page(request, study: Study, *, status: int = 200, **extra):
    role = role_in(request.user, study)
    researchers = (
        StudyMembership.objects.filter(study=study, role=StudyMembership.Role.RESEARCHER)
        .select_related("user")
        .order_by("joined_at")
    )
    context = {
        "study": study,
        "role": role,
        "is_owner": role == "owner",
        "spec_json": json.dumps(study.spec(), indent=2, ensure_ascii=False),
        "progress": selectors.study_progress(study),
        "invite_url": request.build_absolute_uri(reverse("join", args=[study.invite_token])),
        "status_actions": STATUS_ACTIONS.get(study.status, []),
        "researchers": [m.user.username for m in researchers],
        "exports": list(study.exports.all()[:50]),
        "imports": _imports_shown(study),
        "background_import_mb": round(settings.BACKGROUND_IMPORT_BYTES / 2**20, 1),
        "upload_form": ItemUploadForm(),
        "export_form": ExportForm(),
        "researcher_form": ResearcherAddForm(),
        "strategy_form": StrategyForm(study=study),
        "strategy_defaults": strategy_defaults(),
        "crowd_url": _crowd_url(request, study),
        "quality": {**QUALITY_DEFAULTS, **study.quality},
        **extra,
    }
    return render(request, "frontend/study_detail.html", context, status=status)


# The entry link a crowd platform opens, with the placeholders it fills in. MTurk appends
# workerId, assignmentId and hitId to an external URL by itself.
CROWD_LINK_QUERY = {
    "prolific": "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}",
    "mturk": "",
}
PLATFORM_NAMES = {"prolific": "Prolific", "mturk": "MTurk"}


def _crowd_url(request, study: Study) -> str:
    platform = study.crowd.get("platform", "")
    if not platform:
        return ""
    return request.build_absolute_uri(reverse("crowd_entry", args=[study.invite_token])) + CROWD_LINK_QUERY.get(platform, "")


@csp
@login_required
@ensure_csrf_cookie
def study_detail(request, slug: str):
    study = _managed_study(request, slug)
    if study is None:
        return _not_found(request, f"There is no study “{slug}” that you manage.")
    return _study_page(request, study)


@csp
@login_required
@require_POST
def study_status(request, slug: str):
    study = _managed_study(request, slug)
    if study is None:
        return _not_found(request, f"There is no study “{slug}” that you manage.")
    try:
        services.study_set_status(study=study, status=request.POST.get("status", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The study is now {study.status}.")
    return redirect("study_detail", slug=study.slug)


@csp
@login_required
@require_POST
def study_upload(request, slug: str):
    study = _managed_study(request, slug)
    if study is None:
        return _not_found(request, f"There is no study “{slug}” that you manage.")
    form = ItemUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _study_page(request, study, status=400, upload_form=form)
    uploaded = form.cleaned_data["file"]
    kind, format_name = form.cleaned_data["kind"], form.cleaned_data["format"]
    background = form.cleaned_data["background"] or uploaded.size > settings.BACKGROUND_IMPORT_BYTES or (uploaded.name or "").endswith(".gz")
    try:
        if uploaded.size > settings.MAX_UPLOAD_BYTES:
            raise Invalid(f"file: larger than {settings.MAX_UPLOAD_BYTES} bytes", {"file": "too large"})
        if background:
            job = import_create(study=study, user=request.user, kind=kind, format_name=format_name, uploaded=uploaded)
        else:
            lines = io.TextIOWrapper(uploaded.file, encoding="utf-8", newline="")
            if kind == "scores":
                result = judge_scores_import(study=study, lines=lines, format_name=format_name)
            elif kind == "judgments":
                result = services.judgments_import(study=study, lines=lines, format_name=format_name)
            else:
                result = services.items_import(study=study, lines=lines, format_name=format_name)
    except DomainError as exc:
        return _study_page(request, study, status=400, upload_form=form, upload_error=exc.message, upload_errors=exc.errors)
    if background:
        messages.success(request, f"Import #{job.pk} of {uploaded.name} runs in the background; its progress and result are shown below.")
        return redirect(reverse("study_detail", args=[study.slug]) + "#imports")
    if kind == "scores":
        n = result["scores"]
        messages.success(request, f"Imported {n} judge score{'s' if n != 1 else ''} ({', '.join(result['judges'])}) from {uploaded.name}.")
    elif kind == "judgments":
        n = result["judgments"]
        messages.success(request, f"Imported {n} judgment{'s' if n != 1 else ''} from {uploaded.name}"
                                  + (f" (and {result['items']} items)" if result.get("items") else "") + ".")
    else:
        items = result["items"]
        messages.success(
            request,
            f"Imported {items} item{'s' if items != 1 else ''} from {uploaded.name}; the study now has {result['units_in_study']} units.",
        )
    return redirect(reverse("study_detail", args=[study.slug]) + "#items")


def _imports_shown(study: Study) -> list:
    jobs = list(study.imports.all()[:20])
    for job in jobs:
        job.lines_read = import_lines_read(job)
        # (counts has a key "items": a template cannot loop over counts.items)
        job.result = " · ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in (job.counts or {}).items())
    return jobs


@csp
@login_required
@require_POST
def study_invite_reset(request, slug: str):
    study = _managed_study(request, slug)
    if study is None:
        return _not_found(request, f"There is no study “{slug}” that you manage.")
    services.study_reset_invite(study=study)
    messages.success(request, "A new invite link was made; the old one no longer works.")
    return redirect(reverse("study_detail", args=[study.slug]) + "#invite")


@csp
@login_required
@require_POST
def study_researcher_add(request, slug: str):
    study = _managed_study(request, slug)
    if study is None:
        return _not_found(request, f"There is no study “{slug}” that you manage.")
    if role_in(request.user, study) != "owner":  # the form is shown to the owner only
        return render(request, "frontend/message.html", {"title": "Not allowed", "message": "Only the study's owner may add researchers."},
                      status=403)
    form = ResearcherAddForm(request.POST)
    if form.is_valid():
        user = get_user_model().objects.filter(username=form.cleaned_data["username"].strip()).first()
        if user is None:
            form.add_error("username", f"No user named “{form.cleaned_data['username']}”.")
        else:
            try:
                services.membership_add(study=study, user=user, role=StudyMembership.Role.RESEARCHER)
            except DomainError as exc:
                _attach_errors(form, exc)
            else:
                messages.success(request, f"{user.username} is now a researcher of this study.")
                return redirect(reverse("study_detail", args=[study.slug]) + "#team")
    return _study_page(request, study, status=400, researcher_form=form)


@csp
@login_required
@require_POST
def study_export_create(request, slug: str):
    study = _managed_study(request, slug)
    if study is None:
        return _not_found(request, f"There is no study “{slug}” that you manage.")
    form = ExportForm(request.POST)
    if form.is_valid():
        try:
            job = export_create(study=study, user=request.user, format_name=form.cleaned_data["format"], options=form.cleaned_data["options"])
        except DomainError as exc:
            _attach_errors(form, exc, fallback="options")
        else:
            job.refresh_from_db()  # queued after commit: it may have failed to reach the task queue
            if job.status == ExportJob.Status.FAILED:
                messages.error(request, f"Export #{job.pk} ({job.format}) failed: {job.error}")
            else:
                messages.success(request, f"Export #{job.pk} ({job.format}) started.")
            return redirect(reverse("study_detail", args=[study.slug]) + "#exports")
    return _study_page(request, study, status=400, export_form=form)


@csp
@login_required
@require_POST
def study_export_retry(request, slug: str, job_id: int):
    """Run a failed export (or one whose worker stopped responding) again."""
    study = _managed_study(request, slug)
    job = study.exports.filter(pk=job_id).first() if study is not None else None
    if job is None:
        return _not_found(request, f"There is no export #{job_id} of a study “{slug}” that you manage.")
    try:
        job = export_retry(job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if job.status == ExportJob.Status.FAILED:  # e.g. the task queue is still unreachable
            messages.error(request, f"Export #{job.pk} ({job.format}) failed again: {job.error}")
        else:
            messages.success(request, f"Export #{job.pk} ({job.format}) started again.")
    return redirect(reverse("study_detail", args=[study.slug]) + "#exports")


@csp
@login_required
@require_POST
def study_strategy(request, slug: str):
    """Pick another elicitation strategy (or other params); allowed while the study is live."""
    study = _managed_study(request, slug)
    if study is None:
        return _not_found(request, f"There is no study “{slug}” that you manage.")
    form = StrategyForm(request.POST, study=study)
    if form.is_valid():
        try:
            services.study_update(study=study, changes=form.changes())
        except DomainError as exc:
            study.refresh_from_db()
            _attach_errors(form, exc, fallback="strategy_params")
        else:
            messages.success(request, f"The study now uses the {study.strategy} strategy.")
            return redirect(reverse("study_detail", args=[study.slug]) + "#strategy")
    return _study_page(request, study, status=400, strategy_form=form)


# --- dashboard ----------------------------------------------------------------------------


def _comparable_studies(user, study: Study) -> list[Study]:
    """Studies the report may compare with (cross-elicitation): the same owner, the other
    kind of task (pairwise vs score-based), managed by this user."""
    pairwise = study.task_type == "pairwise"
    candidates = selectors.studies_for_user(user).filter(owner_id=study.owner_id).exclude(pk=study.pk).order_by("slug")
    candidates = candidates.exclude(task_type="pairwise") if pairwise else candidates.filter(task_type="pairwise")
    return [s for s in candidates[:200] if can_manage(user, s)]


@csp
@login_required
def study_dashboard(request, slug: str):
    """Pictures of the study report. The page is a frame: dashboard.js loads the report from
    the API (it can take seconds on a big study) and draws it."""
    study = _managed_study(request, slug)
    if study is None:
        return _not_found(request, f"There is no study “{slug}” that you manage.")
    context = {
        "study": study,
        "report_url": reverse("api-study-report", args=[study.slug]),
        "compare_choices": _comparable_studies(request.user, study),
        "compare_selected": request.GET.get("compare", ""),  # a link may name the study to compare with
    }
    return render(request, "frontend/dashboard.html", context)


# --- join ---------------------------------------------------------------------------------


@csp
def join(request, token: str):
    study = Study.objects.filter(invite_token=token).first()
    if study is None:
        return _not_found(request, "This invite link is not valid (it may have been replaced). Ask the researcher for a new link.")
    user = request.user
    if user.is_authenticated and request.method == "GET" and can_annotate(user, study):
        return redirect("study_annotate", slug=study.slug)
    signup_form = SignUpForm(prefix="signup")
    signin_form = AuthenticationForm(request, prefix="signin")
    error, status = "", 200
    limited = None
    if request.method == "POST":  # sign-ups, sign-ins and joins: rate-limited per address
        username = request.POST.get("signin-username", "") if request.POST.get("action") == "signin" else ""
        limited = ratelimit.check(request, "join", settings.JOIN_RATE, username=username)
    if study.status == Study.Status.CLOSED:
        error, status = "This study is closed: it takes no new annotators.", 403
    elif limited is not None and not limited.allowed:
        error, status = _too_many(limited), 429
    elif request.method == "POST":
        action = request.POST.get("action")
        if action == "signup" and not user.is_authenticated:
            signup_form = SignUpForm(request.POST, prefix="signup")
            if signup_form.is_valid():
                user = signup_form.save()
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        elif action == "signin" and not user.is_authenticated:
            signin_form = AuthenticationForm(request, data=request.POST, prefix="signin")
            if signin_form.is_valid():
                user = signin_form.get_user()
                login(request, user)
        if not user.is_authenticated:
            status = 400
        else:
            try:
                services.study_join(token=token, user=user)
            except DomainError as exc:
                error, status = exc.message, exc.status
            else:
                if can_annotate(user, study):
                    return redirect("study_annotate", slug=study.slug)
                messages.info(request, "You manage this study, so you were not added as an annotator.")
                return redirect("study_detail", slug=study.slug)
    context = {
        "study": study,
        "error": error,
        "signup_form": signup_form,
        "signin_form": signin_form,
        "manages": user.is_authenticated and can_manage(user, study),
    }
    response = render(request, "frontend/join.html", context, status=status)
    if status == 429:
        response.headers["Retry-After"] = str(limited.retry_after)
    return response


# --- annotator app ------------------------------------------------------------------------


@csp
@login_required
@ensure_csrf_cookie
def study_annotate(request, slug: str):
    study = _study(slug)
    if study is None or not can_annotate(request.user, study):
        return _not_found(request, f"There is no study “{slug}” that you annotate.")
    crowd = _crowd_state(study, request.user) if _crowd_worker(study, request.user) else None
    if crowd is not None and (crowd["excluded"] or crowd["quota_met"]):
        return mturk_frame(redirect("study_complete", slug=study.slug), study)  # nothing more to do here
    progress = selectors.annotator_progress(study, request.user)
    context = {
        "study": study,
        "instructions_html": render_instructions(study.instructions),
        "progress": progress,
        "study_percent": _fill_percent(progress["study_judgments"], progress["study_target"]),
        "next_url": reverse("api-next", args=[study.slug]),
        "submit_url": reverse("api-submit", args=[0]),
        # A crowd worker finishes on the completion page (code or redirect), others on "done".
        "done_url": reverse("study_complete" if crowd is not None else "study_done", args=[study.slug]),
        "crowd_quota": crowd["quota"] if crowd is not None else 0,
    }
    response = render(request, "frontend/annotate.html", context)
    return mturk_frame(response, study) if crowd is not None else response


@csp
@login_required
def study_done(request, slug: str):
    study = _study(slug)
    if study is None or not can_annotate(request.user, study):
        return _not_found(request, f"There is no study “{slug}” that you annotate.")
    if _crowd_worker(study, request.user):
        return mturk_frame(redirect("study_complete", slug=study.slug), study)
    progress = selectors.annotator_progress(study, request.user)
    return render(request, "frontend/done.html", {"study": study, "progress": progress})


# --- crowd platforms ----------------------------------------------------------------------

MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"  # MTurk's assignmentId while a worker previews a HIT
MTURK_ASSIGNMENT_KEY = "mturk_assignment_id"  # session: the HIT assignment to hand in
CROWD_REFUSALS = {
    400: ("This link is incomplete", "Open the study again from {platform}: the link must carry your {platform} id and session."),
    403: ("You cannot start this study", ""),
    404: ("This link is not valid", "Check that you opened the whole link, or ask the researcher for the current one."),
}


def _crowd_message(request, *, title: str, message: str, hint: str = "", status: int = 200, study=None, instructions: bool = False):
    context = {"title": title, "message": message, "hint": hint, "study": study,
               "instructions_html": render_instructions(study.instructions) if instructions and study else ""}
    return mturk_frame(render(request, "frontend/crowd_message.html", context, status=status), study)


@csp
def crowd_entry(request, token: str):
    """The entry link of a crowd study (no account needed): the platform's query parameters
    name the worker and session; the worker is signed in as their pseudonymous annotator."""
    study = Study.objects.filter(invite_token=token).first()
    platform = (study.crowd.get("platform", "") if study else "") or ""
    name = PLATFORM_NAMES.get(platform, "the crowd platform")
    if platform == "mturk" and request.GET.get("assignmentId") == MTURK_PREVIEW:
        # MTurk's preview: what the task is, and nothing stored (no annotator yet)
        return _crowd_message(request, title=study.name, message="This is a preview. Accept the HIT to start annotating.", study=study,
                              instructions=True)
    verdict = ratelimit.check(request, "crowd", settings.JOIN_RATE)
    if not verdict.allowed:
        response = _crowd_message(request, title="Please wait a moment", message=_too_many(verdict), status=429)
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    submit_to = request.GET.get("turkSubmitTo", "")
    if platform == "mturk" and submit_to not in settings.MTURK_ORIGINS:
        # the HIT is handed in by a form POST there: only to MTurk itself
        return _crowd_message(request, title=CROWD_REFUSALS[400][0], message="turkSubmitTo: missing, or not an MTurk address.",
                              hint=CROWD_REFUSALS[400][1].format(platform=name), status=400, study=study)
    try:
        study, user = services.crowd_enter(token=token, params=request.GET)
    except DomainError as exc:
        title, hint = CROWD_REFUSALS.get(exc.status, CROWD_REFUSALS[400])
        return _crowd_message(request, title=title, message=exc.message, hint=hint.format(platform=name), status=exc.status,
                              study=study if exc.status != 404 else None)
    if request.user.pk != user.pk:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # a new session: the old one ends
    if platform == "mturk":
        request.session[FRAME_SESSION_KEY] = submit_to
        request.session[MTURK_ASSIGNMENT_KEY] = request.GET["assignmentId"]  # checked by crowd_enter
    return mturk_frame(redirect("study_annotate", slug=study.slug), study)


def _crowd_worker(study: Study, user) -> bool:
    """Whether this annotator came in through the study's crowd entry link (the completion
    code is theirs only: someone who joined through the invite page has no submission to
    complete on the platform)."""
    platform = study.crowd.get("platform", "")
    return bool(platform) and StudyMembership.objects.filter(study=study, user=user, platform=platform).exclude(worker_id="").exists()


def _units_left_for(study: Study, user) -> bool:
    """Whether this annotator holds a unit or could still be handed a regular one."""
    if Assignment.objects.filter(study=study, annotator=user, status=Assignment.Status.ACTIVE, expires_at__gt=timezone.now()).exists():
        return True
    return (
        Unit.objects.filter(study=study, kind=Unit.Kind.REGULAR, n_taken__lt=study.redundancy)
        .exclude(assignments__annotator=user)
        .exists()
    )


def _crowd_state(study: Study, user) -> dict:
    """crowd_status plus what the pages need: whether the quota is met, what is left, and
    whether the completion code is earned (quota met, or nothing left after some work; and
    never when excluded by the quality checks)."""
    status = crowd_status(study, user)
    quota, done = status["quota"], status["done"]
    quota_met = quota > 0 and done >= quota
    nothing_left = not quota_met and not _units_left_for(study, user)
    return {
        **status,
        "quota_met": quota_met,
        "nothing_left": nothing_left,
        "left": max(0, quota - done) if quota else None,
        "earned": not status["excluded"] and (quota_met or (nothing_left and done > 0)),
    }


@csp
@login_required
def study_complete(request, slug: str):
    """The end of a crowd worker's task: the completion code (or the platform's redirect)
    once the quota is done and the quality checks are passed; otherwise what is missing.
    With Accept: application/json, only whether the code is earned (for the annotator app)."""
    study = _study(slug)
    if study is None or not can_annotate(request.user, study):
        return _not_found(request, f"There is no study “{slug}” that you annotate.")
    if not _crowd_worker(study, request.user):
        return redirect("study_done", slug=study.slug)
    state = _crowd_state(study, request.user)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"finished": state["earned"] or state["excluded"]})
    mturk = None
    if study.crowd["platform"] == "mturk" and state["earned"] and request.session.get(FRAME_SESSION_KEY) in settings.MTURK_ORIGINS:
        # the worker hands the HIT in to MTurk with this form (MTurk's externalSubmit)
        mturk = {"action": request.session[FRAME_SESSION_KEY] + "/mturk/externalSubmit",
                 "assignment_id": request.session.get(MTURK_ASSIGNMENT_KEY, "")}
    elif state["earned"] and study.crowd.get("redirect_url"):
        return redirect(study.crowd["redirect_url"])
    context = {
        "study": study,
        "state": state,
        "platform": PLATFORM_NAMES.get(study.crowd["platform"], study.crowd["platform"]),
        "code": study.crowd.get("completion_code", "") if state["earned"] else "",
        "mturk": mturk,
    }
    response = mturk_frame(render(request, "frontend/complete.html", context), study)
    response.headers["Cache-Control"] = "no-store"  # a code must not outlive the session in a cache
    return response
