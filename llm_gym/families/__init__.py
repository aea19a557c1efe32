"""The environment families. Importing a family module registers it; heavy engines load lazily.

The import order is the registration order, which ``llm_gym.env_ids()`` and the CLI follow.
"""

from llm_gym.families import textcraft  # noqa: I001
from llm_gym.families import babyai
from llm_gym.families import household
from llm_gym.families import shop
from llm_gym.families import searchqa
from llm_gym.families import textworld_games

__all__ = ["textcraft", "babyai", "household", "shop", "searchqa", "textworld_games"]
