"""Rasa pipeline component that applies Hamdel's one Persian normalisation (hamdel.persian).

It runs first in the pipeline, at training and at inference, so the tokenizer and featurizers see
the same canonical text either way. Training examples keep correct entity offsets: when an example
is not already normalised, each entity span is mapped onto the normalised text.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from hamdel.persian import normalize, realign_span

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class PersianNormalizer(GraphComponent):
    """Normalises message text in place (Arabic letters, half-spaces, digits, spacing)."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "PersianNormalizer":
        normalize("گرم کردن")  # builds hazm's normaliser now, not on the first customer message
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._normalise(message, keep_entities=True)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalise(message, keep_entities=False)
        return messages

    @classmethod
    def process_one(cls, message: Message) -> None:
        """What `process` does to one live message (rasa_addons/intent_payloads.py uses it)."""
        cls._normalise(message, keep_entities=False)

    @staticmethod
    def _normalise(message: Message, keep_entities: bool) -> None:
        text: Optional[Text] = message.get(TEXT)
        if not text:
            return
        normalized = normalize(text)
        if normalized == text:
            return
        if keep_entities:
            for entity in message.get(ENTITIES) or []:
                start, end = realign_span(text, normalized, entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END])
                entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = start, end
        message.set(TEXT, normalized)
