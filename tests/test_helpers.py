"""utils, validation, metrics, plotting, exercises, synthetic data."""

import json
import time

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from course_utils import exercises, metrics, plotting, synthetic, utils
from course_utils.validation import check_loss_inputs


# ---- utils -------------------------------------------------------------------------------
def test_device_override(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert utils.get_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        utils.get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            utils.get_device("cuda")


def test_describe_device_names_the_machine():
    assert utils.describe_device("cpu").startswith("CPU (") and utils.describe_device("cpu").endswith(" cores)")


def test_set_seed_repeats_every_generator():
    utils.set_seed(3)
    first = (torch.rand(3), np.random.rand(3), __import__("random").random())
    utils.set_seed(3)
    second = (torch.rand(3), np.random.rand(3), __import__("random").random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1]) and first[2] == second[2]


def test_count_parameters_and_timer():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert utils.count_parameters(model) == 3 * 4 + 4 + 4 * 2 + 2
    model[0].weight.requires_grad_(False)
    assert utils.count_parameters(model) == 4 + 4 * 2 + 2
    assert utils.count_parameters(model, trainable_only=False) == 26


def test_timer_measures_the_block_it_wraps():
    timer = utils.Timer()
    time.sleep(0.3)  # before the block: must not count
    with timer:
        time.sleep(0.1)
    assert 0.1 <= timer.seconds < 0.3, timer.seconds
    assert timer.elapsed() >= timer.seconds


def test_record_results(tmp_path, monkeypatch):
    assert utils.record_results("ch", {"a": 1}) is None  # nothing written without COURSE_METRICS_DIR
    monkeypatch.setenv("COURSE_METRICS_DIR", str(tmp_path))
    utils.record_results("ch", {"acc": torch.tensor(0.5)})
    path = utils.record_results("ch", {"loss": np.float32(0.25)})
    saved = json.loads(path.read_text())
    assert saved["results"] == {"acc": 0.5, "loss": 0.25} and saved["chapter"] == "ch" and "torch" in saved


def test_fast_flag_parsing(monkeypatch):
    for value, expected in (("1", True), ("true", True), ("YES", True), (" On ", True), ("0", False),
                            ("False", False), ("no", False), ("OFF", False), ("", False), ("  ", False)):
        monkeypatch.setenv("COURSE_FAST", value)
        assert utils.env_flag("COURSE_FAST") is expected
    monkeypatch.delenv("COURSE_FAST")
    assert utils.env_flag("COURSE_FAST") is False


@pytest.mark.parametrize("value", ["2", "y", "fast", "enabled", "-1"])
def test_unrecognised_flag_values_are_refused(value, monkeypatch):
    """`COURSE_FAST=2` must not silently mean off."""
    monkeypatch.setenv("COURSE_FAST", value)
    with pytest.raises(ValueError, match=rf"COURSE_FAST='{value}' is not understood: .*1/true/yes/on.*0/false/no/off"):
        utils.env_flag("COURSE_FAST")
    monkeypatch.setenv("COURSE_OFFLINE", value)
    with pytest.raises(ValueError, match="COURSE_OFFLINE"):
        from course_utils import data

        data.download("mnist")


# ---- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize("loss_fn", [nn.CrossEntropyLoss(), F.cross_entropy])
def test_cross_entropy_checks(loss_fn):
    logits = torch.randn(4, 3)
    check_loss_inputs(loss_fn, logits, torch.tensor([0, 1, 2, 0]))  # fine
    check_loss_inputs(loss_fn, logits, torch.softmax(torch.randn(4, 3), 1))  # soft labels are fine
    with pytest.raises(ValueError, match="targets.long"):
        check_loss_inputs(loss_fn, logits, torch.tensor([0.0, 1, 2, 0]))
    with pytest.raises(ValueError, match="squeeze"):
        check_loss_inputs(loss_fn, logits, torch.tensor([[0], [1], [2], [0]]))
    with pytest.raises(ValueError, match="0..2 for 3 outputs, found 0..3"):
        check_loss_inputs(loss_fn, logits, torch.tensor([0, 1, 3, 0]))


