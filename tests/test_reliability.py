"""Issue 11 (points 1, 5, 6, 7, 8) and issue 12: the Runner never fails silently, checkpoints are
trustworthy, mistakes get clear errors, and a training step never waits for the device."""

import math
import os
import time

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from conftest import make_mlp
from course_utils import BestModelSaver, Callback, EarlyStopping, Runner, accuracy, plot_history
from course_utils import checkpoint as checkpoint_module
from course_utils.callbacks import resolve_mode
from course_utils.checkpoint import atomic_save, load_checkpoint


# ---- point 1: which way is better ---------------------------------------------------------
@pytest.mark.parametrize("name, mode", [("dev_loss", "min"), ("dev_mae", "min"), ("train_mse", "min"),
                                        ("dev_perplexity", "min"), ("dev_error_rate", "min"),
                                        ("dev_acc", "max"), ("dev_bal_acc", "max"), ("dev_f1", "max"),
                                        ("dev_r2", "max"), ("dev_brier_score", "min")])
def test_mode_is_read_from_the_name(name, mode):
    assert resolve_mode(name, None) == mode


def test_unknown_name_needs_an_explicit_mode():
    with pytest.raises(ValueError, match="mode='min'"):
        resolve_mode("dev_foo", None)
    assert resolve_mode("dev_foo", "max") == "max"


class SetWeights(Callback):
    """Puts prepared weights into the model at the start of each epoch (lr is 0, so they stay)."""

    def __init__(self, weights):
        self.weights = weights

    def on_epoch_begin(self, runner, epoch):
        with torch.no_grad():
            runner.model.weight.fill_(self.weights[epoch])


def _mae(outputs, targets):
    return (outputs - targets).abs().mean()


@pytest.mark.parametrize("monitor, weights, best", [
    ("dev_mae", [0.5, 0.9, 0.7], 0.9),   # targets are 1.0 * x: mae falls to its minimum at 0.9
    ("dev_loss", [0.5, 0.9, 0.7], 0.9),
])
def test_best_model_saver_keeps_the_best_epoch_not_the_last(tmp_path, monitor, weights, best):
    x = torch.linspace(1, 2, 40).unsqueeze(1)
    loader = DataLoader(TensorDataset(x, 1.0 * x), batch_size=8)
    model = nn.Linear(1, 1, bias=False)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.0), nn.MSELoss(), metrics={"mae": _mae},
                    device="cpu", callbacks=[SetWeights(weights)])
    history = runner.train(loader, loader, num_epochs=3, save_path=tmp_path / "best.pt", monitor=monitor,
                           verbose=False)
    assert len(set(history[monitor])) == 3  # the epochs really differ
    runner.load_model(tmp_path / "best.pt")
    assert model.weight.item() == pytest.approx(best)


# ---- point 5: NaN, empty loaders, no epochs -------------------------------------------------
def test_nan_loss_stops_training_with_a_warning(tmp_path):
    x = torch.randn(64, 1) * 100
    loader = DataLoader(TensorDataset(x, 3 * x), batch_size=8)
    model = nn.Linear(1, 1)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=1e6), nn.MSELoss(), device="cpu")
    with pytest.warns(RuntimeWarning, match="training loss became"):
        history = runner.train(loader, loader, num_epochs=5, save_path=tmp_path / "best.pt", verbose=False)
    assert len(history["train_loss"]) == 1 and not math.isfinite(history["train_loss"][0])


def test_empty_loader_and_no_epochs_are_refused():
    runner = Runner(make_mlp(), None, nn.CrossEntropyLoss(), device="cpu")
    runner.optimizer = torch.optim.SGD(runner.model.parameters(), lr=0.1)
    empty = DataLoader(TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)), batch_size=4)
    with pytest.raises(ValueError, match="no batches"):
        runner.train(empty, num_epochs=1)
    with pytest.raises(ValueError, match="no batches"):
        runner.train(iter([]), num_epochs=1)  # a loader without len()
    data = DataLoader(TensorDataset(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), batch_size=4)
    with pytest.raises(ValueError, match="num_epochs"):
        runner.train(data, num_epochs=0)


def test_plot_history_of_nothing_says_so():
    with pytest.raises(ValueError, match="history is empty"):
        plot_history({})


