"""Poker: two-player zero-sum betting with hidden cards, from Kuhn poker up to Leduc-like games.

Read top to bottom: difficulty knobs and presets, the deck, the game as a pure state machine
(``PokerState``, so it can be enumerated exactly), the environment (PettingZoo AEC), and
scripted policies for either seat: uniform random, a hand-strength heuristic, and Kuhn poker's
known equilibrium.

Each player antes, gets one private card, and bets in one round (Kuhn) or two, with a public
board card dealt between them (Leduc). The best hand wins the pot at showdown: a private card that
pairs the board beats any unpaired card; otherwise the higher rank wins; equal ranks split.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from typing import Any

import numpy as np
from pettingzoo import AECEnv
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

from llm_gym.core import checked_index
from llm_gym.difficulty import Config, knob, resolve_difficulty
from llm_gym.grammar import Command, CommandSpec, Grammar
from llm_gym.multiagent.base import TextGame, Turn

PLAYERS = ("player_0", "player_1")


@dataclasses.dataclass(frozen=True)
class PokerConfig(Config):
    ranks: int = knob(3, 2, 13, "card ranks in the deck")
    suits: int = knob(1, 1, 4, "cards of each rank (suits)")
    board: int = knob(0, 0, 1, "public cards dealt after the first betting round (0: one round, as Kuhn poker)")
    ante: int = knob(1, 1, 10, "chips each player puts in before the cards are dealt")
    bet: int = knob(1, 1, 20, "size of a bet or raise in the first round")
    board_bet: int = knob(2, 1, 40, "size of a bet or raise in the round after the board card")
    max_raises: int = knob(1, 1, 4, "bets plus raises allowed per round (1: a bet can only be called or folded)")

    def check(self) -> None:
        if self.ranks * self.suits < 2 + self.board:
            raise ValueError(
                f"PokerConfig: a deck of ranks * suits = {self.ranks * self.suits} cards cannot deal "
                f"2 private cards and board = {self.board}"
            )


PRESETS = {
    "kuhn": PokerConfig(),
    "leduc": PokerConfig(ranks=3, suits=2, board=1, ante=1, bet=2, board_bet=4, max_raises=2),
    "large": PokerConfig(ranks=6, suits=2, board=1, ante=1, bet=2, board_bet=4, max_raises=3),
}

RANK_NAMES = ("Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Jack", "Queen", "King", "Ace")
SUIT_NAMES = ("spades", "hearts", "diamonds", "clubs")


def card_name(card: tuple[int, int], config: PokerConfig) -> str:
    """``(rank, suit)`` in words; ranks are the top ones below the Ace (Kuhn: Jack, Queen, King)."""
    rank, suit = card
    names = RANK_NAMES[:12][-config.ranks :] if config.ranks <= 12 else RANK_NAMES
    return names[rank] if config.suits == 1 else f"{names[rank]} of {SUIT_NAMES[suit]}"


def deck(config: PokerConfig) -> tuple[tuple[int, int], ...]:
    return tuple(itertools.product(range(config.ranks), range(config.suits)))


# ----- the game as a pure state machine -------------------------------------------------------

VERBS = ("check", "bet", "call", "raise", "fold")
GRAMMAR = Grammar(
    [
        CommandSpec("check", "check", (), "put in nothing more (only when no bet is open)"),
        CommandSpec("bet", "bet", (), "open the betting with one bet (only when no bet is open)"),
        CommandSpec("call", "call", (), "match the open bet; the round ends"),
        CommandSpec("raise", "raise", (), "match the open bet and add one more"),
        CommandSpec("fold", "fold", (), "give up the hand and the pot"),
    ]
)
MOVES = tuple(Command(verb) for verb in VERBS)


@dataclasses.dataclass(frozen=True)
class PokerState:
    """One hand: the cards, the chips each player put in, and the betting of each round.

    ``history`` holds one tuple of ``(player index, verb)`` per round reached.
    """

    config: PokerConfig
    cards: tuple[tuple[int, int], tuple[int, int]]
    board: tuple[int, int] | None
    contributions: tuple[int, int]
    history: tuple[tuple[tuple[int, str], ...], ...] = ((),)
    folded: int | None = None

    @property
    def round(self) -> int:
        return len(self.history) - 1

    @property
    def board_shown(self) -> bool:
        return self.board is not None and self.round >= 1

    def shown_board(self) -> tuple[int, int] | None:
        """The board card once it is dealt face up, else ``None``."""
        return self.board if self.board_shown else None

    @property
    def finished(self) -> bool:
        return self.folded is not None or self._round_over() and self.round >= self.config.board

    @property
    def to_act(self) -> int:
        """Player 0 opens every round; then they alternate."""
        return len(self.history[-1]) % 2

    def _round_over(self) -> bool:
        verbs = [verb for _, verb in self.history[-1]]
        return verbs[-2:] == ["check", "check"] or (bool(verbs) and verbs[-1] == "call")

    def raises(self) -> int:
        return sum(verb in ("bet", "raise") for _, verb in self.history[-1])

    def facing_bet(self) -> bool:
        return self.contributions[self.to_act] < self.contributions[1 - self.to_act]

    def legal(self) -> tuple[str, ...]:
        if self.finished:
            return ()
        can_raise = self.raises() < self.config.max_raises
        if self.facing_bet():
            return ("call", "raise", "fold") if can_raise else ("call", "fold")
        return ("check", "bet")

    def bet_size(self) -> int:
        return self.config.bet if self.round == 0 else self.config.board_bet

    def apply(self, verb: str) -> PokerState:
        """The state after the player to act plays ``verb``, which must be legal."""
        player = self.to_act
        paid = list(self.contributions)
        if verb in ("call", "raise"):
            paid[player] = paid[1 - player]
        if verb in ("bet", "raise"):
            paid[player] += self.bet_size()
        history = self.history[:-1] + (self.history[-1] + ((player, verb),),)
        state = dataclasses.replace(
            self, contributions=(paid[0], paid[1]), history=history, folded=player if verb == "fold" else None
        )
        if state.folded is None and state._round_over() and state.round < self.config.board:
            state = dataclasses.replace(state, history=history + ((),))
        return state

    def strength(self, player: int) -> int:
        rank = self.cards[player][0]
        board = self.shown_board()
        if board is not None and board[0] == rank:
            return 100 + rank
        return rank

    def payoffs(self) -> tuple[int, int]:
        """Chips won by each player at the end of the hand (zero-sum)."""
        if self.folded is not None:
            winner = 1 - self.folded
        else:
            strengths = (self.strength(0), self.strength(1))
            if strengths[0] == strengths[1]:
                return (0, 0)
            winner = 0 if strengths[0] > strengths[1] else 1
        won = self.contributions[1 - winner]
        return (won, -won) if winner == 0 else (-won, won)


def deal(config: PokerConfig, rng: random.Random) -> PokerState:
    cards = list(deck(config))
    rng.shuffle(cards)
    board = cards[2] if config.board else None
    return PokerState(config, (cards[0], cards[1]), board, (config.ante, config.ante))


# ----- the environment ------------------------------------------------------------------------

RULES = (
    "You are {seat} in a two-player poker game against one opponent. {deck_text} Each player antes "
    "{ante} chip{ante_s} and gets one private card; you cannot see your opponent's card. {rounds_text} "
    "In a round, player_0 acts first. With no bet open you may check or bet; facing a bet you may call, "
    "fold, or raise (at most {max_raises} bet{raises_s} and raise{raises_s} in total per round). "
    "{bet_text} If a player folds, the other wins the pot. Otherwise, at showdown, {showdown_text}"
    "the higher card wins; equal ranks split the pot. Your reward is the chips you win or lose."
)


class PokerEnv(TextGame):
    """Two-player poker with hidden cards: Kuhn poker, Leduc-like hold'em, or larger decks.

    Example:
        >>> env = PokerEnv(difficulty="kuhn")
        >>> env.reset(seed=0)
        >>> env.agent_selection, env.infos["player_0"]["admissible_actions"]
        ('player_0', ['check', 'bet'])
        >>> env.step("bet"); env.infos["player_1"]["admissible_actions"]
        ['call', 'fold']
    """

    metadata = {"render_modes": ["ansi", "human"], "is_parallelizable": False, "name": "poker_v0"}
    possible_agents = list(PLAYERS)
    grammars = {agent: GRAMMAR for agent in PLAYERS}
    moves = {agent: MOVES for agent in PLAYERS}
    config_class = PokerConfig
    presets = PRESETS

    def __init__(self, difficulty: Any = None, max_turns: int = 40, render_mode: str | None = None):
        self.preset, self.config = resolve_difficulty(
            PokerConfig, PRESETS, "kuhn" if difficulty is None else difficulty
        )
        super().__init__(max_turns=max_turns, render_mode=render_mode)
        self.difficulty_record = {"preset": self.preset, **self.config.as_dict()}
        self.hand: PokerState | None = None

    def _hand(self) -> PokerState:
        """The hand being played; a clear error before the first ``reset()``."""
        if self.hand is None:
            raise RuntimeError("PokerEnv has no hand dealt yet; call reset() first")
        return self.hand

    def _rules(self, agent: str) -> str:
        c = self.config
        names = [card_name((rank, 0), c).split(" of ")[0] for rank in range(c.ranks)]
        deck_text = f"The deck has {c.ranks * c.suits} cards: " + (
            f"{', '.join(names)} (low to high)."
            if c.suits == 1
            else f"{', '.join(names)} (low to high), in {c.suits} suits ({', '.join(SUIT_NAMES[: c.suits])})."
        )
        if c.board:
            rounds_text = "There are two betting rounds; after the first, one public board card is dealt face up."
            bet_text = (
                f"A bet or raise is {c.bet} chip{'s' * (c.bet > 1)} in the first round and {c.board_bet} in the second."
            )
            showdown_text = "a card that pairs the board beats any other; otherwise "
        else:
            rounds_text = "There is one betting round."
            bet_text = f"A bet or raise is {c.bet} chip{'s' * (c.bet > 1)}."
            showdown_text = ""
        return RULES.format(
            seat=agent,
            deck_text=deck_text,
            ante=c.ante,
            ante_s="s" * (c.ante > 1),
            rounds_text=rounds_text,
            max_raises=c.max_raises,
            raises_s="s" * (c.max_raises > 1),
            bet_text=bet_text,
            showdown_text=showdown_text,
        )

    def _start(self, rng: np.random.Generator, options: dict[str, Any]) -> str:
        hand_seed = options.get("hand_seed")
        if hand_seed is None:
            hand_seed = int(rng.integers(0, 2**31 - 1))
        else:
            hand_seed = checked_index(hand_seed, "options['hand_seed']")
        self.hand_seed = hand_seed
        self.task_id = f"Poker:{self.config.fingerprint()}:{hand_seed}"
        self.hand = deal(self.config, random.Random(f"poker/{hand_seed}"))
        return PLAYERS[self.hand.to_act]

    def _act(self, agent: str, command: Command) -> Turn:
        seat = PLAYERS.index(agent)
        hand = self._hand()
        legal = hand.legal()
        if command.verb not in legal:
            why = "a bet is open" if hand.facing_bet() else "no bet is open"
            if command.verb == "raise" and hand.facing_bet():
                why = (
                    f"the round already has {self.config.max_raises} bet{'s' * (self.config.max_raises > 1)} and raises"
                )
            return Turn(f"You cannot {command.verb}: {why}. Legal moves: {', '.join(legal)}.", status="illegal")
        before = hand.round
        after = self.hand = hand.apply(command.verb)
        other = PLAYERS[1 - seat]
        chips = after.contributions[seat] - hand.contributions[seat]
        said = f"{command.verb}{f' ({chips} chip' + 's' * (chips > 1) + ')' if chips else ''}"
        notes = [f"Your opponent {_third_person(command.verb)}{said[len(command.verb) :]}."]
        feedback = [f"You {said}."]
        if after.round > before:
            board_card = after.shown_board()
            if board_card is None:
                raise RuntimeError("Poker: a betting round after the first began with no board card dealt")
            board = f"The board card is dealt: {card_name(board_card, self.config)}."
            feedback.append(board)
            notes.append(board)
        if not after.finished:
            return Turn(" ".join(feedback), next_agent=PLAYERS[after.to_act], notes={other: " ".join(notes)})
        payoffs = after.payoffs()
        for index, text in ((seat, feedback), (1 - seat, notes)):
            text.append(self._result_text(index, payoffs[index]))
        outcomes = {
            PLAYERS[i]: "success" if payoffs[i] > 0 else "failure" if payoffs[i] < 0 else "draw" for i in (0, 1)
        }
        return Turn(
            " ".join(feedback),
            next_agent=other,
            rewards={PLAYERS[i]: float(payoffs[i]) for i in (0, 1)},
            outcomes=outcomes,
            notes={other: " ".join(notes)},
        )

    def _result_text(self, seat: int, won: int) -> str:
        chips = abs(won)
        plural = "s" * (chips > 1)
        result = (
            f"You win {chips} chip{plural}."
            if won > 0
            else (f"You lose {chips} chip{plural}." if won < 0 else "The pot is split.")
        )
        hand = self._hand()
        if hand.folded is not None:
            return result
        return f"Showdown: your opponent shows {card_name(hand.cards[1 - seat], self.config)}. {result}"

    def _view(self, agent: str) -> dict[str, Any]:
        seat = PLAYERS.index(agent)
        hand = self._hand()
        board = hand.shown_board()
        history = [
            ["you " + verb if player == seat else "opponent " + _third_person(verb) for player, verb in betting]
            for betting in hand.history
        ]
        view: dict[str, Any] = {
            "feedback": self._pending_feedback(agent),
            "seat": agent,
            "card": card_name(hand.cards[seat], self.config),
            "board": card_name(board, self.config) if board is not None else None,
            "pot": sum(hand.contributions),
            "you_put_in": hand.contributions[seat],
            "opponent_put_in": hand.contributions[1 - seat],
            "betting": history,
            "your_turn": agent == self.agent_selection and self._live(agent),
            "legal_moves": [command.verb for command in self.legal_commands(agent)],
        }
        if hand.finished and hand.folded is None:
            view["opponent_card"] = card_name(hand.cards[1 - seat], self.config)
        return view

    def render_view(self, view: dict[str, Any], first: bool) -> str:
        lines = [view["feedback"]] if view["feedback"] else []
        lines.append(f"Your card: {view['card']}.")
        if self.config.board:
            lines.append(f"Board: {view['board'] or 'not dealt yet'}.")
        if "opponent_card" in view:
            lines.append(f"Your opponent's card: {view['opponent_card']}.")
        lines.append(
            f"Pot: {view['pot']} chips (you put in {view['you_put_in']}, your opponent {view['opponent_put_in']})."
        )
        rounds = [f"round {i + 1}: {', '.join(moves) or 'no moves yet'}" for i, moves in enumerate(view["betting"])]
        lines.append("Betting so far: " + "; ".join(rounds) + ".")
        if view["your_turn"]:
            lines.append(f"Your move. Legal moves: {', '.join(view['legal_moves'])}.")
        return "\n".join(lines)

    def _legal(self, agent: str) -> list[Command]:
        hand = self._hand()
        if PLAYERS[hand.to_act] != agent:
            return []
        return [Command(verb) for verb in hand.legal()]

    def _extra_info(self, agent: str) -> dict[str, Any]:
        seat = PLAYERS.index(agent)
        hand = self._hand()
        hidden = (-1, -1)
        cards = (hand.cards[0], hidden) if seat == 0 else (hidden, hand.cards[1])
        if hand.finished and hand.folded is None:
            cards = hand.cards
        return {
            "task_id": self.task_id,
            "difficulty": dict(self.difficulty_record),
            "info_state": dataclasses.replace(hand, cards=cards, board=hand.shown_board()),
        }

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "game": "Poker",
            "agents": list(PLAYERS),
            "knobs": PokerConfig.knobs(),
            "presets": {name: config.as_dict() for name, config in PRESETS.items()},
            "commands": [
                {"verb": spec.verb, "syntax": spec.syntax, "description": spec.description} for spec in GRAMMAR
            ],
        }


def raw_env(**kwargs: Any) -> PokerEnv:
    """``PokerEnv(**kwargs)``: PettingZoo's name for a game module's unwrapped AEC environment."""
    return PokerEnv(**kwargs)


def env(**kwargs: Any) -> AECEnv:
    """The game as PettingZoo's game modules give it: ``raw_env(**kwargs)`` with its order enforced.

    Example:
        >>> from llm_gym.multiagent import poker
        >>> game = poker.env(difficulty="leduc", render_mode="ansi")
        >>> game.reset(seed=0)
        >>> game.agent_selection
        'player_0'
    """
    return OrderEnforcingWrapper(raw_env(**kwargs))


def _third_person(verb: str) -> str:
    return {"check": "checks", "bet": "bets", "call": "calls", "raise": "raises", "fold": "folds"}[verb]


# ----- scripted policies ----------------------------------------------------------------------


class PokerPolicy:
    """A stochastic policy over verbs, ``probabilities(state, seat)``, that reads only what ``seat`` knows.

    In an env it reads ``info["info_state"]``, the hand with the opponent's card (and an unshown
    board) masked out.
    ``act(observation, info)`` samples from it with its own ``random.Random``, so it follows the
    agent protocol of ``llm_gym.baselines``; ``probabilities`` lets ``expected_payoffs`` evaluate
    policies exactly.
    """

    name = "poker"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)

    def probabilities(self, state: PokerState, seat: int) -> dict[str, float]:
        raise NotImplementedError

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        state = info.get("info_state")
        if state is None:
            raise ValueError("A PokerPolicy reads info['info_state']; use it on PokerEnv's infos")
        probabilities = self.probabilities(state, PLAYERS.index(info["view"]["seat"]))
        verbs = list(probabilities)
        return self.rng.choices(verbs, weights=[probabilities[v] for v in verbs])[0]


class RandomPoker(PokerPolicy):
    """Uniform over the legal moves."""

    name = "random"

    def probabilities(self, state: PokerState, seat: int) -> dict[str, float]:
        legal = state.legal()
        return {verb: 1 / len(legal) for verb in legal}


class HeuristicPoker(PokerPolicy):
    """Bet or raise strong hands, call fair ones, fold weak ones, bluff a little with the weakest.

    Strength is the chance to beat a uniformly drawn unseen opponent card, with the board card
    when it is shown, else averaged over the cards it could be.
    """

    name = "heuristic"

    def __init__(self, seed: int | None = None, bluff: float = 0.1):
        super().__init__(seed)
        self.bluff = bluff

    def probabilities(self, state: PokerState, seat: int) -> dict[str, float]:
        legal = state.legal()
        equity = hand_equity(state, seat)
        if "check" in legal:
            if equity >= 0.6:
                return {"bet": 1.0}
            if equity < 0.2 and self.bluff > 0:
                return {"bet": self.bluff, "check": 1 - self.bluff}
            return {"check": 1.0}
        if equity >= 0.8 and "raise" in legal:
            return {"raise": 1.0}
        needed = state.bet_size() / (sum(state.contributions) + state.bet_size())
        return {"call": 1.0} if equity >= max(needed, 0.3) else {"fold": 1.0}


class KuhnEquilibrium(PokerPolicy):
    """A Nash equilibrium of Kuhn poker (``alpha`` in [0, 1/3] picks one); value -1/18 to player_0.

    Player 0: bets a King with probability 3*alpha, a Jack with alpha, checks a Queen; facing a bet
    after checking, calls a Queen with probability alpha + 1/3 and a King always. Player 1: facing a
    bet, calls a King and a Queen with 1/3; facing a check, bets a King and a Jack with 1/3.
    """

    name = "kuhn-equilibrium"

    def __init__(self, seed: int | None = None, alpha: float = 1 / 6):
        super().__init__(seed)
        if not 0 <= alpha <= 1 / 3:
            raise ValueError(f"alpha must be in [0, 1/3], got {alpha!r}")
        self.alpha = alpha

    def probabilities(self, state: PokerState, seat: int) -> dict[str, float]:
        if state.config != PRESETS["kuhn"]:
            raise ValueError("KuhnEquilibrium plays only the 'kuhn' preset")
        card = state.cards[seat][0]  # 0 Jack, 1 Queen, 2 King
        facing = state.facing_bet()
        if seat == 0 and not facing:
            p_bet = (self.alpha, 0.0, 3 * self.alpha)[card]
            return _mix("bet", p_bet, "check")
        if seat == 0:
            return _mix("call", (0.0, self.alpha + 1 / 3, 1.0)[card], "fold")
        if facing:
            return _mix("call", (0.0, 1 / 3, 1.0)[card], "fold")
        return _mix("bet", (1 / 3, 0.0, 1.0)[card], "check")


def _mix(first: str, p: float, second: str) -> dict[str, float]:
    return {first: p, second: 1 - p}


def hand_equity(state: PokerState, seat: int) -> float:
    """The chance to win (ties count half) against an opponent card drawn from the unseen cards."""
    mine = state.cards[seat]
    seen = {mine} | ({state.board} if state.board_shown else set())
    unseen = [card for card in deck(state.config) if card not in seen]
    boards = [state.board] if state.board_shown else ([None] if not state.config.board else unseen)
    total, count = 0.0, 0
    for board in boards:
        for other in unseen:
            if other == board:
                continue
            mine_s = _strength(mine, board)
            other_s = _strength(other, board)
            total += 1.0 if mine_s > other_s else 0.5 if mine_s == other_s else 0.0
            count += 1
    return total / count


def _strength(card: tuple[int, int], board: tuple[int, int] | None) -> int:
    return 100 + card[0] if board is not None and board[0] == card[0] else card[0]


def all_deals(config: PokerConfig) -> list[PokerState]:
    """The first state of every deal, each equally likely."""
    cards = deck(config)
    return [
        PokerState(config, (a, b), board, (config.ante, config.ante))
        for a, b in itertools.permutations(cards, 2)
        for board in ([None] if not config.board else [c for c in cards if c not in (a, b)])
    ]


def expected_payoffs(config: PokerConfig, policies: tuple[PokerPolicy, PokerPolicy]) -> tuple[float, float]:
    """The exact expected chips of each seat over every deal, with each seat played by its policy."""

    def value(state: PokerState) -> float:
        if state.finished:
            return float(state.payoffs()[0])
        seat = state.to_act
        return sum(p * value(state.apply(verb)) for verb, p in policies[seat].probabilities(state, seat).items() if p)

    deals = all_deals(config)
    mean = sum(value(state) for state in deals) / len(deals)
    return (mean, -mean)


def best_response_value(config: PokerConfig, policy: PokerPolicy, seat: int) -> float:
    """The chips per hand a best response in ``seat`` wins against ``policy`` in the other seat (exact).

    The best response picks one move per information set (its card, the board once shown, the
    betting), the one with the most expected chips over the histories it cannot tell apart.
    """
    other = 1 - seat
    groups: dict[tuple, list[tuple[PokerState, float]]] = {}

    def infoset(state: PokerState) -> tuple:
        return (state.cards[seat], state.board if state.board_shown else None, state.history)

    def collect(state: PokerState, weight: float) -> None:
        if state.finished:
            return
        if state.to_act == seat:
            groups.setdefault(infoset(state), []).append((state, weight))
            for verb in state.legal():
                collect(state.apply(verb), weight)
            return
        for verb, p in policy.probabilities(state, other).items():
            if p:
                collect(state.apply(verb), weight * p)

    choices: dict[tuple, str] = {}
    values: dict[PokerState, float] = {}

    def value(state: PokerState) -> float:
        if state not in values:
            if state.finished:
                values[state] = float(state.payoffs()[seat])
            elif state.to_act == seat:
                key = infoset(state)
                if key not in choices:
                    choices[key] = max(
                        state.legal(), key=lambda verb: sum(w * value(h.apply(verb)) for h, w in groups[key])
                    )
                values[state] = value(state.apply(choices[key]))
            else:
                probabilities = policy.probabilities(state, other).items()
                values[state] = sum(p * value(state.apply(verb)) for verb, p in probabilities if p)
        return values[state]

    deals = all_deals(config)
    for state in deals:
        collect(state, 1.0)
    return sum(value(state) for state in deals) / len(deals)


def exploitability(config: PokerConfig, policy: PokerPolicy) -> float:
    """How much a best response gains against ``policy`` playing both seats, per hand and seat.

    Zero exactly at a Nash equilibrium: the mean of the two best responses' values (the game's value
    cancels out between the seats).
    """
    return (best_response_value(config, policy, 0) + best_response_value(config, policy, 1)) / 2


POLICIES = {"random": RandomPoker, "heuristic": HeuristicPoker, "kuhn-equilibrium": KuhnEquilibrium}
