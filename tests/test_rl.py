"""course_utils.rl: FrozenLake's model as arrays, exact goal probabilities, moving averages, plots."""

import gymnasium as gym
import matplotlib
import matplotlib.text
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import rl

matplotlib.use("Agg")

LEFT, DOWN, RIGHT, UP = 0, 1, 2, 3
# A shortest safe path on the 4x4 map: down, down, right, down, right, right.
SAFE_PATH = {0: DOWN, 4: DOWN, 8: RIGHT, 9: DOWN, 13: RIGHT, 14: RIGHT}


def lake(slippery):
    return gym.make("FrozenLake-v1", is_slippery=slippery)


def masks(env):
    desc = env.unwrapped.desc.flatten()
    return desc == b"G", (desc == b"G") | (desc == b"H")


def test_lake_model_matches_the_map():
    transitions, rewards, terminal = rl.lake_model(lake(slippery=True))
    assert transitions.shape == (16, 4, 16) and rewards.shape == (16, 4)
    np.testing.assert_allclose(transitions.sum(axis=2), 1.0)
    # slippery: from the start, "right" goes right, down or stays (bumping the top wall), 1/3 each
    np.testing.assert_allclose(transitions[0, RIGHT, [0, 1, 4]], [1 / 3, 1 / 3, 1 / 3])
    assert terminal.tolist() == masks(lake(True))[1].tolist()
    # the only reward: stepping into the goal (15) from 14 moving right, 1/3 of the time when slippery
    assert rewards[14, RIGHT] == pytest.approx(1 / 3) and rewards.sum() == pytest.approx(rewards[[11, 14]].sum())

    transitions, rewards, _ = rl.lake_model(lake(slippery=False))
    assert transitions[0, RIGHT, 1] == 1.0 and rewards[14, RIGHT] == 1.0


def test_lake_model_refuses_an_environment_without_a_model():
    with pytest.raises(ValueError, match="known model"):
        rl.lake_model(gym.make("CartPole-v1"))


def test_goal_probability_deterministic_lake():
    env = lake(slippery=False)
    transitions, _, _ = rl.lake_model(env)
    goal, terminal = masks(env)
    policy = np.full(16, LEFT)
    assert rl.goal_probability(transitions, policy, 0, goal, terminal) == 0.0  # bumps the wall forever
    for state, action in SAFE_PATH.items():
        policy[state] = action
    assert rl.goal_probability(transitions, policy, 0, goal, terminal) == pytest.approx(1.0)
    assert rl.goal_probability(transitions, policy, 0, goal, terminal, horizon=5) == 0.0  # needs 6 steps
    assert rl.goal_probability(transitions, policy, 0, goal, terminal, horizon=6) == pytest.approx(1.0)


def test_goal_probability_agrees_with_running_the_environment():
    env = lake(slippery=True)
    transitions, _, _ = rl.lake_model(env)
    goal, terminal = masks(env)
    policy = np.full(16, DOWN)
    for state, action in SAFE_PATH.items():
        policy[state] = action
    exact = rl.goal_probability(transitions, policy, 0, goal, terminal)
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4), size=16)  # a stochastic policy too
    exact_stochastic = rl.goal_probability(transitions, probabilities, 0, goal, terminal)
    for chosen, expected in ((lambda s: policy[s], exact),
                             (lambda s: rng.choice(4, p=probabilities[s]), exact_stochastic)):
        successes, episodes = 0, 3000
        env.reset(seed=1)
        for _ in range(episodes):
            state, _ = env.reset()
            done = False
            while not done:
                state, reward, terminated, truncated, _ = env.step(int(chosen(state)))
                done = terminated or truncated
            successes += reward
        standard_error = np.sqrt(expected * (1 - expected) / episodes)
        assert abs(successes / episodes - expected) < 4 * standard_error + 1e-3


def test_goal_probability_rejects_a_wrong_policy_shape():
    transitions, _, terminal = rl.lake_model(lake(slippery=True))
    with pytest.raises(ValueError, match="policy must be"):
        rl.goal_probability(transitions, np.zeros(15, dtype=int), 0, terminal, terminal)


def test_moving_average_and_first_episode_reaching():
    np.testing.assert_allclose(rl.moving_average([1, 2, 3, 4], 2), [1.5, 2.5, 3.5])
    np.testing.assert_allclose(rl.moving_average(np.arange(10), 10), [4.5])
    with pytest.raises(ValueError, match="window"):
        rl.moving_average([1, 2], 3)
    returns = [10.0] * 150 + [500.0] * 200
    # the mean of episodes k-99..k reaches 475 once 95 of the last 100 are 500: k = 150 + 95
    assert rl.first_episode_reaching(returns, 475) == 245
    assert rl.first_episode_reaching(returns, 501) is None
    assert rl.first_episode_reaching([500.0] * 99, 475) is None  # fewer than 100 episodes
    assert rl.first_episode_reaching([500.0] * 100, 475) == 100


def test_plots_draw_what_they_are_given():
    fig, ax = plt.subplots()
    runs = np.array([[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]])
    line = rl.plot_band(ax, np.arange(3), runs, label="two runs")
    np.testing.assert_allclose(line.get_ydata(), [1.0, 2.0, 3.0])
    band = ax.collections[-1].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.0) and band.max() == pytest.approx(4.0)  # lowest to highest run
    rl.plot_band(ax, np.arange(3), runs, label="ci", band="ci95")
    half = 12.706 * np.sqrt(2.0) / np.sqrt(2)  # Student's t for 2 runs, not 1.96; std of (0, 2) is sqrt(2)
    band = ax.collections[-1].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(1.0 - half, abs=1e-3) and band.max() == pytest.approx(3.0 + half, abs=1e-3)
    with pytest.raises(ValueError, match="band must be"):
        rl.plot_band(ax, np.arange(3), runs, label="wrong", band="sd")
    with pytest.raises(ValueError, match="runs must have shape"):
        rl.plot_band(ax, np.arange(4), runs, label="wrong")
    env = lake(slippery=False)
    ax = rl.plot_lake(np.linspace(0, 1, 16), np.zeros(16, dtype=int), env.unwrapped.desc)
    arrows = [text for text in ax.texts if isinstance(text, matplotlib.text.Annotation)]
    letters = [text.get_text() for text in ax.texts if text not in arrows]
    assert "".join(letters) == "SFFFFHFHFFFHHFFG"  # one letter per cell, row by row
    assert len(arrows) == 16 - 5  # none on the four holes and the goal
    with pytest.raises(ValueError, match="one entry per cell"):
        rl.plot_lake(np.zeros(9), np.zeros(9, dtype=int), env.unwrapped.desc)
    plt.close("all")