def test_same_shape_losses():
    check_loss_inputs(nn.BCEWithLogitsLoss(), torch.randn(4, 1), torch.ones(4, 1))
    with pytest.raises(ValueError, match="broadcast"):
        check_loss_inputs(nn.MSELoss(), torch.randn(4, 1), torch.randn(4))
    with pytest.raises(ValueError, match="targets.float"):
        check_loss_inputs(nn.BCEWithLogitsLoss(), torch.randn(4), torch.ones(4, dtype=torch.long))
    check_loss_inputs(lambda a, b: (a - b).sum(), torch.randn(2), torch.randn(3))  # unknown losses pass


# ---- metrics -------------------------------------------------------------------------------
def test_metrics_against_hand_counts():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    targets = torch.tensor([0, 1, 1, 1])
    assert metrics.accuracy(logits, targets) == pytest.approx(0.75)
    assert metrics.binary_accuracy(torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1, 0, 0])) == pytest.approx(2 / 3)
    scores = metrics.classification_scores([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert scores == pytest.approx({"accuracy": 0.6, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    matrix = metrics.confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 0, 2]), num_classes=4)
    assert matrix.tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]



def test_mean_and_band_is_students_t_interval():
    # Three gains: the 95% band is 4.30 standard errors, as scipy's t interval says, not 2.
    gains = torch.tensor([0.072, 0.020, 0.068])
    mean, band = metrics.mean_and_band(gains)
    se = gains.double().std().item() / 3 ** 0.5
    assert mean == pytest.approx(gains.double().mean().item())
    assert band == pytest.approx(4.302653 * se, rel=1e-5)
    from scipy import stats
    low, high = stats.t.interval(0.95, df=2, loc=mean, scale=se)
    assert (mean - band, mean + band) == pytest.approx((low, high))
    # the same numbers as a list, an array or a tensor; more seeds, a narrower factor
    assert metrics.mean_and_band([0.072, 0.020, 0.068]) == pytest.approx((mean, band))
    five = np.array([0.1, 0.2, 0.15, 0.12, 0.18])
    assert metrics.mean_and_band(five)[1] == pytest.approx(2.776445 * five.std(ddof=1) / 5 ** 0.5, rel=1e-5)
    assert metrics.mean_and_band(five, confidence=0.8)[1] < metrics.mean_and_band(five)[1]


@pytest.mark.parametrize("values, confidence, message", [
    ([0.3], 0.95, "at least two values"), ([0.1, 0.2], 95, "between 0 and 1")])
def test_mean_and_band_refuses_what_it_cannot_judge(values, confidence, message):
    with pytest.raises(ValueError, match=message):
        metrics.mean_and_band(values, confidence)

# ---- plotting ------------------------------------------------------------------------------
def _titled_and_labelled(fig):
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    return all(ax.get_title() for ax in axes if ax.axison) and all(
        ax.get_xlabel() and ax.get_ylabel() for ax in axes if ax.axison)


def test_plots_have_titles_labels_and_do_not_touch_history(tmp_path):
    history = {"epoch": [1, 2], "step": [10, 20], "train_loss": [1.0, 0.5], "dev_loss": [1.1, 0.7],
               "train_acc": [0.5, 0.8], "dev_acc": [0.4, 0.7]}
    snapshot = json.dumps(history)
    fig = plotting.plot_history(history, metrics=("loss", "acc"))
    assert json.dumps(history) == snapshot and _titled_and_labelled(fig)
    assert all(ax.get_legend() is not None for ax in fig.axes)
    fig = plotting.plot_decision_boundary(lambda p: (p[:, 0] > 0).long(), torch.randn(30, 2),
                                          torch.randint(0, 2, (30,)), resolution=20)
    assert _titled_and_labelled(fig)
    fig = plotting.plot_confusion_matrix(np.array([[3, 1], [0, 4]]), ["no", "yes"], save_path=tmp_path / "c.png")
    assert _titled_and_labelled(fig) and (tmp_path / "c.png").stat().st_size > 0
    fig = plotting.show_images(torch.randint(0, 255, (5, 1, 8, 8), dtype=torch.uint8), labels=torch.arange(5),
                               predictions=torch.tensor([0, 1, 0, 3, 4]))
    assert fig._suptitle.get_text() and fig.axes[2].title.get_color() == "red"
    assert fig.patch.get_alpha() == 1.0
    plt.close("all")


