"""Turn parametrized layers (e.g. spectral normalisation) into plain layers once training is over."""

import torch
from torch.nn.utils import parametrize

__all__ = ["freeze_parametrizations"]


def freeze_parametrizations(module):
    """Replace every parametrized tensor of ``module`` by its current value, in place.

    :func:`torch.nn.utils.parametrizations.spectral_norm` registers a parametrization, and torch refuses to
    pickle parametrized modules ("Serialization of parametrized modules is only supported through
    state_dict()"), so a fitted detector holding a spectrally normalised critic could not be pickled. After
    training, the normalised weight ``W / sigma(W)`` is all a critic needs: this function evaluates every
    parametrization in eval mode (no power iteration, so the stored singular vectors are used as they are)
    and stores the result as an ordinary parameter. Outputs in eval mode are unchanged.

    Parameters
    ----------
    module : torch.nn.Module
        Any module; modules without parametrizations are left as they are.

    Returns
    -------
    module : torch.nn.Module
        The same module, in eval mode, without parametrizations.
    """
    module.eval()
    with torch.no_grad():
        for submodule in list(module.modules()):
            if parametrize.is_parametrized(submodule):
                for name in list(submodule.parametrizations.keys()):
                    parametrize.remove_parametrizations(submodule, name, leave_parametrized=True)
    return module