# ---- point 6: checkpoints -------------------------------------------------------------------
def test_damaged_checkpoint_never_loads_changed_weights(tmp_path):
    model = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 10))
    path = atomic_save({"model": model.state_dict()}, tmp_path / "ck.pt")
    good = path.read_bytes()
    generator = torch.Generator().manual_seed(0)
    for offset in torch.randint(0, len(good) - 64, (60,), generator=generator).tolist():
        damaged = bytearray(good)
        damaged[offset:offset + 64] = bytes(64)
        if damaged == good:
            continue
        path.write_bytes(bytes(damaged))
        try:
            state = load_checkpoint(path)
        except ValueError:
            continue  # refused: good
        for key, value in model.state_dict().items():  # loaded: then it must be the same weights
            assert torch.equal(state["model"][key], value), f"damage at byte {offset} changed {key} silently"


def test_write_that_dies_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    atomic_save({"w": torch.ones(1000)}, path)
    real_save = torch.save

    def dies_halfway(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        if hasattr(f, "truncate"):
            f.truncate(100)
        else:
            with open(f, "r+b") as handle:
                handle.truncate(100)
        raise KeyboardInterrupt  # the kernel was interrupted mid-write

    monkeypatch.setattr(checkpoint_module.torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"w": torch.zeros(1000)}, path)
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(1000))
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


def test_stale_temporary_files_are_cleaned_up(tmp_path):
    stale = tmp_path / ".run.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    atomic_save({"w": torch.ones(1)}, tmp_path / "run.pt")
    assert not stale.exists()


def _blobs_runner(lr=0.05, callbacks=()):
    model = make_mlp()
    return Runner(model, torch.optim.SGD(model.parameters(), lr=lr), nn.CrossEntropyLoss(),
                  metrics={"acc": accuracy}, device="cpu", callbacks=list(callbacks))


def test_resume_from_weights_only_file_says_what_it_is(blobs, tmp_path):
    train, dev = blobs
    runner = _blobs_runner()
    runner.save_model(tmp_path / "weights.pt")
    with pytest.raises(ValueError, match="not a training checkpoint.*load_model"):
        _blobs_runner().train(train, dev, num_epochs=2, checkpoint_path=tmp_path / "weights.pt")


def test_rerunning_a_finished_run_trains_nothing_more(blobs, tmp_path, capsys):
    train, dev = blobs
    first = _blobs_runner()
    history = first.train(train, dev, num_epochs=2, checkpoint_path=tmp_path / "run.pt")
    again = _blobs_runner()
    history_again = again.train(train, dev, num_epochs=2, checkpoint_path=tmp_path / "run.pt")
    assert history_again == history and again.global_step == first.global_step
    assert "nothing to train" in capsys.readouterr().out
    for a, b in zip(first.model.parameters(), again.model.parameters()):
        assert torch.equal(a, b)


def test_rerunning_an_early_stopped_run_trains_nothing_more(blobs, tmp_path):
    train, dev = blobs
    stopped = _blobs_runner(lr=0.0, callbacks=[EarlyStopping("dev_loss", patience=1)])
    history = stopped.train(train, dev, num_epochs=10, checkpoint_path=tmp_path / "run.pt", verbose=False)
    assert len(history["epoch"]) == 2  # lr 0: no improvement after epoch 1
    again = _blobs_runner(lr=0.0, callbacks=[EarlyStopping("dev_loss", patience=1)])
    assert len(again.train(train, dev, num_epochs=10, checkpoint_path=tmp_path / "run.pt",
                           verbose=False)["epoch"]) == 2


def test_a_second_train_call_counts_the_patience_afresh(blobs):
    train, dev = blobs
    runner = _blobs_runner(lr=0.0, callbacks=[EarlyStopping("dev_loss", patience=3)])
    assert len(runner.train(train, dev, num_epochs=20, verbose=False)["epoch"]) == 4  # best, then 3 without gain
    assert len(runner.train(train, dev, num_epochs=20, verbose=False)["epoch"]) == 4 + 3  # was 4 + 1


def test_resumed_callback_state_is_the_saved_one(blobs, tmp_path):
    """lr 0: the dev loss stalls, so EarlyStopping's counter is non-zero when the run dies."""
    train, dev = blobs

    class Die(Callback):
        def on_epoch_begin(self, runner, epoch):
            if epoch == 3:
                raise KeyboardInterrupt

    straight = _blobs_runner(lr=0.0, callbacks=[EarlyStopping("dev_loss", patience=9)])
    straight.train(train, dev, num_epochs=5, verbose=False)
    killed = _blobs_runner(lr=0.0, callbacks=[EarlyStopping("dev_loss", patience=9), Die()])
    with pytest.raises(KeyboardInterrupt):
        killed.train(train, dev, num_epochs=5, checkpoint_path=tmp_path / "run.pt", verbose=False)
    assert killed.callbacks[0].wait == 2
    resumed = _blobs_runner(lr=0.0, callbacks=[EarlyStopping("dev_loss", patience=9)])
    resumed.train(train, dev, num_epochs=5, checkpoint_path=tmp_path / "run.pt", verbose=False)
    assert resumed.callbacks[0].wait == straight.callbacks[0].wait == 4


