"""The shared step machinery: frozen networks, optimizers, batched evaluation, the critic-feature L1 score,
the hyperparameters a net reads and the single-row batch rule."""

import importlib
import inspect
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from skanomaly import detectors
from skanomaly.base import DetectorNet, Hyperparameters
from skanomaly.nn import PairCritic, critic_feature_l1, frozen, make_optimizer, no_grad_batches


def test_frozen_turns_gradients_off_and_restores_every_flag():
    first, second = nn.Linear(3, 2), nn.Linear(2, 1)
    second.bias.requires_grad_(False)  # a flag that was already off stays off
    x = torch.randn(4, 3, requires_grad=True)
    with frozen(first, second):
        assert not any(p.requires_grad for p in [*first.parameters(), *second.parameters()])
        second(first(x)).sum().backward()
    assert x.grad is not None and first.weight.grad is None  # inputs still take gradients, parameters do not
    assert first.weight.requires_grad and first.bias.requires_grad and second.weight.requires_grad
    assert not second.bias.requires_grad


def test_frozen_restores_the_flags_when_the_block_raises():
    network = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="inside"):
        with frozen(network):
            raise RuntimeError("inside")
    assert all(p.requires_grad for p in network.parameters())


def test_make_optimizer_covers_the_networks_in_order_with_the_settings():
    encoder, decoder = nn.Linear(3, 2), nn.Linear(2, 3)
    adam = make_optimizer([encoder, decoder], "adam", lr=0.01, betas=(0.0, 0.9), weight_decay=0.1)
    assert isinstance(adam, torch.optim.Adam)
    assert adam.param_groups[0]["params"] == [*encoder.parameters(), *decoder.parameters()]
    assert adam.defaults["lr"] == 0.01 and adam.defaults["betas"] == (0.0, 0.9)
    assert adam.defaults["weight_decay"] == 0.1
    assert make_optimizer([encoder], lr=0.1).defaults["betas"] == (0.9, 0.999)  # torch's when not given
    sgd = make_optimizer([encoder], "sgd", lr=0.1, momentum=0.5, betas=(0.1, 0.2))  # betas mean nothing to SGD
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.5
    with pytest.raises(ValueError, match="rmsprop"):
        make_optimizer([encoder], "rmsprop", lr=0.1)


def test_a_net_makes_its_optimizers_from_the_detectors_settings():
    module = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    hp = Hyperparameters({"optimizer": "sgd", "lr": 0.3, "momentum": 0.7, "weight_decay": 0.01})
    net = DetectorNet(module, hp=hp)
    optimizer = net.make_optimizer(module[1], lr=0.05)
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["lr"] == 0.05 and optimizer.defaults["momentum"] == 0.7
    assert optimizer.param_groups[0]["params"] == list(module[1].parameters())
    net.initialize()  # the default: one optimizer of the whole module
    assert net.optimizer_.param_groups[0]["params"] == list(module.parameters())
    assert net.optimizer_.defaults["lr"] == 0.3 and net.optimizer_.defaults["weight_decay"] == 0.01


@pytest.mark.parametrize("batch_size", [1, 3, 10])
def test_no_grad_batches_cover_the_rows_in_float64_without_gradients(batch_size):
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    weight = torch.ones(2, 1, dtype=torch.float64, requires_grad=True)
    seen = []

    def fn(batch):
        seen.append((batch.dtype, torch.is_grad_enabled()))
        batch.mul_(0)  # a batch is a copy: the caller's rows stay as they are
        return (batch + 1) @ weight

    parts = list(no_grad_batches(fn, X, batch_size, device="cpu"))
    assert [rows for rows, _ in parts] == [slice(i, min(i + batch_size, 10)) for i in range(0, 10, batch_size)]
    assert all(values.dtype == np.float64 and values.shape == (rows.stop - rows.start, 1) for rows, values in parts)
    assert seen == [(torch.float64, False)] * len(parts)
    assert X[1, 1] == 3.0 and torch.is_grad_enabled()


def test_no_grad_batches_keep_the_input_type_when_asked():
    X = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    parts = list(no_grad_batches(lambda batch: batch.sum().reshape(1), X, 2, device="cpu", dtype=None))
    assert [float(values[0]) for _, values in parts] == [6.0, 9.0]


