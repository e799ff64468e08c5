"""Data model of the study site.

Invariants live in the database where it can hold them: one answer per trial
(``Response.trial`` is one-to-one), one session per recruitment id per study, one
trial per position per participant, unique content hashes for media.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from contracts.export_format import MULTIPLE_CHOICE_SEPARATOR, question_column_problem


class Bundle(models.Model):
    """An imported stimulus bundle (manifest kept verbatim for provenance)."""

    name = models.CharField(max_length=200)
    manifest = models.JSONField()
    manifest_sha256 = models.CharField(max_length=64, unique=True)
    format_version = models.PositiveSmallIntegerField()
    architecture = models.CharField(max_length=32)
    task = models.CharField(max_length=32)
    classes = models.JSONField()
    weights_sha256 = models.CharField(max_length=64)
    imported_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.architecture}/{self.task}, {self.manifest_sha256[:8]})"

    @property
    def methods(self) -> list[str]:
        return sorted(self.manifest.get("methods", {}))


class MediaFile(models.Model):
    """A file stored once by content hash under MEDIA_ROOT (``ab/abcdef....wav``)."""

    sha256 = models.CharField(max_length=64, unique=True)
    media_type = models.CharField(max_length=32)
    path = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    duration_s = models.FloatField(null=True, blank=True)
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    width_px = models.PositiveIntegerField(null=True, blank=True)
    height_px = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.media_type})"


class Stimulus(models.Model):
    """One explained model decision from a bundle: a clip plus its renderings."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="stimuli")
    stimulus_id = models.CharField(max_length=64)
    source_recording = models.CharField(max_length=255)
    speaker = models.CharField(max_length=64)
    true_label = models.CharField(max_length=64)
    predicted_label = models.CharField(max_length=64)
    model_correct = models.BooleanField()
    scores = models.JSONField()
    method = models.CharField(max_length=64)
    practice = models.BooleanField(default=False)
    timeline = models.JSONField(null=True, blank=True)
    # Ground truth the informative designs and the simulated participants read (bundle
    # fields of the same names; empty when the bundle does not state them).
    model_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="Key into the bundle's models; empty = its model.",
    )
    cue = models.JSONField(
        null=True, blank=True, help_text="The planted cue in this clip, if stated."
    )
    decision_basis = models.CharField(max_length=8, blank=True, default="")
    relevance_in_cue = models.FloatField(null=True, blank=True)
    label_audible = models.BooleanField(
        null=True, blank=True, help_text="Can the label be heard in the audible explanation?"
    )
    faithfulness = models.JSONField(
        null=True,
        blank=True,
        help_text="The bundle's faithfulness numbers for this explanation (deletion AOPC, "
        "the audible heatmap played back to the model); empty when the bundle has none.",
    )
    original_audio = models.ForeignKey(MediaFile, on_delete=models.PROTECT, related_name="+")
    visual_heatmap = models.ForeignKey(MediaFile, on_delete=models.PROTECT, related_name="+")
    audible_heatmap = models.ForeignKey(MediaFile, on_delete=models.PROTECT, related_name="+")
    plain_image = models.ForeignKey(MediaFile, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name_plural = "stimuli"
        ordering = ["bundle_id", "stimulus_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["bundle", "stimulus_id"], name="stimulus_unique_id_in_bundle"
            ),
            models.CheckConstraint(
                condition=Q(relevance_in_cue__isnull=True)
                | Q(relevance_in_cue__gte=0, relevance_in_cue__lte=1),
                name="stimulus_relevance_in_cue_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stimulus_id} (true {self.true_label}, predicted {self.predicted_label}, {self.method})"


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        PILOT = "pilot"
        LIVE = "live"
        CLOSED = "closed"

    class Task(models.TextChoices):
        FORWARD = "forward", "Forward simulation: which class did the model predict?"
        VERIFICATION = "verification", "Verification: was the model right?"

    class Assignment(models.TextChoices):
        BETWEEN = "between", "Between participants (each participant sees one condition)"
        WITHIN = "within", "Within participants (conditions counterbalanced across trials)"

    class Design(models.TextChoices):
        SINGLE = "single", "One explanation per trial (forward simulation or verification)"
        LEARNING_TEST = "learning_test", "Learning then test (Hase & Bansal 2020)"
        MODEL_COMPARISON = (
            "model_comparison",
            "Cue detection: which of two models relies on something other than the spoken digit?",
        )
        PREFERENCE = "preference", "Preference: which of two explanations is more helpful?"

    class Sampling(models.TextChoices):
        PER_PARTICIPANT = (
            "per_participant",
            "Each participant gets their own balanced sample of the bundle",
        )
        FIXED = "fixed", "Every participant sees the same balanced set (chosen with the study seed)"

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    bundle = models.ForeignKey(Bundle, on_delete=models.PROTECT, related_name="studies")
    seed = models.BigIntegerField(
        default=0, help_text="Base seed of every participant's randomisation."
    )

    consent_text = models.TextField(default="")
    consent_version = models.CharField(max_length=32, default="1")
    instructions_text = models.TextField(default="", blank=True)
    debrief_text = models.TextField(default="", blank=True)

    completion_code = models.CharField(max_length=64, default="", blank=True)
    completion_url = models.URLField(max_length=500, default="", blank=True)
    screenout_code = models.CharField(max_length=64, default="", blank=True)
    screenout_url = models.URLField(max_length=500, default="", blank=True)
    noconsent_code = models.CharField(max_length=64, default="", blank=True)
    noconsent_url = models.URLField(max_length=500, default="", blank=True)

    task = models.CharField(max_length=16, choices=Task.choices, default=Task.FORWARD)
    design = models.CharField(
        max_length=16,
        choices=Design.choices,
        default=Design.SINGLE,
        help_text="What a trial shows and asks; see docs/study-designs.md.",
    )
    explanation_only = models.BooleanField(
        default=False,
        help_text="Hide the original recording: the participant infers the decision from the explanation alone.",
    )
    n_pretest = models.PositiveSmallIntegerField(
        default=0, help_text="Learning then test: trials before learning, without explanations."
    )
    n_learning = models.PositiveSmallIntegerField(
        default=0,
        help_text="Learning then test: trials with explanations and feedback on the model's decision.",
    )
    ask_rating = models.BooleanField(default=False)
    ask_confidence = models.BooleanField(default=False)
    audio_must_finish = models.BooleanField(
        default=True, help_text="Each clip must be heard to the end before answering."
    )
    max_replays = models.PositiveSmallIntegerField(
        default=3, help_text="Replays allowed per clip after the first play (0 = none)."
    )
    allow_seeking = models.BooleanField(default=False)
    allow_back = models.BooleanField(
        default=False, help_text="Participants may change an answer they already gave."
    )

    assignment = models.CharField(
        max_length=8,
        choices=Assignment.choices,
        default=Assignment.BETWEEN,
        help_text="How the explanation-modality factor is assigned.",
    )
    method_assignment = models.CharField(
        max_length=8,
        choices=Assignment.choices,
        default=Assignment.BETWEEN,
        help_text="How the explanation-method factor is assigned (matters only when the study crosses several methods).",
    )
    stimulus_sampling = models.CharField(
        max_length=16,
        choices=Sampling.choices,
        default=Sampling.PER_PARTICIPANT,
        help_text="Within-participant designs always use one fixed set (a Latin square needs it).",
    )
    practice_stimuli = models.ManyToManyField(
        Stimulus,
        blank=True,
        related_name="+",
        help_text="Practice stimuli chosen by the researcher; empty = those the bundle flags as practice.",
    )
    excluded_stimuli = models.ManyToManyField(
        Stimulus,
        blank=True,
        related_name="+",
        help_text="Stimuli never shown in this study.",
    )
    n_trials = models.PositiveSmallIntegerField(default=20)
    n_practice = models.PositiveSmallIntegerField(default=0)
    n_catch = models.PositiveSmallIntegerField(default=0)
    share_incorrect = models.FloatField(
        default=0.5,
        help_text="Share of main trials where the model was wrong (as far as the bundle allows).",
    )
    target_per_condition = models.PositiveIntegerField(default=0, help_text="0 means no limit.")
    target_basis = models.CharField(
        "how the target was chosen",
        max_length=300,
        blank=True,
        default="",
        help_text="As the study page's design sentence states it, e.g. the power analysis "
        "(0.8 power for a 10-point difference; python -m analysis power).",
    )
    time_limit_minutes = models.PositiveIntegerField(default=60)

    demographics = models.JSONField(
        default=list,
        blank=True,
        help_text="Demographic questions to ask: any of age_range, hearing_problems, native_language, audio_device.",
    )
    headphone_screen = models.BooleanField(default=False)
    screen_trials = models.PositiveSmallIntegerField(default=6)
    screen_pass_threshold = models.PositiveSmallIntegerField(default=5)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    live_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the study first went live; its design is frozen from then on.",
    )

    class Meta:
        verbose_name_plural = "studies"
        constraints = [
            models.CheckConstraint(
                condition=Q(share_incorrect__gte=0) & Q(share_incorrect__lte=1),
                name="study_share_incorrect_0_1",
            ),
            models.CheckConstraint(condition=Q(n_trials__gte=1), name="study_at_least_one_trial"),
            models.CheckConstraint(
                condition=Q(screen_pass_threshold__lte=models.F("screen_trials")),
                name="study_screen_threshold_le_trials",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} [{self.slug}, {self.status}]"

    @property
    def is_open(self) -> bool:
        return self.status in {self.Status.PILOT, self.Status.LIVE}


class Condition(models.Model):
    class Modality(models.TextChoices):
        VISUAL = "visual"
        AUDIBLE = "audible"
        BOTH = "both"
        NONE = "none"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conditions")
    name = models.SlugField(max_length=64)
    modality = models.CharField(max_length=8, choices=Modality.choices)
    method = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="Explanation method; empty = any method in the bundle.",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["study_id", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "name"], name="condition_unique_name_in_study"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug}:{self.name}"


class Question(models.Model):
    """A question the researcher adds, asked on its own page before or after the trials.

    Each is one column of participants.csv, named by ``column`` and described in the
    export's codebook (``contracts.export_format.question_column``).
    """

    class Kind(models.TextChoices):
        SINGLE_CHOICE = "single_choice", "Single choice (one option)"
        MULTIPLE_CHOICE = "multiple_choice", "Multiple choice (any options)"
        LIKERT = "likert", "Likert scale (one point of a labelled scale)"
        SHORT_TEXT = "short_text", "Short text"
        NUMBER = "number", "Number"

    class Placement(models.TextChoices):
        BEFORE = "before", "Before the trials"
        AFTER = "after", "After the trials"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order on its page.")
    placement = models.CharField(max_length=8, choices=Placement.choices, default=Placement.BEFORE)
    column = models.CharField(
        max_length=40,
        help_text="Its column in participants.csv (e.g. music_training).",
    )
    text = models.CharField(max_length=500, help_text="The question as the participant reads it.")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SINGLE_CHOICE)
    options = models.TextField(
        blank=True,
        default="",
        help_text="One per line. Choices: the options. Likert: a label for each point, lowest first.",
    )
    minimum = models.FloatField(null=True, blank=True, help_text="Number: the smallest allowed.")
    maximum = models.FloatField(null=True, blank=True, help_text="Number: the largest allowed.")
    required = models.BooleanField(default=True)

    class Meta:
        # Questions before the trials first ("before" sorts after "after"), then by position.
        ordering = ["study_id", "-placement", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "column"], name="question_unique_column_in_study"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.column} ({self.get_kind_display()}, {self.placement} the trials)"

    @property
    def option_list(self) -> list[str]:
        return [line.strip() for line in self.options.splitlines() if line.strip()]

    def clean(self) -> None:
        """Each problem on the field it names, in one line."""
        problems: dict[str, str] = {}
        column = question_column_problem(self.column)
        if column:
            problems["column"] = column
        options = self.option_list
        if self.kind in CHOICE_KINDS:
            problems.update(_option_problems(self.kind, options))
        elif options:
            problems["options"] = f"a {self.get_kind_display().lower()} question has no options"
        if self.kind != self.Kind.NUMBER and (self.minimum, self.maximum) != (None, None):
            problems["minimum"] = "only a number question has a smallest and largest value"
        elif None not in (self.minimum, self.maximum) and self.minimum > self.maximum:
            problems["maximum"] = f"the largest value is below the smallest ({self.minimum:g})"
        if problems:
            raise ValidationError(problems)