def test_resume_with_another_learning_rate_warns(blobs, tmp_path):
    train, dev = blobs
    _blobs_runner(lr=0.05).train(train, dev, num_epochs=1, checkpoint_path=tmp_path / "run.pt", verbose=False)
    changed = _blobs_runner(lr=0.5)
    with pytest.warns(UserWarning, match=r"lr 0.05 \(not 0.5\)"):
        changed.train(train, dev, num_epochs=2, checkpoint_path=tmp_path / "run.pt", verbose=False)
    assert changed.optimizer.param_groups[0]["lr"] == 0.05  # the resumed run continues exactly



def test_numpy_learning_rate_still_resumes(blobs, tmp_path):
    """An lr from np.logspace is a NumPy number: the checkpoint must still load with weights_only=True."""
    import numpy as np

    train, dev = blobs
    first = _blobs_runner(lr=np.logspace(-2, -1, 2)[1])
    first.train(train, dev, num_epochs=1, checkpoint_path=tmp_path / "run.pt", verbose=False)
    assert type(first.history["lr"][0]) is float
    resumed = _blobs_runner(lr=np.logspace(-2, -1, 2)[1])
    history = resumed.train(train, dev, num_epochs=2, checkpoint_path=tmp_path / "run.pt", verbose=False)
    assert history["epoch"] == [1, 2] and resumed.global_step == 2 * first.global_step


def test_intact_file_with_python_objects_is_not_called_damaged(tmp_path):
    import numpy as np

    torch.save({"lr": np.float64(0.1)}, tmp_path / "numpy.pt")
    with pytest.raises(ValueError, match="(?s)intact but holds Python objects.*plain_numbers") as refused:
        checkpoint_module.load_checkpoint(tmp_path / "numpy.pt")
    assert "delete it" not in str(refused.value)
    assert checkpoint_module.plain_numbers({"a": [np.float32(0.5), (np.int64(2),)]}) == {"a": [0.5, (2,)]}


def test_second_train_call_keeps_the_best_model_saved(blobs, tmp_path):
    """Training on with a second train() call must not overwrite the best weights with worse ones."""
    train, dev = blobs
    runner = _blobs_runner()
    runner.train(train, dev, num_epochs=3, save_path=tmp_path / "best.pt", verbose=False)
    best_loss = min(runner.history["dev_loss"])
    with torch.no_grad():  # make the next evaluation much worse
        for parameter in runner.model.parameters():
            parameter.mul_(-5.0)
    runner.optimizer = torch.optim.SGD(runner.model.parameters(), lr=0.0)
    runner.train(train, dev, num_epochs=1, save_path=tmp_path / "best.pt", verbose=False)
    assert runner.history["dev_loss"][-1] > best_loss
    saved = _blobs_runner()
    saved.load_model(tmp_path / "best.pt")
    assert saved.evaluate(dev)["loss"] == pytest.approx(best_loss, rel=1e-5)


def test_ignored_targets_and_transformed_labels_are_not_called_bad():
    from course_utils.validation import check_loss_inputs, dataset_targets

    outputs, targets = torch.randn(4, 3), torch.tensor([0, 2, -100, 1])  # -100: PyTorch's ignore_index
    check_loss_inputs(nn.CrossEntropyLoss(), outputs, targets)
    with pytest.raises(ValueError, match=r"0\.\.2 for 3 outputs"):
        check_loss_inputs(nn.CrossEntropyLoss(ignore_index=0), outputs, targets)

    class Relabelled(TensorDataset):  # stored digits 0-9, batches "is it a 5?"
        target_transform = staticmethod(lambda digit: int(digit == 5))

    plain = DataLoader(TensorDataset(torch.randn(10, 2), torch.arange(10)))
    assert dataset_targets(plain) is not None
    assert dataset_targets(DataLoader(Relabelled(torch.randn(10, 2), torch.arange(10)))) is None