def test_critic_feature_l1_is_the_l1_distance_of_the_pair_features():
    torch.manual_seed(0)
    critic = PairCritic(3, hidden_layer_sizes=(5,), spectral_norm=False)
    x, x_other = torch.randn(4, 3), torch.randn(4, 3)
    expected = (critic.features(x, x) - critic.features(x, x_other)).abs().sum(dim=1)
    torch.testing.assert_close(critic_feature_l1(critic, x, x_other), expected)
    assert torch.equal(critic_feature_l1(critic, x, x), torch.zeros(4))


def test_hyperparameters_are_read_only_and_pickle():
    hp = Hyperparameters({"lr": 0.1, "betas": (0.5, 0.9)})
    assert hp.lr == hp["lr"] == 0.1 and dict(hp) == {"lr": 0.1, "betas": (0.5, 0.9)}
    with pytest.raises(AttributeError, match="read-only"):
        hp.lr = 1.0
    with pytest.raises(AttributeError, match="no hyperparameter 'momentum'"):
        hp.momentum
    changed = hp.replace(lr=0.2)
    assert changed.lr == 0.2 and hp.lr == 0.1
    with pytest.raises(KeyError, match="momentum"):
        hp.replace(momentum=0.9)
    assert pickle.loads(pickle.dumps(changed)) == changed


def test_a_fitted_net_reads_the_detectors_parameters_and_resolved_values():
    X = np.random.RandomState(0).normal(size=(40, 4))
    det = detectors.MirroredAEDetector(max_epochs=1, batch_size=16, critic_lr=None, lr=3e-3, random_state=0).fit(X)
    hp = det.net_.hp
    assert hp.latent_dim == det.latent_dim_ == 2 and hp.latent_radius == pytest.approx(2**0.5)
    assert hp.critic_lr == 3e-3 and hp.lambda_gp == det.lambda_gp
    assert not {"batch_size", "contamination", "device", "random_state", "score_batch_size", "verbose"} & set(hp)


def _net_classes():
    for name in detectors.__all__:
        module = importlib.import_module(getattr(detectors, name).__module__)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DetectorNet) and cls is not DetectorNet and cls.__module__ == module.__name__:
                yield cls


# Arguments of a net that are data or plumbing, not hyperparameters: they may have defaults.
_NOT_HYPERPARAMETERS = {"negatives", "reference_data", "data_radius"}


@pytest.mark.parametrize("net_class", sorted(set(_net_classes()), key=lambda cls: cls.__qualname__),
                         ids=lambda cls: cls.__qualname__)
def test_net_classes_declare_no_hyperparameter_defaults(net_class):
    for cls in net_class.__mro__:
        if cls is DetectorNet:
            break
        if "__init__" not in vars(cls):
            continue
        parameters = inspect.signature(cls.__init__).parameters
        assert parameters["hp"].default is inspect.Parameter.empty
        defaults = {name for name, p in parameters.items()
                    if p.default is not inspect.Parameter.empty and p.kind is p.KEYWORD_ONLY}
        assert defaults <= _NOT_HYPERPARAMETERS, (cls.__qualname__, defaults - _NOT_HYPERPARAMETERS)


class _SingleRowNet(DetectorNet):
    drop_single_row_batch = True


@pytest.mark.parametrize(
    "net_class, batch_norm, n_rows, sizes",
    [
        (DetectorNet, False, 9, [4, 4, 1]),  # no BatchNorm: a last batch of one row is trained on
        (DetectorNet, True, 9, [4, 4]),  # BatchNorm cannot normalise one row in training mode
        (DetectorNet, True, 10, [4, 4, 2]),  # only a single row is dropped
        (_SingleRowNet, False, 9, [4, 4]),  # a net that needs two rows whatever its layers
    ],
)
def test_a_last_batch_of_one_row_is_dropped_by_one_rule(net_class, batch_norm, n_rows, sizes):
    layers = [nn.Linear(2, 2)] + ([nn.BatchNorm1d(2)] if batch_norm else [])
    net = net_class(nn.Sequential(*layers), hp=Hyperparameters({"lr": 0.1}), batch_size=4).initialize()
    X = np.zeros((n_rows, 2), dtype=np.float32)
    batches = list(net.get_iterator(net.get_dataset(X), training=True))
    assert [len(Xb) for Xb, _ in batches] == sizes
    assert sum(len(Xb) for Xb, _ in net.get_iterator(net.get_dataset(X), training=False)) == n_rows
