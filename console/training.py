"""One training job at a time, started from the console: export the approved labels, run
`rasa train` in Rasa's own environment, show its progress, and hand the new model to the gate.

Why it is built this way:
- **One at a time.** Two trainings on a 2-core server would each take twice as long and fight for
  memory. The guard is an exclusive `flock` on `<log_dir>/training.lock`, taken before the job's row
  is written and held by the job's thread until it ends. Two requests racing each other (in one
  process or two) cannot both get it, and the OS drops it when the console dies, so a RUNNING row
  whose lock is free is known to be left over from a console that stopped: `recover_interrupted`
  marks it FAILED (and stops the orphaned `rasa train` if it still runs).
- **Its own process group.** `rasa train` starts TensorFlow threads and helper processes; cancel
  signals the whole group so nothing keeps eating the CPU.
- **Progress from tqdm.** Rasa draws DIET's (and TED's, if configured) epoch bars with carriage
  returns; the output is split on both `\\r` and `\\n` and each "Epochs: 45%|…| 45/100" becomes
  phase, epoch/epochs and a fraction of the whole job (NLU, then core, then the gate).
- **Readable failures.** The job's message is one Persian sentence for a person; the last lines of
  Rasa's output (which may quote training data) go to a log file under var/, never to the database.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from console import labelling, texts
from console.gate import GateError
from console.tables import JobState, ModelState, ModelVersion, TrainingJob
from hamdel.persian import to_persian_digits
from hamdel.services import RASA_BIN, fingerprint, rasa_env
from hamdel.settings import PROJECT_ROOT, get_settings
from hamdel.storage.db import session_scope
from hamdel.storage.models import utcnow

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 40
# Where each phase starts and ends on the job's 0..1 progress bar, from a console job measured on
# the shared 2 cores (empty cache): Rasa loading and featurising 2¼ min, DIET's 80 epochs 6 min,
# the policies and packing the model seconds, the gate (two evaluations) 4–5 min.
PHASE_SPAN: dict[str, tuple[float, float]] = {
    "export": (0.0, 0.02),
    "start": (0.02, 0.17),
    "nlu": (0.17, 0.60),
    "core": (0.60, 0.65),
    "gate": (0.65, 1.0),
}
EPOCHS = re.compile(r"Epochs:\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)")
PROGRESS_WRITE_SECONDS = 1.0


def var_dir() -> Path:
    """`var/` beside the models folder: the project's var/ by default, a test's own directory when
    MODELS_DIR points into it (tests never write into the project's var/)."""
    return Path(get_settings().models_dir).resolve().parent / "var"


class TrainingBusy(RuntimeError):
    """Another training job holds the lock."""



# ---------------------------------------------------------------------------------------------
# Reading Rasa's output


def output_lines(stream: IO[bytes]) -> Iterator[str]:
    """Lines of a child's output, split on `\\n` and on tqdm's `\\r` redraws, as they arrive."""
    pending = b""
    while True:
        chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
        if not chunk:
            break
        pending += chunk
        parts = re.split(rb"[\r\n]", pending)
        pending = parts.pop()
        for part in parts:
            if part.strip():
                yield part.decode("utf-8", "replace")
    if pending.strip():
        yield pending.decode("utf-8", "replace")


@dataclass
class TrainProgress:
    """What the output said so far: the phase and the current epoch bar.

    The first bar is DIET's (phase "nlu"); when it is full the policies train ("core"). RulePolicy
    draws no bar; a TED bar, if the config ever has one, is followed once it starts from its first
    epochs (tqdm redraws the finished DIET bar, which must not count as core)."""

    phase: str = "start"
    epoch: int = 0
    epochs: int = 0
    core_bar: bool = False

    def feed(self, line: str) -> bool:
        """Take one output line; True when the phase or epoch changed."""
        match = EPOCHS.search(line)
        if not match:
            return False
        epoch, epochs = int(match.group(1)), int(match.group(2))
        before = (self.phase, self.epoch, self.epochs)
        if self.phase in ("start", "nlu"):
            self.phase, self.epoch, self.epochs = "nlu", epoch, epochs
            if epochs and epoch >= epochs:
                self.phase = "core"  # DIET's last epoch stays on record (80/80)
        elif self.core_bar or epoch < epochs:
            self.core_bar = True
            self.epoch, self.epochs = epoch, epochs
        return before != (self.phase, self.epoch, self.epochs)

    @property
    def fraction(self) -> float:
        """The whole job's progress (0..1) this output stands for."""
        if self.phase == "core" and not self.core_bar:
            return phase_fraction("core", 0.0)
        return phase_fraction(self.phase, self.epoch / self.epochs if self.epochs else 0.0)


def phase_fraction(phase: str, within: float) -> float:
    """The whole job's progress when `phase` is `within` (0..1) done."""
    start, end = PHASE_SPAN.get(phase, (0.0, 0.0))
    return start + (end - start) * max(0.0, min(1.0, within))


def remaining_seconds(progress: float, elapsed: float) -> float | None:
    """Time left at the rate so far; None until there is a rate (nothing measured yet)."""
    if progress < 0.03 or elapsed <= 0 or progress >= 1:
        return None
    return elapsed * (1 - progress) / progress


def format_duration(seconds: float | None) -> str:
    """«۲ دقیقه و ۵ ثانیه» — or «نامشخص» when there is no estimate."""
    if seconds is None:
        return texts.TIME_UNKNOWN
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    if minutes and secs:
        text = f"{minutes} دقیقه و {secs} ثانیه"
    elif minutes:
        text = f"{minutes} دقیقه"
    else:
        text = f"{secs} ثانیه"
    return to_persian_digits(text)


_YAML_FILE = re.compile(r"Failed to (?:read|validate) '([^']+)'")
_YAML_LINE = re.compile(r"line (\d+), column")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_YAML_IN_FILE = re.compile(r"in (\S+\.ya?ml):(\d+)")
_YAML_PROBLEM = re.compile(
    r"(mapping values are not allowed here|could not find expected ':'|found character .*? that cannot start any token|"
    r"expected <block end>, but found '[^']*'|did not find expected (?:key|'-' indicator)|found duplicate key|"
    r"Value '[^']{0,40}' is not a dict|Key '[^']{0,40}' was not defined|is not a list|Cannot parse|"
    r"found undefined alias)")
_DATA_ERROR = re.compile(r"YamlSyntaxException|YamlValidationException|InvalidDomain|YamlException|"
                         r"InvalidConfigException|Failed to read '|Failed to validate '|InvalidRule|InvalidStory")
_OUT_OF_MEMORY = re.compile(r"MemoryError|ResourceExhaustedError|OOM when allocating|Cannot allocate memory|std::bad_alloc")


def _short_path(raw: str) -> str:
    """A path as people know it: from the project's root, or from the training data's folder."""
    path = Path(raw)
    for root, prefix in ((PROJECT_ROOT, ""), (Path(get_settings().nlu_data_dir), "nlu_data/")):
        try:
            return prefix + str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return path.name if path.is_absolute() else raw


def explain_failure(lines: Sequence[str], returncode: int, log_file: Path) -> str:
    """A Persian sentence for a person out of Rasa's last output lines and exit code.

    Invalid training data names the file and line Rasa named (and the YAML problem, which quotes
    no message text); out of memory and a killed process say so; the rest points to the log."""
    text = _ANSI.sub("", "\n".join(lines))
    if _DATA_ERROR.search(text):
        where = ""
        in_file = _YAML_IN_FILE.search(text)
        file_match = _YAML_FILE.search(text) or in_file
        if file_match:
            file = _short_path(file_match.group(1))
            lines_named = _YAML_LINE.findall(text)  # the context first, the problem last
            line = in_file.group(2) if in_file else (lines_named[-1] if lines_named else None)
            where = (texts.TRAIN_DATA_WHERE.format(file=file, line=to_persian_digits(line)) if line
                     else texts.TRAIN_DATA_FILE.format(file=file))
        problem = _YAML_PROBLEM.search(text)
        detail = problem.group(1) if problem else _exception_name(text)
        return texts.TRAIN_DATA_INVALID.format(where=where, detail=detail)
    if _OUT_OF_MEMORY.search(text) or returncode in (-signal.SIGKILL, 137):
        return texts.TRAIN_OUT_OF_MEMORY
    return texts.TRAIN_FAILED.format(code=to_persian_digits(str(returncode)), log=_short_path(str(log_file)))


def _exception_name(text: str) -> str:
    match = re.search(r"\b(\w+(?:Exception|Error))\b", text)
    return match.group(1) if match else "—"


# ---------------------------------------------------------------------------------------------
# The job


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _looks_like_training(pid: int) -> bool:
    """The pid is still a `rasa train` (pids are reused): only then may a restart stop it."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"train" in cmdline and any(b"rasa" in part for part in cmdline)


def _kill_group(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the process group `pid` leads, then SIGKILL what is left after `grace` seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


ExportLabels = Callable[[Session, str], object]
# gate.run_gate(model_id, on_progress(0..1), on_process(the evaluation's process, for cancel))
RunGate = Callable[[int, Callable[[float], None], Callable[[subprocess.Popen[bytes]], None]], object]


def export_approved_labels(session: Session, username: str) -> object:
    """Write the approved labels into `settings.nlu_data_dir` (and the golden set) before training,
    so the model learns what reviewers approved and git history shows it (console/labelling.py)."""
    return labelling.export_approved(session, username=username)


class TrainingRunner:
    """Starts, watches and cancels the console's training job (one per process, `get_runner()`)."""

    def __init__(
        self,
        *,
        rasa_command: Sequence[str] = (str(RASA_BIN),),
        log_dir: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        export: ExportLabels = export_approved_labels,
        run_gate: RunGate | None = None,
        database_url: str | None = None,
    ) -> None:
        self.rasa_command = list(rasa_command)
        self.log_dir = log_dir or var_dir() / "training"
        self.extra_env = dict(extra_env or {})
        self.export = export
        self.run_gate = run_gate
        self.database_url = database_url
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._cancelled_by: str | None = None
        self._job_id: int | None = None

    # --- the lock -------------------------------------------------------------------------

    def _lock_file(self) -> IO[str]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return (self.log_dir / "training.lock").open("a")

    def _try_lock(self) -> IO[str] | None:
        handle = self._lock_file()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return handle

    def recover_interrupted(self) -> int:
        """Mark RUNNING jobs that no console is running (the lock is free) FAILED; stop a
        `rasa train` such a job left behind. Returns how many were recovered."""
        lock = self._try_lock()
        if lock is None:
            return 0  # a job is running right now, in this process or another
        try:
            with session_scope(self.database_url) as session:
                return self._fail_stale(session)
        finally:
            lock.close()

    def _fail_stale(self, session: Session) -> int:
        jobs = session.scalars(select(TrainingJob).where(TrainingJob.state == JobState.RUNNING)).all()
        for job in jobs:
            if _pid_alive(job.pid) and job.pid and _looks_like_training(job.pid):
                _kill_group(job.pid)
            job.state = JobState.FAILED
            job.message = texts.TRAIN_INTERRUPTED
            job.finished_at = utcnow()
            logger.warning("training job %s was left running by a stopped console; marked failed", job.id)
        return len(jobs)

    # --- start / cancel --------------------------------------------------------------------

    def start(self, username: str) -> int:
        """Start a job for `username`; raises TrainingBusy while another one runs."""
        with self._guard:
            lock = self._try_lock()
            if lock is None:
                raise TrainingBusy(texts.TRAIN_BUSY)
            try:
                with session_scope(self.database_url) as session:
                    self._fail_stale(session)  # we hold the lock: any RUNNING row is left over
                    job = TrainingJob(state=JobState.RUNNING, started_by=username, phase="export")
                    session.add(job)
                    session.flush()
                    job_id = job.id
            except BaseException:
                lock.close()
                raise
            self._job_id, self._cancelled_by, self._process = job_id, None, None
            self._thread = threading.Thread(target=self._run, args=(job_id, username, lock), name=f"training-{job_id}", daemon=True)
            self._thread.start()
            return job_id

    def cancel(self, job_id: int, username: str) -> bool:
        """Stop job `job_id` (its whole process group); False when it is not running here."""
        with self._guard:
            if self._job_id != job_id or self._thread is None or not self._thread.is_alive():
                return False
            self._cancelled_by = username
            process = self._process
        if process is not None and process.poll() is None:
            _kill_group(process.pid)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current job's thread (tests, shutdown); True when it finished."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running_job_id(self) -> int | None:
        thread = self._thread
        return self._job_id if thread is not None and thread.is_alive() else None

    # --- the job's thread ------------------------------------------------------------------

    def _update(self, job_id: int, **values: Any) -> None:
        with session_scope(self.database_url) as session:
            session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(**values))

    def _finish(self, job_id: int, state: JobState, message: str | None = None, **values: Any) -> None:
        self._update(job_id, state=state, message=message, finished_at=utcnow(), **values)

    def _set_process(self, process: subprocess.Popen[bytes]) -> None:
        with self._guard:
            self._process = process
        if self._cancelled_by is not None:  # cancel arrived while the process was starting
            _kill_group(process.pid)

    def _run(self, job_id: int, username: str, lock: IO[str]) -> None:
        try:
            self._run_job(job_id, username)
        except Exception as error:  # the thread must always leave the row in a final state
            logger.exception("training job %s failed unexpectedly", job_id)
            self._finish(job_id, JobState.FAILED, texts.TRAIN_UNEXPECTED.format(error=type(error).__name__))
        finally:
            with self._guard:
                self._process = None
            lock.close()

    def _cancelled(self, job_id: int) -> bool:
        if self._cancelled_by is None:
            return False
        self._finish(job_id, JobState.CANCELLED, texts.TRAIN_CANCELLED.format(user=self._cancelled_by))
        return True

    def _run_job(self, job_id: int, username: str) -> None:
        settings = get_settings()
        try:
            with session_scope(self.database_url) as session:
                self.export(session, username)
        except Exception as error:
            logger.exception("exporting labels before training job %s failed", job_id)
            self._finish(job_id, JobState.FAILED, texts.TRAIN_EXPORT_FAILED.format(error=type(error).__name__))
            return
        if self._cancelled(job_id):
            return
        data_fingerprint = fingerprint(settings.nlu_data_dir)
        name = f"hamdel-console-{job_id}-{data_fingerprint}"
        models_dir = Path(settings.models_dir)
        models_dir.mkdir(parents=True, exist_ok=True)
        self._update(job_id, phase="start", progress=phase_fraction("start", 0))

        log_file = self.log_dir / f"job-{job_id}.log"
        command = [*self.rasa_command, "train", "--data", str(settings.nlu_data_dir), "--config", "config.yml",
                   "--domain", "domain.yml", "--out", str(models_dir), "--fixed-model-name", name]
        try:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**rasa_env(), **self.extra_env},
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except FileNotFoundError:
            self._finish(job_id, JobState.FAILED, texts.TRAIN_RASA_MISSING)
            return
        self._set_process(process)
        self._update(job_id, pid=process.pid)
        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        progress = TrainProgress()
        last_write, last_phase = 0.0, ""
        assert process.stdout is not None
        for line in output_lines(process.stdout):
            tail.append(line)
            changed = progress.feed(line)
            now = time.monotonic()
            if changed and (now - last_write >= PROGRESS_WRITE_SECONDS or progress.phase != last_phase):
                last_write, last_phase = now, progress.phase
                self._update(job_id, phase=progress.phase, epoch=progress.epoch, epochs=progress.epochs,
                             progress=round(progress.fraction, 4))
        returncode = process.wait()
        if self._cancelled(job_id):
            return
        model_file = models_dir / f"{name}.tar.gz"
        if returncode != 0 or not model_file.is_file():
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_file.write_text("\n".join(tail) + "\n", encoding="utf-8")
            message = (explain_failure(list(tail), returncode, log_file) if returncode != 0
                       else texts.TRAIN_NO_MODEL.format(log=_short_path(str(log_file))))
            self._finish(job_id, JobState.FAILED, message)
            return

        with session_scope(self.database_url) as session:
            model = ModelVersion(file_name=model_file.name, data_fingerprint=data_fingerprint,
                                 state=ModelState.CANDIDATE, trained_by=username)
            session.add(model)
            session.flush()
            model_id = model.id
        self._update(job_id, model_id=model_id, phase="gate", progress=phase_fraction("gate", 0))
        if self.run_gate is not None:
            def gate_progress(within: float) -> None:
                self._update(job_id, progress=round(phase_fraction("gate", within), 4))
            try:
                self.run_gate(model_id, gate_progress, self._set_process)
            except Exception as error:
                if self._cancelled(job_id):
                    return
                logger.warning("the gate of model %s failed: %s", model_id, type(error).__name__)
                self._finish(job_id, JobState.FAILED, str(error) if isinstance(error, GateError) else
                             texts.TRAIN_UNEXPECTED.format(error=type(error).__name__))
                return
        if self._cancelled(job_id):
            return
        self._finish(job_id, JobState.SUCCEEDED, None, phase="done", progress=1.0)


# ---------------------------------------------------------------------------------------------
# What the page shows


@dataclass(frozen=True)
class JobView:
    """One job as the training page shows it."""

    id: int
    state: str
    phase: str
    phase_label: str
    epoch: int
    epochs: int
    progress: float
    elapsed: str
    remaining: str
    message: str | None
    started_by: str
    started_at: datetime
    model_id: int | None


def job_view(job: TrainingJob, now: datetime | None = None) -> JobView:
    end = job.finished_at or now or utcnow()
    elapsed = max(0.0, (end - job.started_at).total_seconds())
    running = job.state == JobState.RUNNING
    return JobView(
        id=job.id, state=job.state.value, phase=job.phase, phase_label=texts.PHASES.get(job.phase, job.phase),
        epoch=job.epoch, epochs=job.epochs, progress=job.progress, elapsed=format_duration(elapsed),
        remaining=format_duration(remaining_seconds(job.progress, elapsed)) if running else format_duration(0),
        message=job.message, started_by=job.started_by, started_at=job.started_at, model_id=job.model_id,
    )


def latest_job(session: Session) -> TrainingJob | None:
    return session.scalars(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(1)).first()