def test_accuracy_refuses_one_output_per_row():
    from course_utils import binary_accuracy

    logits, labels = torch.tensor([[2.0], [-1.0], [3.0]]), torch.tensor([1, 0, 1])
    with pytest.raises(ValueError, match="binary_accuracy"):
        accuracy(logits, labels)
    assert binary_accuracy(logits, labels) == 1.0


def test_resume_after_plateau_schedule_does_not_warn(blobs, tmp_path, recwarn):
    """ReduceLROnPlateau lowers the lr during the run; re-running the same code must not warn about it."""
    train, dev = blobs

    def plateau_runner():
        model = make_mlp()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0,
                                                               threshold=10, threshold_mode="abs")
        return Runner(model, optimizer, nn.CrossEntropyLoss(), device="cpu", scheduler=scheduler)

    history = plateau_runner().train(train, dev, num_epochs=3, checkpoint_path=tmp_path / "run.pt", verbose=False)
    assert history["lr"][-1] < 0.1  # the schedule did lower it
    plateau_runner().train(train, dev, num_epochs=4, checkpoint_path=tmp_path / "run.pt", verbose=False)
    assert not [w for w in recwarn if "continues that run" in str(w.message)]

@pytest.mark.parametrize("loss_fn", [nn.CrossEntropyLoss(weight=torch.tensor([1.0, 9.0, 3.0])),
                                     nn.CrossEntropyLoss(ignore_index=2),
                                     nn.CrossEntropyLoss(weight=torch.tensor([1.0, 9.0, 3.0]), ignore_index=0)],
                         ids=["class weights", "ignore_index", "both"])
def test_dev_loss_is_the_whole_sets_loss_whatever_the_batch_size(loss_fn):
    """A weighted mean's batch means must be weighted by their denominators, not by the batch size."""
    x, y = torch.randn(10, 2), torch.tensor([0, 1, 1, 2, 0, 0, 2, 1, 0, 0])
    runner = Runner(make_mlp(), None, loss_fn, device="cpu")
    with torch.no_grad():
        whole = loss_fn(runner.model.eval()(x), y).item()
    for batch_size in (10, 4, 3, 1):
        dev_loss = runner.evaluate(DataLoader(TensorDataset(x, y), batch_size=batch_size))["loss"]
        assert dev_loss == pytest.approx(whole, rel=1e-5), batch_size


def test_a_failing_evaluate_or_predict_leaves_the_model_in_its_mode():
    runner = Runner(make_mlp(), None, nn.CrossEntropyLoss(), device="cpu")
    runner.model.train()
    bad_labels = DataLoader(TensorDataset(torch.randn(8, 2), torch.tensor([0, 1, 2, 7, 0, 1, 2, 0])))
    with pytest.raises(ValueError):
        runner.evaluate(bad_labels)
    assert runner.model.training
    with pytest.raises(RuntimeError):
        runner.predict(torch.randn(8, 5))  # the model takes 2 features
    assert runner.model.training


def test_predict_keeps_double_precision():
    model = make_mlp().double()
    assert Runner(model, None, nn.CrossEntropyLoss(), device="cpu").predict(torch.randn(4, 2).double()).dtype \
        == torch.float64


def test_plateau_schedule_stepped_every_step_is_refused_up_front():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    with pytest.raises(ValueError, match="scheduler_interval='epoch'"):
        Runner(model, optimizer, nn.CrossEntropyLoss(), scheduler=scheduler, scheduler_interval="step")


def test_a_resumed_runs_clock_goes_on(blobs, tmp_path):
    train, dev = blobs
    _blobs_runner().train(train, dev, num_epochs=2, checkpoint_path=tmp_path / "run.pt", verbose=False)
    history = _blobs_runner().train(train, dev, num_epochs=4, checkpoint_path=tmp_path / "run.pt", verbose=False)
    assert history["time"] == sorted(history["time"]) and len(history["time"]) == 4


def test_the_apple_gpu_generator_is_saved_and_restored(monkeypatch):
    """No Apple GPU here: a stand-in generator checks that its state travels with the others."""
    mps_state = {"now": torch.tensor([1, 2, 3], dtype=torch.uint8)}
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: mps_state["now"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda new: mps_state.update(now=new))
    saved = checkpoint_module.get_rng_state()
    mps_state["now"] = torch.tensor([9, 9, 9], dtype=torch.uint8)  # draws move the generator on
    checkpoint_module.set_rng_state(saved)
    assert mps_state["now"].tolist() == [1, 2, 3]


