"""The environment families. Importing a family module registers it; heavy engines load lazily."""

from llm_gym.families import textcraft
from llm_gym.families import babyai
from llm_gym.families import shop
from llm_gym.families import searchqa

__all__ = ["textcraft"]