CHOICE_KINDS = frozenset({"single_choice", "multiple_choice", "likert"})
LIKERT_POINTS = (2, 11)


def _option_problems(kind: str, options: list[str]) -> dict[str, str]:
    """Why a choice question's options cannot be asked (keyed by field; empty if they can)."""
    if kind == "likert" and not LIKERT_POINTS[0] <= len(options) <= LIKERT_POINTS[1]:
        return {
            "options": f"a Likert scale needs a label for each of its {LIKERT_POINTS[0]} to "
            f"{LIKERT_POINTS[1]} points, one per line (it has {len(options)})"
        }
    if kind != "likert" and len(options) < 2:
        return {"options": "a choice question needs at least two options, one per line"}
    if len(set(options)) < len(options):
        return {"options": "each option must differ from the others"}
    if any(MULTIPLE_CHOICE_SEPARATOR in o or len(o) > 200 for o in options):
        return {
            "options": f"an option may not contain {MULTIPLE_CHOICE_SEPARATOR!r} (it separates "
            "the chosen options in the export) or be longer than 200 characters"
        }
    return {}


class Participant(models.Model):
    class Status(models.TextChoices):
        STARTED = "started"
        DECLINED = "declined"
        SCREENED_OUT = "screened_out"
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        ABANDONED = "abandoned"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    condition = models.ForeignKey(
        Condition, on_delete=models.PROTECT, null=True, blank=True, related_name="participants"
    )
    token = models.CharField(max_length=64, unique=True)
    pseudonym = models.CharField(max_length=16)
    seed = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTED)
    is_pilot = models.BooleanField(default=False)
    arm = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Group of conditions assigned (the condition's name in a between-participant design).",
    )
    rotation = models.PositiveSmallIntegerField(
        default=0, help_text="Latin-square list of a within-participant design."
    )

    recruitment_key = models.CharField(max_length=200, null=True, blank=True)
    prolific_pid = models.CharField(max_length=64, blank=True, default="")
    prolific_study_id = models.CharField(max_length=64, blank=True, default="")
    prolific_session_id = models.CharField(max_length=64, blank=True, default="")
    participant_label = models.CharField(max_length=128, blank=True, default="")

    consent_version = models.CharField(max_length=32, blank=True, default="")
    consented_at = models.DateTimeField(null=True, blank=True)
    demographics = models.JSONField(default=dict, blank=True)
    # Answers to the study's custom questions by placement:
    # {"before": {"answered_at": ISO time, "answers": {column: value}}, "after": {...}}.
    question_answers = models.JSONField(default=dict, blank=True)
    instructions_seen_at = models.DateTimeField(null=True, blank=True)
    screening = models.JSONField(default=dict, blank=True)
    screening_passed = models.BooleanField(null=True, blank=True)
    screening_score = models.PositiveSmallIntegerField(null=True, blank=True)

    started_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "recruitment_key"],
                condition=Q(recruitment_key__isnull=False),
                name="participant_one_session_per_recruitment_id",
            ),
            models.UniqueConstraint(
                fields=["study", "pseudonym"], name="participant_unique_pseudonym"
            ),
        ]
        indexes = [models.Index(fields=["study", "condition", "status"])]

    def __str__(self) -> str:
        return f"{self.pseudonym} ({self.study.slug}, {self.status})"