# ---- point 7: errors a student can act on ---------------------------------------------------------
def test_int32_labels_get_a_clear_error():
    loader = DataLoader(TensorDataset(torch.randn(8, 2), torch.zeros(8, dtype=torch.int32)), batch_size=4)
    with pytest.raises(ValueError, match=r"int64.*targets.long\(\)"):
        _blobs_runner().train(loader, num_epochs=1)


def test_a_bad_label_in_a_later_batch_is_found():
    y = torch.zeros(64, dtype=torch.long)
    y[50] = 7  # three classes: 7 is out of range, in the 7th batch
    loader = DataLoader(TensorDataset(torch.randn(64, 2), y), batch_size=8)
    with pytest.raises(ValueError, match="found 0..7 in the dataset"):
        _blobs_runner().train(loader, num_epochs=1)
    batches = [(torch.randn(8, 2), y[i:i + 8]) for i in range(0, 64, 8)]  # a loader whose targets are hidden
    with pytest.raises(ValueError, match="0..2"):
        _blobs_runner().train(batches, num_epochs=1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_missing_gpu_gets_a_clear_error():
    with pytest.raises(ValueError, match="not available on this machine"):
        Runner(make_mlp(), None, nn.CrossEntropyLoss(), device=torch.device("cuda"))


def test_wrong_runner_arguments_get_clear_errors(blobs):
    train, _ = blobs
    model = make_mlp()
    with pytest.raises(TypeError, match=r"add brackets, e.g. CrossEntropyLoss\(\)"):
        Runner(model, None, nn.CrossEntropyLoss, device="cpu")
    with pytest.raises(TypeError, match="dict of name -> function"):
        Runner(model, None, nn.CrossEntropyLoss(), metrics=[accuracy], device="cpu")
    with pytest.raises(ValueError, match="no optimizer"):
        Runner(model, None, nn.CrossEntropyLoss(), device="cpu").train(train, num_epochs=1)
    other = make_mlp(seed=1)
    runner = Runner(model, torch.optim.SGD(other.parameters(), lr=0.1), nn.CrossEntropyLoss(), device="cpu")
    with pytest.raises(ValueError, match="holds none of this model's parameters"):
        runner.train(train, num_epochs=1)


def test_missing_flatten_is_explained():
    model = nn.Sequential(nn.Linear(28 * 28, 10))
    loader = DataLoader(TensorDataset(torch.randn(8, 1, 28, 28), torch.zeros(8, dtype=torch.long)), batch_size=4)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), device="cpu")
    with pytest.raises(ValueError, match=r"Add nn.Flatten\(\)"):
        runner.train(loader, num_epochs=1)


@pytest.mark.parametrize("model, shape", [(nn.Linear(2, 3), (8, 2)),
                                          (nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(), nn.Linear(27, 3)),
                                           (8, 1, 5, 5))], ids=["linear", "conv"])
def test_float64_inputs_from_numpy_are_explained(model, shape):
    from course_utils import DeviceLoader

    features = torch.randn(*shape).numpy().astype("float64")  # what NumPy gives by default
    loader = DeviceLoader(features, torch.zeros(8, dtype=torch.long), batch_size=4)
    runner = Runner(model, None, nn.CrossEntropyLoss(), device="cpu")
    with pytest.raises(TypeError, match=r"inputs are float64.*x.float\(\)"):
        runner.evaluate(loader)


# ---- issue 12: no host synchronisation per training step ------------------------------------
SYNCING = ("item", "tolist", "numpy", "__float__", "__int__", "__bool__", "__index__")


def _count_host_reads(monkeypatch, run):
    """How often `run()` reads a tensor's value on the host (each read waits for a GPU)."""
    counts = {"n": 0}
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            counts["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    run()
    monkeypatch.undo()
    return counts["n"]


@pytest.mark.parametrize("num_samples", [64, 512])
def test_training_steps_do_not_read_values_on_the_host(monkeypatch, num_samples):
    """The reads per epoch must not grow with the number of steps (8 vs 64 steps here)."""
    from course_utils import DeviceLoader

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(num_samples, 2, generator=g), torch.randint(0, 3, (num_samples,), generator=g)

    def run():
        runner = _blobs_runner()
        runner.train(DeviceLoader(x, y, batch_size=8, shuffle=True), num_epochs=2, verbose=False)

    reads = _count_host_reads(monkeypatch, run)
    test_training_steps_do_not_read_values_on_the_host.reads[num_samples] = reads
    assert reads <= 20, f"{reads} host reads in 2 epochs of {num_samples // 8} steps"


test_training_steps_do_not_read_values_on_the_host.reads = {}
