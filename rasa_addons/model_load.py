"""A trained TensorFlow model (DIET) loaded for prediction without training it on one example first.

Why: to create a model's variables before reading the saved weights, Rasa 3.6's `RasaModel.load`
compiles the model with an Adam optimizer and runs `fit` on one example: a training step with its
gradients, optimizer slots and metrics, all traced into a TensorFlow graph. For Hamdel's DIET that
step alone kept about 600 MB of the Rasa server's memory (the whole model load: about 800 MB of
the process's 1.35 GB at rest), for a model that will only ever predict (docs/performance.md,
item 26). It also made every model load, and so every deployment of a new model, slower.

`install()` replaces the load when Rasa asks for a model to predict with (not `finetune_mode`, and
with the example Rasa keeps for the first prediction): one prediction on that example creates
every variable prediction uses, the saved weights are read into them, and the check that every
variable created got its value from the file must pass; the model then forgets what it prepared
with the random weights (the label embeddings and the traced prediction function) and predicts on
the example once more, as Rasa's load ends. Anything unexpected on that path (a variable without a
saved value, an error) falls back to Rasa's own load of a fresh model. Fine-tuning, and every
model Rasa trains, go through Rasa's code unchanged. Installed with the package
(rasa_addons/__init__.py) on Rasa 3.6.x only; tests/integration/test_model_load.py compares every
variable and the parse of every held-out text with Rasa's own load.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

logger = logging.getLogger(__name__)

_INSTALLED = False


def load_for_prediction(cls: Any, model_file_name: str, predict_data_example: Any, *args: Any, **kwargs: Any) -> Any:
    """Build `cls` by one prediction, read its weights, check them, and prepare it as Rasa's load does."""
    model = cls(*args, **kwargs)
    model.run_inference(predict_data_example)  # creates the variables (random values, never used)
    status = model.load_weights(model_file_name)
    status.assert_existing_objects_matched()  # every variable created has its saved value
    status.expect_partial()  # the file's metric counters (Rasa's fit creates them) stay unread
    model.prepared_for_prediction = False  # label embeddings were computed from the random weights
    model._tf_predict_step = None  # and traced with them
    model.run_inference(predict_data_example)  # as Rasa's load ends: the first prediction traces the graph
    return model


def install() -> bool:
    """Replace `RasaModel.load` once; True when the replacement is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.utils.tensorflow.models import RasaModel

    rasas = RasaModel.load.__func__  # type: ignore[attr-defined]

    def load(cls: Any, model_file_name: str, model_data_example: Any, predict_data_example: Optional[Any] = None,
             finetune_mode: bool = False, *args: Any, **kwargs: Any) -> Any:
        if not finetune_mode and predict_data_example is not None:
            try:
                return load_for_prediction(cls, model_file_name, predict_data_example, *args, **kwargs)
            except Exception as error:  # noqa: BLE001 — any surprise: Rasa's own load, which may raise it properly
                logger.warning("%s: loading for prediction failed (%s); using Rasa's own load", cls.__name__, error)
        return rasas(cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs)

    load.__doc__ = "Rasa's `RasaModel.load`, without the training step when the model only predicts (rasa_addons/model_load.py)."
    RasaModel.load = classmethod(load)  # type: ignore[assignment,method-assign]
    _INSTALLED = True
    return True
