"""Fully connected networks for tabular rows."""

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from .layers import make_activation

__all__ = ["MLP"]


class MLP(nn.Sequential):
    """A multilayer perceptron ``in_features -> hidden_sizes... -> out_features``.

    Parameters
    ----------
    in_features : int
        Width of the input.
    hidden_sizes : sequence of int
        Widths of the hidden layers, in order. Empty for a single linear map.
    out_features : int
        Width of the output.
    activation : str, default="leaky_relu"
        Activation after every hidden layer (see :func:`~skanomaly.nn.make_activation`).
    out_activation : str or None, default=None
        Activation applied to the output (``None``: linear output).
    batch_norm : bool, default=False
        Insert :class:`~torch.nn.BatchNorm1d` after each hidden linear layer. Never use it in a critic: batch
        statistics make a critic's output depend on the other rows of the batch.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    spectral_norm : bool, default=False
        Wrap every linear layer in spectral normalisation (Miyato et al., 2018), a Lipschitz control for critics.
    """

    def __init__(
        self,
        in_features,
        hidden_sizes,
        out_features,
        *,
        activation="leaky_relu",
        out_activation=None,
        batch_norm=False,
        dropout=0.0,
        spectral_norm=False,
    ):
        sizes = [int(in_features), *[int(h) for h in hidden_sizes]]
        wrap = _spectral_norm if spectral_norm else (lambda layer: layer)
        layers = []
        for width_in, width_out in zip(sizes[:-1], sizes[1:]):
            layers.append(wrap(nn.Linear(width_in, width_out)))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width_out))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(wrap(nn.Linear(sizes[-1], int(out_features))))
        if out_activation is not None:
            layers.append(make_activation(out_activation))
        super().__init__(*layers)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self._n_trunk = len(layers) - (2 if out_activation is not None else 1)

    def features(self, x):
        """Return the activations that feed the last linear layer (a critic's penultimate features).

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, in_features)

        Returns
        -------
        features : torch.Tensor of shape (n_samples, hidden_sizes[-1])
        """
        for layer in list(self)[: self._n_trunk]:
            x = layer(x)
        return x
