import contextlib

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from conftest import make_mlp
from course_utils import BestModelSaver, Callback, EarlyStopping, Runner, accuracy, set_seed


def make_runner(seed=0, **kwargs):
    model = make_mlp(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return Runner(model, optimizer, nn.CrossEntropyLoss(), metrics={"acc": accuracy}, device="cpu", **kwargs)


def test_runner_learns_a_small_problem(blobs):
    train, dev = blobs
    runner = make_runner()
    before = runner.evaluate(dev)
    history = runner.train(train, dev, num_epochs=5)
    after = runner.evaluate(dev)
    assert before["acc"] < 0.7
    assert after["acc"] > 0.95
    assert history["train_loss"][-1] < history["train_loss"][0] / 2
    assert len(history["dev_acc"]) == 5 and history["epoch"] == [1, 2, 3, 4, 5]


def test_history_per_eval_steps_and_log_lines(blobs, capsys):
    train, dev = blobs  # 15 batches per epoch
    history = make_runner().train(train, dev, num_epochs=2, eval_steps=10, log_steps=5)
    assert history["step"] == [10, 15, 20, 30]  # every 10 steps and at each epoch's end
    out = capsys.readouterr().out
    assert out.count("[Train]") == 6 and out.count("[Evaluate]") == 4


def test_evaluate_computes_metrics_on_the_whole_set():
    """F1 is not an average over batches: evaluate must compute it on all predictions."""
    from course_utils import classification_scores

    logits = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    targets = torch.tensor([1, 0, 1, 1, 0, 0])
    f1 = lambda out, y: classification_scores(y, out.argmax(1))["f1"]  # noqa: E731
    runner = Runner(nn.Identity(), None, nn.CrossEntropyLoss(), metrics={"f1": f1}, device="cpu")
    scores = runner.evaluate(DataLoader(TensorDataset(logits, targets), batch_size=2))
    assert scores["f1"] == pytest.approx(classification_scores(targets, logits.argmax(1))["f1"])


def test_quiet_training_prints_nothing(blobs, capsys):
    train, dev = blobs
    make_runner().train(train, dev, num_epochs=2, log_steps=1, verbose=False)
    assert capsys.readouterr().out == ""


def test_evaluate_weights_batches_by_size():
    x, y = torch.zeros(5, 2), torch.tensor([0, 0, 0, 0, 1])
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([1.0, 0.0]))  # always predicts class 0
    runner = Runner(model, None, nn.CrossEntropyLoss(), metrics={"acc": accuracy}, device="cpu")
    scores = runner.evaluate(DataLoader(TensorDataset(x, y), batch_size=4))  # batches of 4 and 1
    assert scores["acc"] == pytest.approx(0.8)  # not (1.0 + 0.0) / 2


@pytest.mark.parametrize("mode", [True, False])
def test_evaluate_and_predict_restore_mode(blobs, mode):
    train, dev = blobs
    runner = make_runner()
    runner.model.train(mode)
    runner.evaluate(dev)
    assert runner.model.training is mode
    out = runner.predict(torch.randn(7, 2))
    assert runner.model.training is mode
    assert out.shape == (7, 3) and out.device.type == "cpu"


def test_predict_is_deterministic_in_eval_mode_despite_dropout(blobs):
    runner = make_runner()
    x = torch.randn(50, 2)
    assert torch.equal(runner.predict(x), runner.predict(x))
    from_loader = runner.predict(DataLoader(TensorDataset(x, torch.zeros(50)), batch_size=8))
    assert torch.equal(from_loader, runner.predict(x, batch_size=8))  # same batches: same rounding


def test_save_and_load_round_trip(blobs, tmp_path):
    train, dev = blobs
    runner = make_runner()
    runner.train(train, num_epochs=1)
    runner.save_model(tmp_path / "model.pt")
    other = make_runner(seed=1)
    other.load_model(tmp_path / "model.pt")
    x = torch.randn(20, 2)
    assert torch.equal(other.predict(x), runner.predict(x))


def test_best_model_saver_respects_mode(tmp_path):
    runner = make_runner()
    saver = BestModelSaver(tmp_path / "best.pt", monitor="dev_loss")  # lower is better
    for value in (0.5, 0.7, 0.3):
        saver.on_evaluate(runner, {"dev_loss": value})
    assert saver.best == 0.3
    saver_max = BestModelSaver(tmp_path / "best2.pt", monitor="dev_acc")  # higher is better
    for value in (0.5, 0.7, 0.3):
        saver_max.on_evaluate(runner, {"dev_acc": value})
    assert saver_max.best == 0.7


def test_early_stopping_stops_when_monitor_stalls(blobs):
    train, dev = blobs
    model = make_mlp()
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.0), nn.CrossEntropyLoss(), device="cpu",
                    callbacks=[EarlyStopping("dev_loss", patience=2)])
    history = runner.train(train, dev, num_epochs=10)  # lr 0: the dev loss never improves after epoch 1
    assert len(history["dev_loss"]) == 3


def test_early_stopping_needs_a_logged_value(blobs):
    train, _ = blobs
    runner = make_runner(callbacks=[EarlyStopping("dev_loss")])
    with pytest.raises(KeyError, match="Pass a dev_loader"):
        runner.train(train, num_epochs=1)


def test_gradient_clipping_bounds_the_update():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=1.0), nn.MSELoss(), device="cpu", grad_clip=0.5)
    x, y = torch.ones(4, 1), torch.full((4, 1), 100.0)  # huge gradient
    runner.train(DataLoader(TensorDataset(x, y), batch_size=4), num_epochs=1)
    assert model.weight.item() == pytest.approx(0.5)


