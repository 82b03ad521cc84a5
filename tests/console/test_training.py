"""Training from the console: one job at a time, live progress from Rasa's epoch bars, cancel,
readable Persian failures, and a candidate model handed to the gate.

`rasa train` is played by a small script (FAKE_RASA) that prints what Rasa prints — tqdm bars
redrawn with carriage returns, Rasa's own YAML error, a MemoryError — writes a model file, or
sleeps with a child process so cancel must stop the whole process group. The evaluation is played
by FAKE_EVAL, which answers with the figures and predictions stored inside the fake model file.
The other console test modules import these helpers.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from console import texts
from console.gate import Evaluator, run_gate
from console.tables import JobState, ModelState, ModelVersion, TrainingJob
from console.training import (
    PHASE_SPAN,
    TrainingBusy,
    TrainingRunner,
    TrainProgress,
    explain_failure,
    format_duration,
    job_view,
    output_lines,
    remaining_seconds,
)
from hamdel.services import fingerprint
from hamdel.settings import Settings
from hamdel.storage.db import session_scope

FAKE_RASA = r'''
import json, os, subprocess, sys, time
args = sys.argv[1:]
out = args[args.index("--out") + 1]
name = args[args.index("--fixed-model-name") + 1]
mode = os.environ.get("FAKE_RASA_MODE", "ok")
epochs = int(os.environ.get("FAKE_EPOCHS", "5"))
print("INFO     rasa.cli.train  - Started validating domain and training data...", flush=True)
if mode == "yaml":
    data = os.environ["FAKE_DATA_DIR"]
    sys.stdout.write("\x1b[91mYamlSyntaxException: Failed to read '%s/nlu/bad.yml'. while parsing a block mapping\n"
                     "  in \"%s/nlu/bad.yml\", line 3, column 3:\n    - intent: greet\n      ^ (line: 3)\n"
                     "expected <block end>, but found '-'\n  in \"%s/nlu/bad.yml\", line 6, column 3:\n"
                     "      - intent: x: y\n      ^ (line: 6)\n\nYou can use https://yamlchecker.com/ to validate"
                     " the YAML syntax of your file.\x1b[0m\n" % (data, data, data))
    sys.exit(1)
if mode == "oom":
    print("Traceback (most recent call last):\nMemoryError", flush=True)
    sys.exit(1)
if mode == "sleep":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(os.environ["FAKE_CHILD_PID"], "w") as handle:
        handle.write(str(child.pid))
    sys.stderr.write("Epochs:   1%%|1         | 1/%d [00:01<01:20,  1.00it/s, t_loss=9.1]\r" % epochs)
    sys.stderr.flush()
    time.sleep(120)
for epoch in range(epochs + 1):
    pct = 100 * epoch // epochs
    sys.stderr.write("Epochs: %3d%%|%-10s| %d/%d [00:0%d<00:10,  4.40it/s, t_loss=1.2, i_acc=0.9]\r"
                     % (pct, "#" * (pct // 10), epoch, epochs, epoch))
    sys.stderr.flush()
    time.sleep(float(os.environ.get("FAKE_EPOCH_SECONDS", "0.05")))
sys.stderr.write("\n")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, name + ".tar.gz"), "w") as handle:
    handle.write(os.environ.get("FAKE_MODEL_CONTENT", "{}"))
print("Your Rasa model is trained and saved at '%s'." % os.path.join(out, name + ".tar.gz"), flush=True)
'''

FAKE_EVAL = r'''
import json, sys
args = sys.argv[1:]
model = args[args.index("--model") + 1]
stored = json.load(open(model, encoding="utf-8"))
json.dump(stored["run"], open(args[args.index("--json") + 1], "w", encoding="utf-8"))
json.dump(stored["predictions"], open(args[args.index("--predictions") + 1], "w", encoding="utf-8"))
with open(model + ".evaluated", "a") as handle:
    handle.write("golden=%s\n" % ("--golden" in args))
'''


def eval_run(*, macro: float = 0.90, complaint: float = 0.90, false_rate: float = 0.05, category: float = 0.85,
             entity: float = 0.80, golden: dict[str, Any] | None = None, per_intent: dict[str, float] | None = None) -> dict[str, Any]:
    """An nlu_eval.py JSON as the real script writes it (the parts the console reads)."""
    per_intent = per_intent or {"complain_delivery": macro, "greet": 1.0}
    return {
        "model": "m.tar.gz", "counts": {"holdout": 500, "reviews": 330, "not_complaints": 224},
        "clean": {"figures": {"intent_macro_f1": macro, "intent_accuracy": macro, "complaint_accuracy": complaint,
                              "false_complaint_rate": false_rate, "category_accuracy": category,
                              "entity_recall": entity, "entity_precision": entity},
                  "details": {"per_intent_f1": per_intent, "per_intent_support": {k: 30 for k in per_intent}}},
        "perturbation_gap": 0.03,
        "golden": golden or {"count": 0, "figures": {}, "details": {}},
    }


def prediction(text: str, predicted: str, expected: str, set_: str = "holdout") -> dict[str, Any]:
    return {"set": set_, "text": text, "expected": expected, "predicted": predicted, "confidence": 0.9,
            "right": predicted == expected}


def fake_model_content(run: dict[str, Any], predictions: list[dict[str, Any]] | None = None) -> str:
    return json.dumps({"run": run, "predictions": predictions or []}, ensure_ascii=False)


def write_fakes(directory: Path) -> tuple[list[str], list[str]]:
    """The stand-in commands for `rasa` and for `python scripts/nlu_eval.py`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fake_rasa.py").write_text(FAKE_RASA, encoding="utf-8")
    (directory / "fake_eval.py").write_text(FAKE_EVAL, encoding="utf-8")
    return [sys.executable, str(directory / "fake_rasa.py")], [sys.executable, str(directory / "fake_eval.py")]


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def job(job_id: int) -> TrainingJob:
    with session_scope() as session:
        row = session.get(TrainingJob, job_id)
        assert row is not None
        session.expunge(row)
        return row