class Trial(models.Model):
    class Kind(models.TextChoices):
        PRACTICE = "practice"
        PRETEST = "pretest"
        LEARNING = "learning"
        MAIN = "main"
        CATCH = "catch"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="trials")
    position = models.PositiveSmallIntegerField(
        help_text="1-based order in which the participant sees the trial."
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.MAIN)
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="trials")
    condition = models.ForeignKey(Condition, on_delete=models.PROTECT, related_name="trials")
    partner = models.ForeignKey(
        Stimulus,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Pairwise designs: the explanation shown second (``stimulus`` is shown first).",
    )
    expected_answer = models.CharField(
        max_length=64, blank=True, default="", help_text="Known answer of a catch trial."
    )
    presented_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["participant_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "position"], name="trial_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant.pseudonym} #{self.position} ({self.kind})"


class Response(models.Model):
    """The answer to one trial; stored the moment it is given, exactly once."""

    trial = models.OneToOneField(Trial, on_delete=models.CASCADE, related_name="response")
    answer = models.CharField(max_length=64)
    answer_correct = models.BooleanField()
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    rt_ms = models.FloatField(null=True, blank=True)
    server_rt_ms = models.FloatField(null=True, blank=True)
    plays_original = models.PositiveSmallIntegerField(default=0)
    plays_explanation = models.PositiveSmallIntegerField(default=0)
    submission_key = models.CharField(
        max_length=64, blank=True, default="", help_text="Client idempotency key."
    )
    received_at = models.DateTimeField(auto_now_add=True)
    revised_at = models.DateTimeField(null=True, blank=True)
    # Focus and visibility while the trial was shown, as the page counted them (null: not reported).
    focus_losses = models.PositiveIntegerField(
        null=True, blank=True, help_text="Times the browser window lost focus."
    )
    hidden_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Times the page was hidden (another tab, minimised)."
    )
    hidden_ms = models.FloatField(null=True, blank=True, help_text="Time the page spent hidden.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=7),
                name="response_rating_1_7",
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=100),
                name="response_confidence_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trial} -> {self.answer}"