# ---- exercises -----------------------------------------------------------------------------
def test_check_passes_and_reports(capsys):
    with exercises.check("9.1"):
        exercises.expect_close(torch.ones(2) * 0.1 * 3, torch.full((2,), 0.3), "close enough")
        exercises.expect_equal(torch.tensor([1, 2]), torch.tensor([1, 2]), "equal")
        exercises.expect_shape(torch.zeros(2, 3), (2, 3))
    assert "Exercise 9.1: all checks passed." in capsys.readouterr().out


def test_check_failures_say_what_is_wrong():
    def stub(x):
        raise NotImplementedError

    with pytest.raises(exercises.ExerciseFailed, match="not done yet"):
        with exercises.check("9.2"):
            exercises.expect_close(stub(1), 1, "x")
    with pytest.raises(exercises.ExerciseFailed, match=r"not right yet: transpose.*shape \(2, 3\) where \(3, 2\)"):
        with exercises.check("9.3"):
            exercises.expect_close(torch.zeros(2, 3), torch.zeros(3, 2), "transpose")
    with pytest.raises(exercises.ExerciseFailed, match=r"largest difference 0.5\)\. Hint: h"):
        with exercises.check("9.4", hint="h"):
            exercises.expect_close(torch.tensor([1.0]), torch.tensor([1.5]), "value")
    with pytest.raises(exercises.ExerciseFailed, match="raised ZeroDivisionError"):
        with exercises.check("9.5"):
            1 / 0
    with pytest.raises(exercises.ExerciseFailed, match="not done yet"):
        with exercises.check("9.6"):
            exercises.expect_equal(..., 3, "value answer")
    # a NotImplementedError with a message comes from PyTorch, not from a stub: its message is the help
    with pytest.raises(exercises.ExerciseFailed, match=r"raised NotImplementedError: Subtraction, the `-`") as caught:
        with exercises.check("9.7"):
            1 - torch.tensor([True, False])
    assert str(caught.value).endswith("instead."), "one full stop, not two"


def _no_return(x):
    x.sum()  # the student computed the answer but forgot `return`


@pytest.mark.parametrize("expectation", [
    lambda: exercises.expect_close(_no_return(torch.ones(2, 3)), torch.ones(3, 2), "my_transpose(x)"),
    lambda: exercises.expect_equal(_no_return(torch.ones(2, 3)), torch.ones(3, 2), "my_transpose(x)"),
    lambda: exercises.expect_equal(_no_return(torch.ones(2)), 3, "count(x)"),
    lambda: exercises.expect_shape(_no_return(torch.ones(2, 3)), (3, 2), "my_transpose(x)"),
])
def test_forgotten_return_is_named(expectation):
    with pytest.raises(exercises.ExerciseFailed, match=r"Exercise 9\.7 is not right yet: .*your function returned "
                                                       r"None: did you forget `return`\?"):
        with exercises.check("9.7"):
            expectation()


def test_none_inside_a_check_suggests_a_forgotten_return():
    with pytest.raises(exercises.ExerciseFailed, match=r"AttributeError: .*NoneType.*did a function of yours "
                                                       r"forget `return`\?"):
        with exercises.check("9.8"):
            exercises.expect(_no_return(torch.ones(2)).shape == (2,), "shape")


