"""The word-vector featurizer (rasa_addons/word_vectors.py) inside the Rasa environment.

These tests run in `.venv` and drive `.venv-rasa` through a subprocess, the way
tests/test_persian.py checks the normaliser; they skip cleanly when the Rasa environment or the
pinned `persent` package is missing (a machine that has not run `make setup`).
"""
from __future__ import annotations

import subprocess

import pytest

from tests.rasa_addons import RASA_PYTHON, ROOT, require_rasa, run_in_rasa

SCRIPT = r"""
import json, sys
import numpy as np
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa_addons.word_vectors import DEFAULT_VECTORS, PersianWordVectorFeaturizer, load_vectors

vectors = load_vectors(DEFAULT_VECTORS)
report = {"dim": vectors.dim, "words": len(vectors.index)}
report["how"] = {w: vectors.lookup(w)[1] for w in ["ارسال", "سفارشم", "نمی\u200cخوامش", "خرابهههه", "xqzv"]}
a, b, c = (vectors.vector(w) for w in ["خراب", "شکسته", "آهنگ"])
cos = lambda x, y: float(np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y))
report["broken_vs_cracked"], report["broken_vs_song"] = cos(a, b), cos(a, c)

featurizer = PersianWordVectorFeaturizer({**PersianWordVectorFeaturizer.get_default_config()}, "vectors")
tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
message = Message(data={"text": "بسته‌ام خراب رسید xqzv"})
tokenizer.process([message])
featurizer.process([message])
sequence, sentence = message.get_dense_features("text")
report["sequence"], report["sentence"] = list(sequence.features.shape), list(sentence.features.shape)
report["zero_rows"] = int((~sequence.features.any(axis=1)).sum())
report["sentence_is_mean_of_known"] = bool(np.allclose(sentence.features[0], sequence.features[:3].mean(axis=0)))
config = {**PersianWordVectorFeaturizer.get_default_config(), "review_sentiment": True}
with_verdict = PersianWordVectorFeaturizer(config, "vectors_sentiment")
praise, complaint = Message(data={"text": "عالی بود ممنون"}), Message(data={"text": "کیفیتش افتضاح بود اصلا نخرید"})
tokenizer.process([praise, complaint])
with_verdict.process([praise, complaint])
report["verdict_shapes"] = [list(f.features.shape) for f in praise.get_dense_features("text")]
report["praise_recommended"] = float(praise.get_dense_features("text")[1].features[0, -2])
report["complaint_recommended"] = float(complaint.get_dense_features("text")[1].features[0, -2])
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    require_rasa()
    probe = subprocess.run([str(RASA_PYTHON), "-c", "import importlib.util as u; assert u.find_spec('PerSent')"], capture_output=True, cwd=ROOT, timeout=120,
                           env={"PATH": "/usr/bin:/bin"})
    if probe.returncode != 0:
        pytest.skip("the pinned persent package is not installed in .venv-rasa; run make setup")
    return run_in_rasa(SCRIPT)


def test_table_is_persents_shop_review_vocabulary(report: dict) -> None:
    assert report["dim"] == 100
    assert report["words"] > 30_000


def test_unknown_forms_fall_back_to_stem_parts_or_prefix(report: dict) -> None:
    assert report["how"]["ارسال"] == "surface"
    assert report["how"]["سفارشم"] in {"surface", "stem"}
    assert report["how"]["نمی\u200cخوامش"] in {"surface", "stem", "parts"}
    assert report["how"]["خرابهههه"] == "prefix"  # a stretched, shouted word still means «خراب»
    assert report["how"]["xqzv"] == "oov"


def test_vectors_carry_meaning(report: dict) -> None:
    assert report["broken_vs_cracked"] > report["broken_vs_song"]


def test_one_vector_per_token_and_a_sentence_mean(report: dict) -> None:
    assert report["sequence"] == [4, 100]
    assert report["sentence"] == [1, 100]
    assert report["zero_rows"] == 1  # the unknown word is a zero row, left out of the mean
    assert report["sentence_is_mean_of_known"]


def test_review_sentiment_tells_praise_from_complaint(report: dict) -> None:
    assert report["verdict_shapes"] == [[3, 103], [1, 103]]
    assert report["praise_recommended"] > 0.5 > report["complaint_recommended"]