class AudioEvent(models.Model):
    class Media(models.TextChoices):
        ORIGINAL = "original"
        EXPLANATION = "explanation"
        PARTNER = "partner"  # the second explanation of a pairwise trial

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="audio_events")
    media = models.CharField(max_length=12, choices=Media.choices)
    event = models.CharField(max_length=16)
    client_ms = models.FloatField()
    media_time_s = models.FloatField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trial_id", "client_ms", "id"]


class Job(models.Model):
    """Status row of a background job; created before the task is queued.

    A worker holds a running job on a lease: it renews ``heartbeat_at`` while it works,
    and a job whose heartbeat is older than ``JOB_LEASE_S`` belongs to a worker that
    died; ``services.job_leases.jobs_recover`` queues it again. ``claim`` names the current
    run, so a worker that lost its lease can no longer record an outcome.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the task was last handed to the queue (empty: not yet, e.g. Redis was down).",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running it."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker has started it."
    )
    claim = models.CharField(
        max_length=32, blank=True, default="", help_text="Id of the current run."
    )
    problems = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, default="")

    class Meta:
        abstract = True


class ImportJob(Job):
    source = models.CharField(max_length=500, help_text="Bundle folder or uploaded archive path.")
    study_slug = models.SlugField(max_length=64, blank=True, default="")
    bundle = models.ForeignKey(Bundle, on_delete=models.SET_NULL, null=True, blank=True)
    original_name = models.CharField(
        max_length=255, blank=True, default="", help_text="Name of the uploaded file."
    )

    def __str__(self) -> str:
        return f"import #{self.pk} {self.status}"


class ExportJob(Job):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="export_jobs")
    options = models.JSONField(default=dict, blank=True)
    download_token = models.CharField(max_length=64, unique=True)
    archive_path = models.CharField(max_length=500, blank=True, default="")
    n_trials = models.PositiveIntegerField(default=0)
    n_participants = models.PositiveIntegerField(default=0)
    archive_bytes = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"export #{self.pk} of {self.study.slug} {self.status}"