def test_scheduler_steps_every_epoch(blobs):
    train, dev = blobs
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = Runner(model, optimizer, nn.CrossEntropyLoss(), device="cpu", scheduler=scheduler).train(
        train, dev, num_epochs=3)
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])


class KillAt(Callback):
    """Simulates a Colab disconnect: the run dies when `epoch` begins."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, runner, epoch):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _resumable_runner(callbacks=()):
    model = make_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return Runner(model, optimizer, nn.CrossEntropyLoss(), metrics={"acc": accuracy}, device="cpu",
                  scheduler=scheduler, callbacks=[EarlyStopping("dev_loss", patience=5), *callbacks])


def test_resume_equals_uninterrupted(blobs, tmp_path):
    train, dev = blobs
    set_seed(7)
    straight = _resumable_runner()
    straight_history = straight.train(train, dev, num_epochs=5)

    set_seed(7)
    killed = _resumable_runner(callbacks=[KillAt(3)])
    with pytest.raises(KeyboardInterrupt):
        killed.train(train, dev, num_epochs=5, checkpoint_path=tmp_path / "run.pt")

    set_seed(12345)  # a new session: different random state until the checkpoint restores it
    resumed = _resumable_runner()
    resumed_history = resumed.train(train, dev, num_epochs=5, checkpoint_path=tmp_path / "run.pt")

    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert resumed_history["dev_loss"] == straight_history["dev_loss"]
    assert resumed.scheduler.get_last_lr() == straight.scheduler.get_last_lr()
    assert resumed.callbacks[0].wait == straight.callbacks[0].wait


def test_checkpoint_from_other_architecture_is_rejected_clearly(blobs, tmp_path):
    runner = make_runner()
    runner.save_model(tmp_path / "mlp.pt")
    other = Runner(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)), None, nn.CrossEntropyLoss(),
                   device="cpu")
    with pytest.raises(ValueError, match="different architecture.*shape differs: 0.weight"):
        other.load_model(tmp_path / "mlp.pt")


def test_float_class_targets_get_a_clear_error():
    runner = make_runner()
    loader = DataLoader(TensorDataset(torch.randn(8, 2), torch.tensor([0.0, 1, 2, 0, 1, 2, 0, 1])), batch_size=4)
    with pytest.raises(ValueError, match=r"targets.long\(\)"):
        runner.train(loader, num_epochs=1)
    with pytest.raises(ValueError, match=r"targets.long\(\)"):
        runner.evaluate(loader)


def test_output_shape_mismatch_gets_a_clear_error():
    model = nn.Linear(3, 1)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), device="cpu")
    loader = DataLoader(TensorDataset(torch.randn(8, 3), torch.randn(8)), batch_size=4)
    with pytest.raises(ValueError, match=r"outputs \(4, 1\) and targets \(4,\).*outputs.squeeze\(1\)"):
        runner.train(loader, num_epochs=1)


def test_batches_must_be_pairs():
    runner = make_runner()
    with pytest.raises(ValueError, match="TensorDataset"):
        runner.evaluate([torch.randn(4, 2)])


def test_bad_scheduler_interval():
    with pytest.raises(ValueError, match="scheduler_interval"):
        make_runner(scheduler_interval="batch")


def test_mixed_precision_and_channels_last_train_a_conv_net():
    # The code path a GPU uses (bf16 autocast, NHWC layout), exercised on the CPU.
    g = torch.Generator().manual_seed(0)
    y = torch.arange(256) % 2
    x = torch.randn(256, 3, 8, 8, generator=g) * 0.5 + (y.float() * 2 - 1).view(-1, 1, 1, 1)  # class = brightness
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 2))
    runner = Runner(model, torch.optim.Adam(model.parameters(), lr=0.01), nn.CrossEntropyLoss(),
                    metrics={"acc": accuracy}, device="cpu", amp=True, channels_last=True)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    seen = []
    model[0].register_forward_hook(lambda module, inputs, output: seen.append((inputs[0], output.dtype)))
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    history = runner.train(loader, loader, num_epochs=3, verbose=False)
    assert history["dev_acc"][-1] > 0.95 and history["train_loss"][-1] < history["train_loss"][0]
    outputs = runner.predict(x[:5])
    assert outputs.dtype == torch.float32 and outputs.shape == (5, 2)  # bf16 inside, float32 out
    first_input, conv_output_dtype = seen[0]
    assert conv_output_dtype == torch.bfloat16 and model[0].weight.dtype == torch.float32  # bf16 compute, fp32 weights
    assert first_input.is_contiguous(memory_format=torch.channels_last)


def test_mixed_precision_off_by_default_and_turned_off_where_unsupported():
    runner = Runner(nn.Linear(2, 1), None, nn.MSELoss(), device="cpu")
    assert not runner.amp and not runner.channels_last
    # e.g. chapter 7 asks for channels_last on every device; on a Mac (MPS) it must still run
    model = nn.Conv2d(3, 4, 3)
    with pytest.warns(UserWarning, match="used on CUDA and CPU devices only"):
        runner = Runner(model, None, nn.MSELoss(), device=torch.device("meta"), amp=True, channels_last=True)
    assert not runner.amp and not runner.channels_last
    assert model.weight.is_contiguous()  # the layout was left alone
    assert isinstance(runner._autocast(), contextlib.nullcontext)


def test_loss_module_goes_to_the_device_with_the_model():
    """Class weights of a loss stay on the CPU otherwise, and a GPU run fails in its first step."""
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))
    model = nn.Linear(2, 2)
    runner = Runner(model, None, loss_fn, device=torch.device("meta"))
    assert runner.loss_fn.weight.device.type == "meta"
    assert next(runner.model.parameters()).device.type == "meta"