@pytest.mark.parametrize("answer", ["0.5", {"value": 0.5}, [torch.ones(2), torch.ones(2)], object()])
@pytest.mark.parametrize("expectation", [exercises.expect_close, exercises.expect_equal])
def test_wrong_type_is_named_not_a_raw_type_error(expectation, answer):
    with pytest.raises(exercises.ExerciseFailed, match=r"^Exercise 9\.9 is not right yet: result \(") as failure:
        with exercises.check("9.9"):
            expectation(answer, torch.tensor([0.5, 0.5]), "result")
    assert "TypeError" not in str(failure.value) and "raised" not in str(failure.value)
    assert type(answer).__name__ in str(failure.value)


@pytest.mark.parametrize("answer", [torch.tensor([1.0 + 0j, 2.0 + 0j]), np.array([1.0 + 0j, 2.0]), 1 + 0j])
@pytest.mark.parametrize("expectation", [exercises.expect_close, exercises.expect_equal])
def test_complex_answer_is_refused_where_a_real_one_is_due(expectation, answer):
    expected = torch.tensor([1.0, 2.0]) if not isinstance(answer, complex) else 1.0
    with pytest.raises(exercises.ExerciseFailed, match="complex"):
        expectation(answer, expected, "roots")
    expectation(torch.tensor([1.0 + 2j]), torch.tensor([1.0 + 2j]), "complex where complex is due")  # fine


def test_numpy_and_plain_values_still_compare():
    exercises.expect_equal(np.int64(3), 3, "numpy integer")
    exercises.expect_equal((1, 2), (1, 2), "tuple")
    exercises.expect_equal(np.array([1, 2]), torch.tensor([1, 2]), "array")
    exercises.expect_equal(None, None, "None is the right answer here")
    exercises.expect_close(0.1 * 3, 0.3, "float")
    with pytest.raises(exercises.ExerciseFailed, match="got 4, expected 3"):
        exercises.expect_equal(4, 3, "number")


# ---- synthetic data ------------------------------------------------------------------------
def _colour_f_statistic(images, labels) -> torch.Tensor:
    """One-way ANOVA F of each channel's mean colour across the classes: about 1 when colour says nothing."""
    colour = images.float().mean(dim=(2, 3))  # (N, 3)
    classes = labels.unique()
    means = torch.stack([colour[labels == c].mean(0) for c in classes])  # (K, 3)
    counts = torch.stack([(labels == c).sum() for c in classes]).unsqueeze(1)
    between = (counts * (means - colour.mean(0)) ** 2).sum(0) / (len(classes) - 1)
    within = sum(((colour[labels == c] - means[i]) ** 2).sum(0) for i, c in enumerate(classes))
    return between / (within / (len(labels) - len(classes)))


def test_colour_alone_does_not_give_the_shape_class_away():
    """Measured on 4,000 images: F of at most 0.72 (seed 1), 2.38 (seed 2), 1.14 (seed 3); for 9 and 3,990
    degrees of freedom, F > 3.0 has a chance of about 0.0015 without a leak. A red tint of 20 levels
    (8% of the range) in one class gives F = 8.0."""
    images, labels = synthetic.make_shapes(4000, seed=1)
    f_statistic = _colour_f_statistic(images, labels)
    assert f_statistic.max() < 3.0, f"the class shows in the mean colour (F = {f_statistic.tolist()})"
    leaky = images.clone()
    leaky[labels == 0, 0] = (leaky[labels == 0, 0].int() + 20).clamp(max=255).to(torch.uint8)  # a red tint
    assert _colour_f_statistic(leaky, labels)[0] > 3.0, "the test would not notice a tint of 20 levels in one class"


