"""The environment families. Importing a family module registers it; heavy engines load lazily."""

from llm_gym.families import textcraft

__all__ = ["textcraft"]
