"""Where the Rasa server's memory goes when it loads Hamdel's model: resident memory added by each
component of the graph, with Rasa's own model load and with Hamdel's (rasa_addons/model_load.py).

    .venv/bin/python benchmarks/model_memory.py [--model models/hamdel-….tar.gz] [--stock]

Each load runs in a fresh Rasa-environment process (.venv-rasa), so the two do not share memory.
`--stock` also loads the stock `rasa init` model `make bench` trained (var/bench/), for
comparison. A benchmark, not a test: it prints figures (docs/performance.md, item 26).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hamdel.services import ensure_model  # noqa: E402

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

SCRIPT = r"""
import asyncio, json, sys
def rss():
    with open("/proc/self/status") as status:
        return int(next(line.split()[1] for line in status if line.startswith("VmRSS:"))) / 1024
from rasa.utils.tensorflow import models
rasas = models.RasaModel.__dict__["load"]
import rasa_addons  # noqa: F401  (what Rasa imports with Hamdel's model)
if sys.argv[2] == "rasa":
    models.RasaModel.load = rasas
from rasa.engine import graph
from rasa.core.agent import Agent
load_component = graph.GraphNode._load_component
added = {}
def measured(self, **kwargs):
    before = rss()
    load_component(self, **kwargs)
    added[self._node_name] = rss() - before
graph.GraphNode._load_component = measured
before = rss()
agent = Agent.load(sys.argv[1])
loaded = rss()
asyncio.run(agent.parse_message("سلام، سفارشم دیر رسید"))
print(json.dumps({"before": before, "loaded": loaded, "after_parse": rss(), "components": added}))
"""


def measure(model: Path, how: str) -> dict:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run([str(RASA_PYTHON), "-c", SCRIPT, str(model), how], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=900)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a trained model (default: the current one, trained if missing)")
    parser.add_argument("--stock", action="store_true", help="also the stock rasa init model from var/bench/")
    args = parser.parse_args()
    runs = [("Hamdel's model, Rasa's own load", args.model or ensure_model(), "rasa"),
            ("Hamdel's model, Hamdel's load", args.model or ensure_model(), "hamdel")]
    if args.stock:
        stock = sorted((ROOT / "var" / "bench").glob("**/models/*.tar.gz"))
        if not stock:
            raise SystemExit("no stock model in var/bench/: run make bench once")
        runs.append(("stock rasa init model", stock[-1], "rasa"))
    for title, model, how in runs:
        print(f"[model memory] loading {Path(model).name} ({title})…", flush=True)
        figures = measure(Path(model), how)
        print(f"\n{title}: {figures['before']:.0f} MB after imports, {figures['loaded']:.0f} MB loaded "
              f"(+{figures['loaded'] - figures['before']:.0f}), {figures['after_parse']:.0f} MB after one parse")
        for name, mb in sorted(figures["components"].items(), key=lambda item: -item[1]):
            if mb >= 1:
                print(f"  {mb:7.1f} MB  {name}")


if __name__ == "__main__":
    main()
