"""The environment families. Importing a family module registers it; heavy engines load lazily."""

from llm_gym.families import textcraft
from llm_gym.families import babyai
from llm_gym.families import household
from llm_gym.families import textworld_games
from llm_gym.families import searchqa
from llm_gym.families import shop

__all__ = ["textcraft", "textworld_games"]
