"""The original network's accuracy in a training record is the teacher's own, measured in
eval mode on the run's test split: equal to an independent evaluation of the teacher
checkpoint, well above chance on the smoke recipe's data (where one epoch of teacher
training used to leave it at chance, below every subnet), and a chance-level teacher is
named in a warning."""

import torch

from tests.train.conftest import SMOKE
from testbed.checkpoint import load_checkpoint
from testbed.cli import main
from testbed.commands.train import weak_teacher
from testbed.data import Split
from testbed.train.common import evaluate
from testbed.train.recipe import load_recipe
from testbed.train.runner import _splits
from testbed.train.teacher import get_teacher


def _independent_accuracy(path, test: Split) -> float:
    model, _ = load_checkpoint(path)
    model.eval()
    with torch.no_grad():
        x = (test.images.float() / 255 - torch.tensor(test.info.mean).view(1, -1, 1, 1)) \
            / torch.tensor(test.info.std).view(1, -1, 1, 1)
        return int((model(x).argmax(1) == test.labels).sum()) / len(test.labels)


def test_recorded_original_accuracy_is_the_teachers_real_accuracy(smoke_reference):
    summary, tmp, _ = smoke_reference
    _, test = _splits(load_recipe(SMOKE), None)
    teacher, _ = load_checkpoint(tmp / "run" / "teacher.pt")
    acc = evaluate(teacher, lambda x: [teacher(x)], test, torch.device("cpu"))[0]
    _, meta = load_checkpoint(tmp / "run" / "model.pt")
    assert summary["original_accuracy"] == meta["original_accuracy"] == acc
    # one forward pass of the whole split, outside the trainer's code: the same answers up
    # to a near tie that batching could flip
    alone = _independent_accuracy(tmp / "run" / "teacher.pt", test)
    assert abs(alone - acc) <= 1 / len(test.labels)
    classes = summary["num_classes"]
    assert classes == 10 and acc > 3 / classes, "the smoke teacher did not learn"
    assert weak_teacher(summary) is None


def test_a_cached_teacher_is_measured_on_this_runs_test_split(smoke_reference):
    _, tmp, _ = smoke_reference
    recipe = load_recipe(SMOKE)
    train, test = _splits(recipe, None)
    half = Split(test.name, test.split, test.images[::2][:40], test.labels[::2][:40], test.classes)
    teacher = get_teacher(recipe, train, half, torch.device("cpu"), tmp / "teachers", False)
    assert teacher.path.parent == tmp / "teachers"  # the cached one, not retrained
    assert not teacher.model.training
    assert teacher.accuracy == evaluate(teacher.model, lambda x: [teacher.model(x)], half,
                                        torch.device("cpu"))[0]
    assert abs(teacher.accuracy - _independent_accuracy(teacher.path, half)) <= 1 / 40


def test_a_chance_level_original_network_is_warned_about(tmp_path, capsys, monkeypatch):
    import testbed.train.runner as runner
    summary = {"original_macs": 1000, "original_accuracy": 0.0859, "num_classes": 10,
               "subnets": [{"index": k, "macs_pct": 10.0 * k, "macs_dense_pct": 10.0 * k,
                            "accuracy": 0.2 * k} for k in (1, 2)]}
    monkeypatch.setattr(runner, "run_training", lambda *a, **k: summary)
    assert main(["train", str(SMOKE), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "original: 1,000 MACs, accuracy 0.0859" in captured.out
    assert "warning: the original network scored 0.0859, about chance (0.1000)" in captured.err
    assert "teacher.epochs" in captured.err
    assert weak_teacher({"original_accuracy": 0.01}) is None  # an older record: no guess


def test_runs_needing_the_same_teacher_at_once_train_it_once(tmp_path, monkeypatch):
    """Two runs started side by side: the second waits on the cache's lock while the
    first trains the teacher, then loads it instead of training it again."""
    import threading

    import testbed.train.teacher as teacher
    recipe = load_recipe(SMOKE)
    train, test = _splits(recipe, None)
    trained, gate = [], threading.Event()
    real = teacher._train

    def slow_train(*args, **kwargs):
        trained.append(threading.current_thread().name)
        gate.wait(10)                              # hold the lock until the other is waiting
        return real(*args, **kwargs)

    monkeypatch.setattr(teacher, "_train", slow_train)
    results = {}

    def run(name):
        results[name] = get_teacher(recipe, train, test, "cpu", tmp_path, False).path

    first = threading.Thread(target=run, args=("first",), name="first")
    first.start()
    while not trained:
        first.join(0.01)
    second = threading.Thread(target=run, args=("second",), name="second")
    second.start()
    second.join(0.5)
    assert second.is_alive()                       # blocked on the lock, not training
    gate.set()
    first.join(60), second.join(60)
    assert trained == ["first"] and results["first"] == results["second"]