@pytest.fixture
def training_data(console_settings: Settings) -> Path:
    data = Path(console_settings.nlu_data_dir)
    (data / "nlu").mkdir(parents=True)
    (data / "nlu" / "greet.yml").write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - سلام\n',
                                            encoding="utf-8")
    return data


@pytest.fixture
def make_runner(training_data: Path, tmp_path: Path) -> Iterator[Callable[..., TrainingRunner]]:
    rasa, evaluate = write_fakes(tmp_path / "fakes")
    runners: list[TrainingRunner] = []

    def make(mode: str = "ok", *, content: str | None = None, gate: bool = True, export: Any = None,
             **env: str) -> TrainingRunner:
        evaluator = Evaluator(command=evaluate, cache_dir=tmp_path / "gate-cache")
        runner = TrainingRunner(
            rasa_command=rasa, log_dir=tmp_path / "var" / "training",
            extra_env={"FAKE_RASA_MODE": mode, "FAKE_DATA_DIR": str(training_data),
                       "FAKE_MODEL_CONTENT": content or fake_model_content(eval_run()), **env},
            export=export or (lambda session, username: None),
            run_gate=(lambda model_id, progress, process: run_gate(model_id, progress, process, evaluator=evaluator))
            if gate else None)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        if runner.running_job_id is not None:
            runner.cancel(runner.running_job_id, "cleanup")
        runner.wait(30)


# --- reading Rasa's output ------------------------------------------------------------------

def test_tqdm_redraws_are_read_as_lines_as_they_come() -> None:
    read, write = os.pipe()
    os.write(write, b"INFO start\nEpochs:   0%|          | 0/80 [00:00<?, ?it/s]\rEpochs:   1%|1    | 1/80 [00:01<01:20]\r")
    os.close(write)
    with os.fdopen(read, "rb") as stream:
        assert list(output_lines(stream)) == ["INFO start", "Epochs:   0%|          | 0/80 [00:00<?, ?it/s]",
                                              "Epochs:   1%|1    | 1/80 [00:01<01:20]"]


def test_progress_follows_diet_epochs_then_the_policies() -> None:
    progress = TrainProgress()
    assert not progress.feed("INFO rasa.cli.train - Started validating domain and training data...")
    assert progress.phase == "start"
    assert progress.feed("Epochs:  45%|████▌     | 36/80 [00:10<00:12,  4.40it/s, t_loss=1.2]")
    assert (progress.phase, progress.epoch, progress.epochs) == ("nlu", 36, 80)
    halfway = progress.fraction
    assert PHASE_SPAN["nlu"][0] < halfway < PHASE_SPAN["nlu"][1]
    progress.feed("Epochs: 100%|██████████| 80/80 [00:20<00:00,  4.40it/s, t_loss=0.2]")
    assert progress.phase == "core" and progress.fraction == pytest.approx(PHASE_SPAN["core"][0])
    # tqdm redraws the finished DIET bar: still core, no core epochs invented
    progress.feed("Epochs: 100%|██████████| 80/80 [00:20<00:00,  4.40it/s, t_loss=0.2]")
    assert (progress.phase, progress.epoch, progress.epochs) == ("core", 80, 80)
    assert progress.fraction == pytest.approx(PHASE_SPAN["core"][0])
    # a TED bar, if the config had one, moves the core part
    progress.feed("Epochs:  50%|█████     | 50/100 [00:20<00:20]")
    assert (progress.phase, progress.epoch, progress.epochs) == ("core", 50, 100)
    assert PHASE_SPAN["core"][0] < progress.fraction < PHASE_SPAN["core"][1]