def test_importing_the_package_leaves_the_heavy_optional_libraries_alone():
    # Every chapter imports course_utils; pandas, scikit-learn, torchvision and networkx
    # load only where a chapter or a loader uses them (pandas and networkx are ~300
    # modules each: seconds of import time wherever imports are slow).
    import subprocess
    import sys

    code = ("import sys, course_utils, course_utils.diagrams; print(sorted("
            "{'pandas', 'sklearn', 'torchvision', 'networkx'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", f"import course_utils loaded {loaded.stdout.strip()}"


def test_count_torch_calls_tells_a_batched_computation_from_a_loop():
    x = torch.randn(16, 5, 4)
    with exercises.CountTorchCalls() as batched:
        x @ x.transpose(1, 2)
    with exercises.CountTorchCalls() as looped:
        torch.stack([m @ m.T for m in x])
    assert batched.calls <= 3 and looped.calls >= 32, (batched.calls, looped.calls)
    with exercises.CountTorchCalls() as outside:
        pass
    assert outside.calls == 0


def test_accuracy_reads_one_hot_rows_and_refuses_a_column_of_labels():
    logits, labels = torch.tensor([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0]]), torch.tensor([0, 1, 1])
    assert metrics.accuracy(logits, labels) == pytest.approx(2 / 3)
    assert metrics.accuracy(logits, F.one_hot(labels, 3).float()) == pytest.approx(2 / 3)  # was 4/9
    assert metrics.accuracy(logits, labels.numpy()) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"squeeze\(1\)"):  # (B, 1) was compared with every row: 1/3
        metrics.accuracy(logits, labels[:, None])
    per_position = torch.randn(2, 3, 5)  # (batch, classes, positions)
    assert metrics.accuracy(per_position, per_position.argmax(dim=1)) == 1.0


def test_binary_accuracy_soft_labels_numpy_and_probabilities():
    outputs = torch.tensor([1.0, -1.0, 2.0, -3.0])
    assert metrics.binary_accuracy(outputs, np.array([1, 0, 0, 0])) == 0.75
    assert metrics.binary_accuracy(outputs, [1, 0, 0, 0]) == 0.75
    assert metrics.binary_accuracy(outputs, torch.tensor([0.9, 0.2, 0.1, 0.3])) == 0.75  # was 0.5
    with pytest.warns(UserWarning, match="threshold=0.5"):
        assert metrics.binary_accuracy(torch.sigmoid(outputs), [1, 0, 1, 0]) == 0.5
    assert metrics.binary_accuracy(torch.sigmoid(outputs), [1, 0, 1, 0], threshold=0.5) == 1.0


def test_confusion_matrix_refuses_labels_beyond_num_classes():
    with pytest.raises(ValueError, match=r"label\(s\) \[2\] but num_classes=2"):
        metrics.confusion_matrix([0, 1, 2, 2], [0, 1, 2, 1], num_classes=2)  # counted 2 of 4 rows
    assert metrics.confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=3).sum() == 3


def test_helpers_explain_or_accept_common_inputs():
    from course_utils import diagrams, rl, style

    with pytest.raises(ValueError, match=r"images.float\(\) / 255"):  # was inf everywhere, no error
        style.normalize((torch.rand(3, 4, 4) * 255).to(torch.uint8))
    assert style.to_display(torch.randn(1, 3, 4, 4).bfloat16()).shape == (4, 4, 3)
    plotting.show_images(torch.randint(0, 255, (4, 28, 28), dtype=torch.uint8))  # (N, H, W), as MNIST's .data
    with pytest.raises(ValueError, match="non-empty batch"):
        plotting.show_images(torch.empty(0, 1, 28, 28))
    history = {"step": [1], "epoch": [1], "train_loss": [1.0], "train_acc": [0.5]}
    with pytest.raises(ValueError, match=r"no 'accuracy': its metrics are \['acc', 'loss'\]"):
        plotting.plot_history(history, metrics=("accuracy",))
    rl.plot_lake(np.zeros(16), np.zeros(16, dtype=int), ["SFFF", "FHFH", "FFFH", "HFFG"])
    diagrams.draw_network([2.0, 3.0])
    assert style.load_image(style.brush_strokes(64), np.int64(64)).shape == (1, 3, 64, 64)
    assert utils._to_json_value(np.array([0.5, 0.7])) == [0.5, 0.7]
    plt.close("all")


def test_set_seed_can_turn_deterministic_kernels_off_again():
    try:
        utils.set_seed(0, deterministic=True)
        utils.set_seed(1)  # None: left as it is
        assert torch.are_deterministic_algorithms_enabled()
        utils.set_seed(0, deterministic=False)
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)

