"""Helpers for chapter 9 (reinforcement learning).

The agents themselves (bandits, value iteration, Q-learning, REINFORCE, DQN)
are written by hand in the chapter: they are the lesson. This module holds
the plumbing around them: a Gymnasium toy-text environment's model as arrays,
the exact probability that a policy reaches the goal, a heat map of a grid
world with the policy drawn as arrows, moving averages and mean-and-band
plots over several runs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["ARROWS", "first_episode_reaching", "goal_probability", "lake_model", "moving_average",
           "plot_band", "plot_lake"]

# FrozenLake's actions: 0 left, 1 down, 2 right, 3 up, as (dx, dy) on the image (y grows downwards).
ARROWS = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}


def lake_model(env) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The transition model of a Gymnasium toy-text environment as arrays.

    Args:
        env: an environment whose unwrapped form has the table `P`
            (`P[s][a]` = list of `(probability, next_state, reward, terminated)`),
            such as `gymnasium.make("FrozenLake-v1")`.

    Returns:
        `(transitions, rewards, terminal)`: `transitions[s, a, s2]` = P(s2 | s, a),
        shape (S, A, S); `rewards[s, a]` = expected reward of taking a in s, shape
        (S, A); `terminal[s]` = True where an episode ends (holes, goal), shape (S,).

    Raises:
        ValueError: if the environment publishes no model table `P`.
    """
    table = getattr(getattr(env, "unwrapped", env), "P", None)
    if not isinstance(table, dict):
        raise ValueError(f"lake_model needs an environment with a known model (a table `P`), such as "
                         f"FrozenLake-v1; {env!r} has none. Model-free methods (Q-learning) do not need it.")
    num_states, num_actions = len(table), len(table[0])
    transitions = np.zeros((num_states, num_actions, num_states))
    rewards = np.zeros((num_states, num_actions))
    terminal = np.zeros(num_states, dtype=bool)
    for s in range(num_states):
        for a in range(num_actions):
            for probability, next_state, reward, terminated in table[s][a]:
                transitions[s, a, next_state] += probability
                rewards[s, a] += probability * reward
                terminal[next_state] |= bool(terminated)
    return transitions, rewards, terminal


def goal_probability(transitions: np.ndarray, policy, start: int, goal, terminal,
                     horizon: int = 100) -> float:
    """Exact probability that `policy` reaches a goal state within `horizon` steps.

    The state distribution is pushed forward one step at a time; probability
    mass that enters a terminal state stops there (and counts if it is a goal).
    This is what running the policy for infinitely many episodes of at most
    `horizon` steps would measure.

    Args:
        transitions: (S, A, S) array, `transitions[s, a, s2]` = P(s2 | s, a).
        policy: (S,) integer actions (a deterministic policy) or an (S, A)
            array of action probabilities.
        start: the start state.
        goal, terminal: (S,) boolean masks (a goal is terminal too).
        horizon: the episode's step limit (FrozenLake 4x4 stops after 100).
    """
    transitions = np.asarray(transitions, dtype=float)
    num_states, num_actions, _ = transitions.shape
    policy = np.asarray(policy)
    if policy.shape == (num_states,) and np.issubdtype(policy.dtype, np.integer):
        policy = np.eye(num_actions)[policy]  # one-hot: the deterministic policy as probabilities
    if policy.shape != (num_states, num_actions):
        raise ValueError(f"policy must be ({num_states},) integer actions or a ({num_states}, {num_actions}) "
                         f"array of probabilities, got shape {policy.shape}")
    goal, terminal = np.asarray(goal, dtype=bool), np.asarray(terminal, dtype=bool)
    step = np.einsum("sa,sat->st", policy, transitions)  # (S, S): P(s2 | s) under the policy
    distribution = np.zeros(num_states)
    distribution[start] = 1.0
    reached = 0.0
    for _ in range(horizon):
        distribution = distribution @ step
        reached += distribution[goal].sum()
        distribution[terminal] = 0.0  # the episode ended there
    return float(reached)