def test_no_estimate_until_there_is_a_rate() -> None:
    assert remaining_seconds(0.0, 12.0) is None
    assert format_duration(None) == "نامشخص"
    assert remaining_seconds(0.5, 60.0) == pytest.approx(60.0)
    assert format_duration(125) == "۲ دقیقه و ۵ ثانیه"
    assert format_duration(7) == "۷ ثانیه"


# --- readable failures ----------------------------------------------------------------------

def test_invalid_training_data_names_the_file_and_line(training_data: Path, tmp_path: Path) -> None:
    lines = [f"\x1b[91mYamlSyntaxException: Failed to read '{training_data}/nlu/bad.yml'. while parsing a block mapping",
             f'  in "{training_data}/nlu/bad.yml", line 3, column 3:', "    - intent: greet",
             "expected <block end>, but found '-'", f'  in "{training_data}/nlu/bad.yml", line 6, column 3:',
             "      - intent: x: y"]
    message = explain_failure(lines, 1, tmp_path / "job-1.log")
    assert message.startswith("داده‌های آموزشی ایراد دارد: ")
    assert "nlu_data/nlu/bad.yml" in message and "سطر ۶" in message
    assert "intent: x" not in message  # the data itself stays in the log file


def test_out_of_memory_and_a_killed_process_say_so(tmp_path: Path) -> None:
    assert explain_failure(["Traceback", "MemoryError"], 1, tmp_path / "x.log") == texts.TRAIN_OUT_OF_MEMORY
    assert explain_failure(["Epochs: 3%"], -9, tmp_path / "x.log") == texts.TRAIN_OUT_OF_MEMORY


def test_another_failure_points_to_the_log(tmp_path: Path) -> None:
    message = explain_failure(["Traceback", "ValueError: odd"], 2, tmp_path / "job-4.log")
    assert "کد خروج ۲" in message and "job-4.log" in message


# --- the job --------------------------------------------------------------------------------

def test_a_job_trains_a_candidate_with_its_data_fingerprint_and_runs_the_gate(
        make_runner: Callable[..., TrainingRunner], training_data: Path, console_settings: Settings) -> None:
    exported: list[str] = []
    runner = make_runner(export=lambda session, username: exported.append(username))
    job_id = runner.start("deployer1")
    assert runner.wait(120)
    done = job(job_id)
    assert done.state == JobState.SUCCEEDED, done.message
    assert (done.phase, done.progress, done.epochs) == ("done", 1.0, 5)
    assert exported == ["deployer1"]
    with session_scope() as session:
        model = session.get(ModelVersion, done.model_id)
        assert model is not None
        assert model.state == ModelState.CANDIDATE and model.trained_by == "deployer1"
        assert model.data_fingerprint == fingerprint(training_data)
        assert model.file_name == f"hamdel-console-{job_id}-{model.data_fingerprint}.tar.gz"
        assert (Path(console_settings.models_dir) / model.file_name).is_file()
        assert model.gate["passed"] is True  # no production model yet: nothing to fall behind
        assert model.figures["headline"]["intent_macro_f1"] == 0.90


def test_progress_is_visible_while_it_trains(make_runner: Callable[..., TrainingRunner]) -> None:
    runner = make_runner(FAKE_EPOCHS="8", FAKE_EPOCH_SECONDS="0.5")
    job_id = runner.start("deployer1")
    wait_until(lambda: job(job_id).phase == "nlu" and job(job_id).epoch >= 2)
    seen = job_view(job(job_id))
    assert seen.state == "running" and seen.epochs == 8
    assert PHASE_SPAN["nlu"][0] < seen.progress < PHASE_SPAN["nlu"][1]
    assert runner.wait(120) and job(job_id).state == JobState.SUCCEEDED


def test_only_one_job_at_a_time_even_when_two_requests_race(make_runner: Callable[..., TrainingRunner],
                                                              tmp_path: Path) -> None:
    runner = make_runner("sleep", FAKE_CHILD_PID=str(tmp_path / "child.pid"))
    other_console = make_runner("sleep", FAKE_CHILD_PID=str(tmp_path / "child2.pid"))  # same lock file
    results: list[object] = []

    def start(which: TrainingRunner, who: str) -> None:
        try:
            results.append(which.start(who))
        except TrainingBusy as busy:
            results.append(busy)

    threads = [threading.Thread(target=start, args=(r, f"deployer{i}")) for i, r in enumerate((runner, other_console))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    started = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, TrainingBusy)]
    assert len(started) == 1 and len(refused) == 1
    assert str(refused[0]) == texts.TRAIN_BUSY
    with session_scope() as session:
        assert session.scalars(select(TrainingJob).where(TrainingJob.state == JobState.RUNNING)).all()
    owner = runner if runner.running_job_id == started[0] else other_console
    owner.cancel(started[0], "cleanup")
    assert owner.wait(60)


def test_cancel_stops_the_whole_process_group(make_runner: Callable[..., TrainingRunner], tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    runner = make_runner("sleep", FAKE_CHILD_PID=str(child_pid_file))
    job_id = runner.start("deployer1")
    wait_until(lambda: child_pid_file.exists() and child_pid_file.read_text() != "" and job(job_id).epoch == 1)
    child = int(child_pid_file.read_text())
    assert runner.cancel(job_id, "deployer2")
    assert runner.wait(60)
    cancelled = job(job_id)
    assert cancelled.state == JobState.CANCELLED
    assert cancelled.message == texts.TRAIN_CANCELLED.format(user="deployer2")
    wait_until(lambda: not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2])
    assert runner.start("deployer1")  # the lock is free again


def test_invalid_data_fails_with_a_persian_sentence_and_keeps_the_output_in_a_log(
        make_runner: Callable[..., TrainingRunner], tmp_path: Path) -> None:
    runner = make_runner("yaml")
    job_id = runner.start("deployer1")
    assert runner.wait(60)
    failed = job(job_id)
    assert failed.state == JobState.FAILED
    assert failed.message is not None and "nlu_data/nlu/bad.yml" in failed.message and "سطر ۶" in failed.message
    log = (tmp_path / "var" / "training" / f"job-{job_id}.log").read_text(encoding="utf-8")
    assert "YamlSyntaxException" in log and "intent: x: y" in log
    with session_scope() as session:
        assert session.scalars(select(ModelVersion)).all() == []


def test_out_of_memory_is_said_plainly(make_runner: Callable[..., TrainingRunner]) -> None:
    runner = make_runner("oom")
    job_id = runner.start("deployer1")
    assert runner.wait(60)
    assert job(job_id).message == texts.TRAIN_OUT_OF_MEMORY


def test_rasa_missing(make_runner: Callable[..., TrainingRunner], tmp_path: Path) -> None:
    runner = make_runner()
    runner.rasa_command = [str(tmp_path / "no-venv" / "bin" / "rasa")]
    job_id = runner.start("deployer1")
    assert runner.wait(60)
    assert (job(job_id).state, job(job_id).message) == (JobState.FAILED, texts.TRAIN_RASA_MISSING)


def test_a_job_left_running_by_a_stopped_console_is_marked_failed(make_runner: Callable[..., TrainingRunner]) -> None:
    with session_scope() as session:
        stale = TrainingJob(state=JobState.RUNNING, started_by="deployer1", phase="nlu", pid=2 ** 22 + 12345)
        session.add(stale)
        session.flush()
        stale_id = stale.id
    assert make_runner().recover_interrupted() == 1
    recovered = job(stale_id)
    assert (recovered.state, recovered.message) == (JobState.FAILED, texts.TRAIN_INTERRUPTED)
    assert recovered.finished_at is not None


def test_approved_labels_are_written_into_the_training_data_before_rasa_runs(
        make_runner: Callable[..., TrainingRunner], training_data: Path) -> None:
    from console.tables import LabelStatus, NluLabel
    from console.training import export_approved_labels

    with session_scope() as session:
        session.add(NluLabel(text_key="k" * 64, text="بسته‌ام سه روزه نرسیده", intent="complain_delivery",
                             status=LabelStatus.APPROVED, labelled_by="annotator1", reviewed_by="reviewer1"))
    before = fingerprint(training_data)
    runner = make_runner(export=export_approved_labels)  # the job's default: labelling's export
    job_id = runner.start("deployer1")
    assert runner.wait(120) and job(job_id).state == JobState.SUCCEEDED
    exported = training_data / "nlu" / "console_labels.yml"
    assert "- بسته‌ام سه روزه نرسیده" in exported.read_text(encoding="utf-8")
    with session_scope() as session:
        model = session.get(ModelVersion, job(job_id).model_id)
        assert model is not None and model.data_fingerprint == fingerprint(training_data) != before