def moving_average(values, window: int) -> np.ndarray:
    """Means of every `window` consecutive values (length len(values) - window + 1)."""
    values = np.asarray(values, dtype=float)
    if not 1 <= window <= len(values):
        raise ValueError(f"window must be between 1 and the number of values ({len(values)}), got {window}")
    sums = np.cumsum(np.concatenate([[0.0], values]))
    return (sums[window:] - sums[:-window]) / window


def first_episode_reaching(returns, threshold: float, window: int = 100) -> int | None:
    """The first episode (counted from 1) at which the mean of the last `window`
    returns is at least `threshold`, or None if that never happens.

    Gymnasium's CartPole-v1 counts as solved at a 100-episode mean of 475.
    """
    if len(returns) < window:
        return None
    reached = np.flatnonzero(moving_average(returns, window) >= threshold)
    return int(reached[0]) + window if len(reached) else None


def plot_band(ax, x, runs, label: str, band=(0.0, 1.0), color=None):
    """Mean over runs as a line, with a shaded band around it.

    Args:
        ax: the Matplotlib axis to draw on.
        x: (T,) positions.
        runs: (R, T) values, one row per run (seed).
        band: a pair of quantiles over runs, e.g. (0, 1) shades from the lowest
            to the highest run and (0.1, 0.9) the middle 80% of runs; or "ci95"
            for a 95% confidence interval of the mean (Student's t times the
            standard error: 1.96 for many runs, 2.78 for five).
    """
    runs = np.asarray(runs, dtype=float)
    if runs.ndim != 2 or runs.shape[1] != len(x):
        raise ValueError(f"runs must have shape (num_runs, {len(x)}), got {runs.shape}")
    mean = runs.mean(axis=0)
    if isinstance(band, str):
        if band != "ci95":
            raise ValueError(f"band must be a pair of quantiles or 'ci95', got {band!r}")
        if len(runs) < 2:
            raise ValueError("band='ci95' needs at least two runs to measure their spread")
        from scipy import stats  # imported here: it takes a moment

        t = stats.t.ppf(0.975, df=len(runs) - 1)  # Student's t: 1.96 only for many runs (see mean_and_band)
        half_width = t * runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
        low, high = mean - half_width, mean + half_width
    else:
        low, high = np.quantile(runs, band, axis=0)
    line, = ax.plot(x, mean, label=label, color=color)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def plot_lake(values, policy, desc, ax=None, title: str = "FrozenLake", value_label: str = "value"):
    """A grid world's values as a heat map, with the policy's action as an arrow
    in every non-terminal cell and the map's letters (S start, F frozen, H hole,
    G goal) in the corners.

    Args:
        values: (S,) one number per state, e.g. V(s) or max_a Q(s, a).
        policy: (S,) integer actions (FrozenLake's 0 left, 1 down, 2 right, 3 up).
        desc: the map, e.g. `env.unwrapped.desc` (rows of b"S", b"F", b"H", b"G"),
            or a list of row strings as `gym.make(desc=...)` takes ("SFFF", "FHFH", ...).
        ax: the axis to draw on (a new figure when None).
    """
    desc = np.asarray(desc).astype(str)
    if desc.ndim == 1:  # row strings: one character per cell
        desc = np.array([list(row) for row in desc])
    rows, cols = desc.shape
    values, policy = np.asarray(values, dtype=float), np.asarray(policy)
    if values.shape != (rows * cols,) or policy.shape != (rows * cols,):
        raise ValueError(f"values and policy need one entry per cell ({rows * cols}), got {values.shape} "
                         f"and {policy.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.8))
    image = ax.imshow(values.reshape(rows, cols), cmap="viridis")
    ax.figure.colorbar(image, ax=ax, label=value_label)
    for s in range(rows * cols):
        r, c = divmod(s, cols)
        ax.text(c - 0.42, r - 0.28, desc[r, c], color="white", fontsize=9, fontweight="bold")
        if desc[r, c] in ("H", "G"):
            continue
        dx, dy = ARROWS[int(policy[s])]
        ax.annotate("", xy=(c + 0.3 * dx, r + 0.3 * dy), xytext=(c - 0.3 * dx, r - 0.3 * dy),
                    arrowprops=dict(arrowstyle="->", color="white", lw=2))
    ax.set(title=title, xlabel="column", ylabel="row", xticks=range(cols), yticks=range(rows))
    return ax
